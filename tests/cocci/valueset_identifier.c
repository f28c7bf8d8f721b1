void v(int n)
{
    void *a = g_malloc(n);
    void *b = g_malloc0(n * 2);
    void *c = g_realloc(a, n);
    use(a, b, c);
}
