struct dev;
void h(void)
{
    struct dev *d = g_malloc(sizeof(struct dev));
    int *i = g_malloc(sizeof(int));
    char *c = g_malloc(sizeof(*i) + 4);
    use(d, i, c);
}
