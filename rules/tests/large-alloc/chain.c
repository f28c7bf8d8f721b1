#include "qemu/osdep.h"
#include "qapi/error.h"

/* `a = p = alloc(...);`: p is allocated and checked on its own, and a is
 * assigned only once p is known good, so a failure leaves a as it was.
 * Chains allocfix cannot split safely are only reported. */
static int foo_init_table(FooState *s, size_t n)
{
    uint32_t *t;

    if (n > FOO_MAX_ENTRIES) {
        return -EINVAL;
    }
    s->table = t = g_new0(uint32_t, n);
    foo_fill(t, n);
    return 0;
}

static int foo_read_block(FooState *s, FooReq *req, Error **errp)
{
    uint8_t *buf;

    if (!s->blk) {
        error_setg(errp, "no backend");
        return -ENODEV;
    }
    req->iov.iov_base = buf = blk_blockalign(s->blk,
                                             req->iov.iov_len);
    foo_fill(buf, req->iov.iov_len);
    return 0;
}

static int foo_get_config(FooState *s, void **p_data, size_t size)
{
    uint8_t *data;

    if (size > FOO_CONFIG_MAX) {
        return -EINVAL;
    }
    *p_data = data = g_malloc(size);
    foo_copy_config(s, data, size);
    return size;
}

static int foo_alloc_entries(FooState *s, size_t nr_entries)
{
    FooEntry *ents;

    if (nr_entries > FOO_MAX_ENTRIES) {
        return -EINVAL;
    }
    s->ents = ents = g_malloc0_n(nr_entries,
                                 sizeof(FooEntry) + s->entry_extra_bytes_max);
    foo_init_entries(ents, nr_entries);
    return 0;
}

static int foo_link_node(FooNode *node, size_t size)
{
    if (size > FOO_NODE_MAX) {
        return -EINVAL;
    }
    node->next->buf = node->next = g_malloc0(size);
    return 0;
}

static int foo_queue_grow(FooQueue *q, size_t n)
{
    uint8_t *a;

    if (n > FOO_QUEUE_MAX) {
        return -EINVAL;
    }
    q->items = a = g_realloc(q->items, n);
    return 0;
}
