void b2(void)
{
    modern_mode();
    old_call();
}
