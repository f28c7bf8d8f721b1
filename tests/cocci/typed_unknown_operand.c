#define MIN_NS (20 * UNKNOWN)
#define OTHER UNKNOWN2
void ty(int x, long y)
{
    md(MIN_NS, x);
    md(OTHER, x);
    md(x * UNKNOWN3, x);
    md(y * 2, x);
}
