int f1(int x, int y)
{
    int ret;

    while (x) {
        if (y) {
            ret = 5;
            return ret;
        }
    }
    return 0;
}
int f2(int x, int y)
{
    int ret;

    if (y) {
        ret = 5;
        return ret;
    }
    return 0;
}
int f3(int x, int y)
{
    int ret;

    if (y) {
        ret = 5;
        return ret;
    }
    work();
}
int f4(int x, int y)
{
    int ret;

    if (y) {
        ret = 5;
        return ret;
    }
    ret = 6;
    return ret;
}
