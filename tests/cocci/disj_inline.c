int d2(char *a, char *b)
{
    if (a == NULL)
        return 1;
    return NULL == b || a == b;
}
