void z(int n)
{
    start_op(n);
    if (n) {
        start_op(n + 1);
    }
}
