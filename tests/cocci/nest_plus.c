void n2(int a)
{
    if (a) {
        risky();
    }
}

void n3(void)
{
    safe();
}
