#define SCALE 1000
#define MIN_NS (20 * SCALE)
void cm(int x, int y)
{
    mul(x * 2, y);
    mul(2 * x, y);
    add(x + 1, y);
    add(1 + x, y);
}
