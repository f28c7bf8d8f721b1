void g7(int a)
{
    int r = outer(inner(a)) + outer(a);
    outer(inner(outer(inner(a))));
    use(r);
}
