void sc1(int a)
{
    legacy_read(a);
    legacy_write(a, 1);
    other(a);
}
