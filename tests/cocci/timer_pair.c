void tp(void *s)
{
    timer_del(s);
    timer_free(s);
    timer_del(s);
    other(s);
}
