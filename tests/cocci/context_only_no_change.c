void g4(char *p)
{
    g_free(p);
}
