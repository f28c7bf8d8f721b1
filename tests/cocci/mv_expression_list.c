void p(int a, int b)
{
    old_printf("a=%d b=%d\n", a, b);
    old_printf("none\n");
    old_printf();
}
