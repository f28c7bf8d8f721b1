#include "qemu/osdep.h"

static int foo_update(FooState *s, size_t len)
{
    uint8_t *buf;
    int ret;

    qemu_mutex_lock(&s->lock);
    if (s->busy) {
        qemu_mutex_unlock(&s->lock);
        return -EBUSY;
    }
    buf = g_malloc(len);
    ret = foo_fill(s, buf, len);
    qemu_mutex_unlock(&s->lock);
    g_free(buf);
    return ret;
}

static int foo_snapshot(FooState *s)
{
    uint8_t *buf;
    size_t len;

    qemu_mutex_lock(&s->lock);
    len = s->len;
    qemu_mutex_unlock(&s->lock);
    if (!len) {
        return -EINVAL;
    }
    buf = g_malloc(len);
    foo_copy(s, buf, len);
    g_free(buf);
    return 0;
}
