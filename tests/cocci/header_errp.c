static void realize(int dev, Error **errp)
{
    if (dev < 0) {
        abort();
    }
}

static void other(int dev)
{
    if (dev < 0) {
        abort();
    }
}
