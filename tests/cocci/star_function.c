void h4(int a, Error **errp)
{
    work(a);
}

void h5(int a)
{
    work(a);
}
