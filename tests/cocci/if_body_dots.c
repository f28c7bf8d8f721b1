int f8(int v)
{
    if (v < 0) {
        report(v);
        return -1;
    }
    if (v > 9) {
        return -1;
    }
    return 0;
}
