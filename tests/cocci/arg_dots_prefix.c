void a2(int a, int b)
{
    send(a, b, 0);
    send(b, 0);
    send(a, b, 1);
}
