void mb(int v)
{
    work(v);
    if (v > 3) {
        debug_dump(v > 3);
    }
    if (v) {
        debug_dump(v);
    }
    done(v);
}
