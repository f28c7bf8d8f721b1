struct v { int val; };
int pp(int a, int b, struct v **p, int c)
{
    int r = twice(a + b) + twice(a * b) + twice(-a) + twice(c ? a : b);
    r += less(a, b - c) + less(a - b, c) + less(a, b + c);
    r += deref(*p) + deref(p[0]) + negate(a - b) + negate(a);
    return r;
}
