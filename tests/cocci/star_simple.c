void s1(char *p)
{
    g_free(p);
    free(p);
    g_free(p + 1);
}
