int e2(int c)
{
    int h;
    h = acquire();
    if (c) {
        drop(h);
        return 1;
    }
    drop(h);
    return 0;
}
