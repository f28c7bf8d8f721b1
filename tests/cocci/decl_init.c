void f6(int n)
{
    char *buf = g_malloc0(n);
    int k = 3;
    use(buf, k);
}
