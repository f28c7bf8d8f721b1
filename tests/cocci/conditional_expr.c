int g9(int a, int b)
{
    return (a ? a : b) + (a ? b : a);
}
