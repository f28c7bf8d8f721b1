static int probe_width(int base)
{
    int i, width;

    width = scale(base) + 4;
    return width;
}

static int probe_height(int base)
{
    int height, pad = 2;

    height = scale(base) * pad;
    return height;
}

static int probe_depth(int base)
{
    int depth;
    int first, mid, last;

    depth = scale(base);
    return depth;
}
