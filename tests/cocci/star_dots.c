void s2(int n)
{
    char *p = NULL;
    p = g_malloc(n);
    use(p);
    g_free(p);
}
