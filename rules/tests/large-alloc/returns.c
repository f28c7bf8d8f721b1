#include "qemu/osdep.h"

static bool foo_alloc_rings(FooState *s, Error **errp)
{
    s->rings = g_new(FooRing, s->nr_rings);
    return true;
}

FooSnapshot *qmp_x_foo_snapshot(uint64_t size, Error **errp)
{
    FooSnapshot *snap = g_malloc0(size);

    foo_snapshot_fill(snap, size);
    return snap;
}

static int foo_legacy_load(FooState *s)
{
    if (!s->enabled) {
        return -1;
    }
    s->data = g_malloc(s->data_size);
    return 0;
}
