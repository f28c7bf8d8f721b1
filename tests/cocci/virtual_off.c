void v2(void)
{
    old();
}
