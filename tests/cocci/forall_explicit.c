void fe(int c)
{
    int t;
    t = begin_tx();
    if (c) {
        end_tx(t);
    } else {
        log_it();
        end_tx(t);
    }
}
