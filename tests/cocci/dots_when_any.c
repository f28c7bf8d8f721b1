void e5(int x)
{
    start(x);
    stop(x);
    stop(x);
}
