void h3(void)
{
    mark(1);
    mark(2);
}
