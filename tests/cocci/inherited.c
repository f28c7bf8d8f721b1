void c1(int n)
{
    char *a, *b;
    a = g_malloc(n);
    b = malloc(n);
    free(a);
    free(b);
}
