void f9(int n)
{
    int i, j;
    for (i = 0; i < n; i++) {
        work(i);
    }
    for (j = n; j > 0; j--) {
        work(j);
    }
}
