void f7(int a, int b, int c)
{
    swap_args(a, b);
    if (c) swap_args(b, c);
    return swap_args(a, b) + swap_args(c, a);
}
