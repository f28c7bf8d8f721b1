int r(char *name, int n, char buf[16])
{
    char *tmp = name;
    int a = strlen(name);
    int b = strlen(tmp);
    int c = strlen(n);
    return a + b + c;
}
