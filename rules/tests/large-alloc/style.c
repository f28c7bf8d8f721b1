#include "qemu/osdep.h"
#include "qapi/error.h"

/* Long lines wrap at 80 columns with aligned continuations; comments
 * beside a rewritten line stay. */
static int foo_configure_rings(FooControllerState *s, Error **errp)
{
    if (s->nr_rings == 0) {
        return -EINVAL;
    }
    if (s->has_shadow_rings) {
        s->shadow_descriptor_ring_caches = g_malloc0(n); /* guest */
    }
    return 0;
}
