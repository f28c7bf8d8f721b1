void z3(int a)
{
    while (a--) {
        if (a & 1) {
            do_both(a);
        }
    }
}
