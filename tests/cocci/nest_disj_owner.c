static void board_init(Device *dev, int flags)
{
    int n = flags;
    Object *owner = OBJECT(dev);

    region_init(&s->a, NULL, "a");
    if (n) {
        region_init_io(&s->b, NULL, &ops, s);
    }
    region_init(&s->c, owner, "c");
}

static void other_init(Device *dev)
{
    region_init(&s->a, NULL, "a");
}
