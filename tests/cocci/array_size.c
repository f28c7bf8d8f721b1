static int tbl[8];
int f3(void)
{
    int n = sizeof(tbl) / sizeof(tbl[0]);
    return n + sizeof(tbl) / sizeof(int);
}
