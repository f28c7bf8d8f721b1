static int pick_rate(Link *l)
{
    int rate;
    int base;

    if (!l)
        return 0;
    else
        base = l->speed;

    rate = base * 2;
    return rate;
}

static int pick_width(Link *l)
{
    int width;
    int lanes;

    if (l->wide) {
        lanes = 4;
    } else if (l->narrow) {
        lanes = 1;
    } else {
        return 0;
    }

    width = lanes * 8;
    return width;
}

static int pick_mode(Link *l)
{
    int mode;
    int bits = 0;

    if (!l->up) {
        return -1;
    } else if (l->test) {
        return 1;
    }

    mode = bits | 2;
    return mode;
}
