typedef struct Known Known;
void f(void)
{
    a = g_malloc(sizeof(foo_t));
    b = g_malloc(sizeof(Unknown));
    c = g_malloc(sizeof(Known));
    d = g_malloc(sizeof(uint32_t));
    e = g_malloc(sizeof(struct S));
    g = g_malloc(sizeof(int));
    Unknown *u = g_malloc(sizeof(Unknown));
}
