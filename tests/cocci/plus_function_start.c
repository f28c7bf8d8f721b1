static int probe(int id)
{
    int r = id;

    setup_hw();
    return r;
}

static void idle(void)
{
    wait();
}
