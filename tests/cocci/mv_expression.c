int f(int *p, int n)
{
    int a = old_size(n);
    int b = old_size(p[n] + 1) * old_size(a);
    return a + b;
}
