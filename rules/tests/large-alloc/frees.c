#include "qemu/osdep.h"
#include "qapi/error.h"

/* Allocations still owned here are freed in reverse order, aligned ones
 * with qemu_vfree; automatic, freed and handed-off ones are left alone. */
static int foo_load_tables(FooState *s, size_t len, Error **errp)
{
    g_autofree char *name = g_strdup_printf("%s-tables", s->id);
    uint8_t *header = g_malloc(len);
    uint8_t *scratch;
    uint8_t *aligned;
    uint8_t *old;
    uint32_t *index;

    if (foo_read_header(s, header, len) < 0) {
        g_free(header);
        error_setg(errp, "Cannot read %s", name);
        return -EIO;
    }
    aligned = qemu_memalign(FOO_ALIGN, len);
    scratch = g_malloc(len);
    old = g_malloc(len);
    g_free(old);
    s->scratch = scratch;
    index = g_new(uint32_t, s->nr_entries);
    foo_fill_index(s, index, aligned);
    g_free(index);
    qemu_vfree(aligned);
    g_free(header);
    return 0;
}

/* Passed to something that may keep it: not sure who frees it (stub). */
static int foo_queue_pair(FooState *s, size_t len)
{
    uint8_t *first = g_malloc(len);
    uint8_t *second;

    if (!s->queue) {
        g_free(first);
        return -EINVAL;
    }
    foo_queue_add(s->queue, first);
    second = g_malloc(len);
    foo_queue_add(s->queue, second);
    return 0;
}
