void f(char *p)
{
    if (!p) return;
}
