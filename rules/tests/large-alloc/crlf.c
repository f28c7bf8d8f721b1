#include "qemu/osdep.h"

static int foo_copy(FooState *s)
{
    s->copy = g_malloc(s->len);
    return 0;
}
