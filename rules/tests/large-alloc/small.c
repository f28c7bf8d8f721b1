#include "qemu/osdep.h"

static void foo_init_regs(FooState *s)
{
    s->regs = g_new0(uint32_t, 16);
    s->name = g_malloc(64);
    s->scratch = g_malloc0(sizeof(uint64_t) * 8);
}
