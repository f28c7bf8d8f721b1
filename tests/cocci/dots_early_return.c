int e3(int m, int c)
{
    lock(m);
    if (c) {
        unlock(m);
        return -1;
    }
    work();
    unlock(m);
    return 0;
}
