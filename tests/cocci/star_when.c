int g3(int n)
{
    char *p;
    p = g_malloc(n);
    if (n > 10) {
        return -1;
    }
    g_free(p);
    return 0;
}
