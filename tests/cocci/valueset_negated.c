void x3(void)
{
    keep_me();
    drop_me();
    also_keep();
    drop_too();
}
