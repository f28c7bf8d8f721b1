void g8(void)
{
    int unused = 0;
    int used = 0;
    use(used);
}
