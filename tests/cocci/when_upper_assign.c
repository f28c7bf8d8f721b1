void wu(int c)
{
    int *p;
    int *q;
    p = make();
    work(p);
    finish(p);
    q = make();
    q = NULL;
    finish(q);
}
