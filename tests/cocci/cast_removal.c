void f2(int n)
{
    char *a = (char *)g_malloc(n);
    int *b = (int *) g_malloc(n * 4);
    void *c = g_malloc(n);
    use(a, b, c);
}
