struct s { int a; };
void d4(struct s *p, struct s *q)
{
    p = g_malloc(sizeof(*p));
    q = g_malloc0(sizeof(*q));
    p = g_realloc(sizeof(*p));
}
