int gcount;
void li(int a)
{
    int b = a;
    b = b * 2;
    gcount = gcount * 2;
    use(b);
}
