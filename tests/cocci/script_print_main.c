void pm(int n)
{
    char *a = legacy_alloc(n);
    use(a);
}
