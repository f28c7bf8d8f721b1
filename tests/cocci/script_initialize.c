void sc3(void)
{
    old_a(1);
    old_b();
    old_c();
}
