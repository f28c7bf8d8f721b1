static void setup_a(int x, char *name)
{
    prepare(x);
    legacy_init();
    finish(name);
}

static int setup_b(void)
{
    legacy_init();
    return 0;
}
