void g2(int c)
{
    int x;
    x = obtain();
    if (c) {
        forget(x);
        return;
    }
    forget(x);
}
