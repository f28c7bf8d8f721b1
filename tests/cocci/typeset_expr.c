typedef unsigned long long uint64_t;
void ts(uint64_t x, long y, int z)
{
    widen(x, 1);
    widen(y, 2);
    widen(z, 3);
}
