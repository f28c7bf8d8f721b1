void d3(int a)
{
    check(a, 0);
    check(a, 1);
    check(a, 1, 2);
}
