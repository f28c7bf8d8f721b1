void den(void)
{
    marker_a();
    one();
    two();
}
