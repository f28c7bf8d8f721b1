int if0(int x, int y)
{
    int r;
#if 0
    r = muldiv(x, 1, y);
#else
    r = muldiv(x, 1, y + 1);
#endif
    return r + muldiv(y, 1, x);
}
