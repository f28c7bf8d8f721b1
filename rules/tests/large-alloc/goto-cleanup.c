#include "qemu/osdep.h"

static int coroutine_fn foo_co_read(FooState *s, int64_t offset, int64_t bytes)
{
    uint8_t *buf;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    buf = g_malloc(bytes);
    ret = foo_read_backing(s, offset, buf, bytes);
    if (ret < 0) {
        goto out;
    }
    ret = 0;
out:
    qemu_co_mutex_unlock(&s->lock);
    g_free(buf);
    return ret;
}
