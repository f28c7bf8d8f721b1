#include "qemu/osdep.h"
#include "qapi/error.h"

static int lz_channel_setup(LzChannel *c, size_t window, Error **errp)
{
    LzState *z = g_new0(LzState, 1);
    const char *err_msg;

    if (lz_stream_init(&z->stream, c->level) != LZ_OK) {
        err_msg = "stream init failed";
        goto err_free_z;
    }
    z->window = g_malloc(window);
    z->out = g_malloc(c->out_len);
    if (lz_reset(&z->stream) != LZ_OK) {
        err_msg = "stream reset failed";
        goto err_free_out;
    }
    c->data = z;
    return 0;

err_free_out:
    g_free(z->out);
err_free_window:
    g_free(z->window);
    lz_stream_end(&z->stream);
err_free_z:
    g_free(z);
    error_setg(errp, "channel %u: %s", c->id, err_msg);
    return -1;
}

static struct iovec *guest_iovec_map(GuestMem *m, uint64_t addr, size_t count)
{
    struct iovec *vec;
    void *table;
    int err = 0;

    if (count == 0) {
        errno = 0;
        return NULL;
    }
    vec = g_new0(struct iovec, count);
    table = guest_mem_map(m, addr, count);
    if (!table) {
        err = EFAULT;
        goto fail;
    }
    if (guest_iovec_fill(m, table, vec, count) < 0) {
        err = EINVAL;
        goto fail_unmap;
    }
    guest_mem_unmap(m, table);
    return vec;

fail_unmap:
    guest_mem_unmap(m, table);
fail:
    g_free(vec);
    errno = err;
    return NULL;
}

static QueuePair *queue_pair_new(Ctrl *s, size_t size, Error **errp)
{
    QueuePair *q;

    q = g_malloc0(size);
    q->s = s;
    if (!queue_map(s, q, errp)) {
        goto fail;
    }
    return q;

fail:
    queue_pair_free(q);
    return NULL;
}

static int table_reload(TableState *t, size_t len, Error **errp)
{
    int ret;

    qemu_mutex_lock(&t->lock);
    ret = table_check(t);
    if (ret < 0) {
        goto fail;
    }
    t->entries = g_malloc(len);
    ret = table_read(t, t->entries, len);
    if (ret < 0) {
        goto fail;
    }
    qemu_mutex_unlock(&t->lock);
    return 0;

fail:
    error_setg(errp, "Could not reload the table");
    qemu_mutex_unlock(&t->lock);
    return ret;
}

static int table_scan(TableState *t, size_t len)
{
    uint8_t *map;
    int ret;

    qemu_mutex_lock(&t->lock);
    t->scratch = g_malloc(len);
    map = table_map(t);
    if (!map) {
        ret = -EIO;
        goto out;
    }
    ret = table_walk(t, map, t->scratch);
    table_unmap(t, map);
out:
    table_log_result(t, map, ret);
    qemu_mutex_unlock(&t->lock);
    return ret;
}
