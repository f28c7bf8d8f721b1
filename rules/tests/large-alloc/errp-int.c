#include "qemu/osdep.h"
#include "qapi/error.h"

int foo_resize_table(FooState *s, uint32_t entries, Error **errp)
{
    if (entries > s->max_entries) {
        error_setg(errp, "Too many entries: %u", entries);
        return -EINVAL;
    }
    s->table = g_new0(FooEntry, entries);
    s->nr_entries = entries;
    return 0;
}
