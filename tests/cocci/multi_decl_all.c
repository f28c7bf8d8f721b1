void reset_counters(void)
{
    int hits, misses;
    long total, *slot, spare;
    char tag;

    tag = 0;
    use(tag);
}
