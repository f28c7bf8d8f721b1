int n1(int a)
{
    if (a) {
        return old_api(a);
    }
    while (a--) {
        old_api(a + 1);
    }
    return 0;
}
