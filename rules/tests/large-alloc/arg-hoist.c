#include "qemu/osdep.h"

/* An allocation handed straight to a call is hoisted into a temporary. */
static int foo_post_rx(FooState *s, size_t len)
{
    if (len > s->mtu) {
        return -EINVAL;
    }
    foo_ring_push(s->rx_ring, g_malloc0(len), len);
    return 0;
}

/* Another argument has side effects: order matters, report. */
static int foo_post_tx(FooState *s, size_t len)
{
    if (len > s->mtu) {
        return -EINVAL;
    }
    foo_ring_push(s->tx_ring, g_malloc(len), foo_next_id(s));
    return 0;
}
