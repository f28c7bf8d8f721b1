int i1(int n)
{
    char *p;
    if (n > 0) {
        p = g_malloc(n);
        use(p);
    }
    return 0;
}
