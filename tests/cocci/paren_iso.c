int pi(int n, int sz)
{
    int a = (n + sz - 1) / sz;
    int b = ((n) + sz - 1) / (sz);
    return a + b;
}
