void k(int lvl)
{
    set_level(3);
    set_level(lvl);
    set_level(0x10);
    set_level("x");
}
