void d1(void *m)
{
    legacy_lock(m);
    work();
    legacy_unlock(m);
}
