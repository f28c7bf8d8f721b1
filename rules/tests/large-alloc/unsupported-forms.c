#include "qemu/osdep.h"

static int foo_queue(FooState *s, size_t len)
{
    /* The target has side effects: it cannot be evaluated twice. */
    s->bufs[s->head++] = g_malloc(len);
    /* Not stored anywhere allocfix can check. */
    foo_submit(s, g_malloc0(len));
    s->len += len;
    return 0;
}
