int pb(int a, int b)
{
    int r = shl(a & b);
    return r + shl(a + b);
}
