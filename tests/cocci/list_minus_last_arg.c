void l2(int x)
{
    configure2(x, NULL);
    configure2(x);
}
