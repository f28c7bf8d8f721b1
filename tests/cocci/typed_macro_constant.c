#define SCALE 1000
#define MIN_NS (20 * SCALE)
#define NAME "x"
void ty(int x, long y)
{
    md(MIN_NS, x);
    md(SCALE, x);
    md(NAME, x);
    md(x + 1, y);
    md(y + 1, y);
}
