void q(int level)
{
    int count;
    count = compute(level);
    use(count);
}
