void w(void)
{
    int a;
    long b;
    char c;
    use(a, b, c);
}
