#include "qemu/osdep.h"
#include "qapi/error.h"

/* g_memdup2 has no checked form: g_try_malloc + memcpy. */
bool foo_set_blob(FooState *s, const void *blob, size_t len, Error **errp)
{
    uint8_t *copy = g_memdup2(blob, len);

    g_free(s->blob);
    s->blob = copy;
    s->blob_len = len;
    return true;
}

static int foo_save_regs(FooState *s)
{
    if (!s->regs) {
        return -EINVAL;
    }
    s->saved_regs = g_memdup2(s->regs, s->nr_regs * sizeof(uint32_t));
    return 0;
}
