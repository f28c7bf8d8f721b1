void x1(void)
{
    qemu_reset(NULL);
    other_reset(NULL);
    qemu_flush(NULL);
}
