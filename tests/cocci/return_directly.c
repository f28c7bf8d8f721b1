int f4(int a)
{
    int r;
    r = a * 2;
    return r;
}

int f5(int a)
{
    int r;
    r = a * 2;
    use(r);
    return r;
}
