void v1(void)
{
    old();
}
