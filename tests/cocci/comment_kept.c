void g5(void)
{
    /* before */
    old_fn(); /* trailing note */
    // after
}
