struct s { int n; };
void inc(struct s *st, int k)
{
    k = k + 1;
    st->n = st->n + 1;
    k = k + 2;
}
