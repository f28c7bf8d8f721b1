void b1(void)
{
    legacy_mode();
    old_call();
}
