#include "qemu/osdep.h"

static void foo_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    FooState *s = opaque;

    switch (addr) {
    case FOO_REG_FIFO_SIZE:
        g_free(s->fifo);
        s->fifo = g_malloc0(val);
        s->fifo_size = val;
        break;
    default:
        break;
    }
}
