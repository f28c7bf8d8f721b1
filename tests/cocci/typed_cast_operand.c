typedef unsigned long long uint64_t;
void tc(int t, int s)
{
    md((t + (uint64_t) s) * (s + 1), t);
    md((t + 1) * (s + 1), t);
}
