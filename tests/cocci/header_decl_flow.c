static int scale(int a)
{
    int result;

    a = a * 2;
    result = a + 1;
    return result;
}

static int keep(int a)
{
    int result;

    result = a + 1;
    log_value(result);
    return result;
}
