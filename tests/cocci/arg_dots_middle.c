void a1(int x)
{
    log_msg(x);
}
