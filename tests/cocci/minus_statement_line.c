int y(int a)
{
    debug_trace("enter");
    a = a * 2;
    if (a > 4) {
        debug_trace("big %d", a);
        return a;
    }
    debug_trace("leave"); /* done */
    return 0;
}
