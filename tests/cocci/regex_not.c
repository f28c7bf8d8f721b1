void x2(int a)
{
    test_call(a, -1);
    real_call(a, -1);
}
