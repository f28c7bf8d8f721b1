typedef struct Entry { int k; } Entry;
void st(int n)
{
    Entry e;
    Entry *a = g_malloc0(sizeof(Entry) * n);
    Entry *b = g_malloc0(sizeof(e) * (n + 1));
    char *c = g_malloc0(sizeof(struct Entry) * (n));
    use(a, b, c, e);
}
