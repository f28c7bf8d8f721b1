void e4(void)
{
    int a, b;
    a = alloc();
    use(a);
    release(a);
    b = alloc();
    other(b);
    release(b);
}
