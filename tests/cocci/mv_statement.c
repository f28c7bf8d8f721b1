int m(char *p, char *q)
{
    if (p == NULL)
        return -1;
    if (q == NULL) {
        log_err("q");
        return -2;
    }
    if (p == q)
        return 0;
    return 1;
}
