void sc2(int a)
{
    do_read(a);
    skip_read(a);
}
