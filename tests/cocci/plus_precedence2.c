int pp(int a, int b, int c)
{
    int r = twice(a / b) + twice(a % b) + twice(a << b);
    r += less(a + b, c) + less(a * b, c) + less(a - b, c);
    r += plus1(a + b) + plus1(a - b) + plus1(a * b);
    return r;
}
