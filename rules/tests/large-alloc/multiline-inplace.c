#include "qemu/osdep.h"

/* Statements over several lines that cannot be restated whole are renamed
 * where they stand: continuation lines aligned with the call's '(' move
 * with it, and the check follows the whole statement at its first line's
 * indentation (after the plain declarations that follow a declaration).
 * Where the renamed lines would pass 80 columns, or a later declaration
 * reads the pointer before the check, the site is only reported. */
static int foo_ring_grow(FooRing *ring, size_t add)
{
    size_t nr = ring->nr_slots + add;

    if (add > FOO_RING_MAX_GROW) {
        return -EINVAL;
    }
    ring->slots = g_realloc(ring->slots,
                            nr * sizeof(FooSlot));
    ring->descs = g_renew(FooDesc,
                          ring->descs, nr);
    ring->nr_slots = nr;
    return 0;
}

static int foo_send_table(FooState *s, uint32_t nr_entries)
{
    g_autofree FooMessage *msg = g_malloc0(sizeof(FooMessage) +
                                           nr_entries * sizeof(FooStatusEntry));
    uint32_t i;

    if (!s->connected) {
        return -ENOTCONN;
    }
    for (i = 0; i < nr_entries; i++) {
        foo_msg_put_entry(msg, i, &s->table[i]);
    }
    return foo_send(s, msg);
}

static int foo_send_status(FooState *s, uint32_t nr_entries)
{
    g_autofree FooMessage *msg = g_malloc0(sizeof(FooMessage) +
                                           sizeof(uint32_t) * nr_entries);
    uint32_t i;

    if (!s->connected) {
        return -ENOTCONN;
    }
    for (i = 0; i < nr_entries; i++) {
        foo_msg_put(msg, i, s->status[i]);
    }
    return foo_send(s, msg);
}

static int foo_send_caps(FooState *s, uint32_t nr_caps)
{
    g_autofree FooMessage *msg = g_malloc0(sizeof(FooMessage) +
                                           sizeof(uint32_t) * nr_caps);
    FooCaps *caps = (void *)msg->data;

    if (!s->connected) {
        return -ENOTCONN;
    }
    caps->nr = nr_caps;
    return foo_send(s, msg);
}
