void z2(int *s)
{
    if (s) {
        touch(s);
    }
    touch(s + 1);
}
