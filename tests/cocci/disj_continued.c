void dc(int a, int b)
{
    shift_right32(a, b, 4);
    shift_right64(a, b + 1, 4);
    shift_right64(a, b, 5);
}
