int g1(int c)
{
    int r;
    r = get_ref();
    if (c) {
        goto out;
    }
    work(r);
out:
    put_ref(r);
    return 0;
}
