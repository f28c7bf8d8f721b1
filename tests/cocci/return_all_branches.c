static unsigned cfg_read(int addr, int len)
{
    unsigned data;

    trace_read(addr, len);

    if (addr == 1 && len == 2) {
        data = (len ? 0 : 4) |
               addr;
        return data;
    } else if (addr == 2) {
        data = len;
        return data;
    } else {
        return default_read(addr, len);
    }
}

static unsigned cfg_read2(int addr, int len)
{
    unsigned data;

    if (addr == 1) {
        data = len;
        return data;
    }
    data = addr;
    return data;
}
