void h1(int a)
{
    if (a) {
        one();
    }
    if (a > 1) {
        one();
        two();
    }
}
