void l1(int x, int y)
{
    configure(x, 0, y);
    configure(x, 1, y);
}
