static unsigned long span_pages(unsigned long start, unsigned long psz)
{
    unsigned long n = ((start) + (psz) - 1) / (psz);
    unsigned long m = ((start) + psz - 1) / (psz);

    return n + m;
}
