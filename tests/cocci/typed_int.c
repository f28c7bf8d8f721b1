long u(int a, long b)
{
    return abs(a) + abs(b);
}
