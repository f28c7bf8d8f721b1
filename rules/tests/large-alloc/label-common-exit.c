#include "qemu/osdep.h"

/*
 * The bounce buffer is allocated inside the loop, on the first cluster that
 * needs it: earlier iterations ran the code after the allocation, so the
 * text before it does not show what 'err:' has to undo. Jump, as the
 * loop's other failures do, although the function returned directly above.
 */
static int coroutine_fn quux_co_copy(QuuxState *s, int64_t offset, int64_t bytes)
{
    uint8_t *bounce = NULL;
    int64_t done = 0;
    int ret;

    if (!s->backing) {
        return -ENOMEDIUM;
    }
    while (done < bytes) {
        int64_t n = MIN(bytes - done, s->cluster_size);

        if (!quux_is_allocated(s, offset + done)) {
            if (!bounce) {
                bounce = qemu_blockalign(s->bs, s->cluster_size);
            }
            ret = quux_read_backing(s, offset + done, bounce, n);
            if (ret < 0) {
                goto err;
            }
            ret = quux_write_cluster(s, offset + done, bounce, n);
            if (ret < 0) {
                goto err;
            }
        }
        done += n;
    }
    ret = 0;
err:
    qemu_vfree(bounce);
    return ret;
}

/*
 * Every failure of this function leaves through 'exit:', which only
 * traces the result: the allocation's failure does too.
 */
static int quux_read_log(QuuxState *s, uint32_t entries)
{
    int ret;

    s->log = g_new(QuuxLogEntry, entries);
    ret = quux_pread(s, s->log_offset, s->log, entries * sizeof(*s->log));
    if (ret < 0) {
        goto exit;
    }
    ret = quux_replay_log(s, entries);
exit:
    trace_quux_read_log(s, ret);
    return ret;
}

/*
 * 'fail:' frees a header read later, still NULL here; the function already
 * fails by returning directly above, so the allocation does too.
 */
static int quux_load_index(QuuxState *s, size_t len)
{
    QuuxHeader *header = NULL;
    int ret;

    if (len > QUUX_MAX_INDEX) {
        return -EFBIG;
    }
    s->index = g_malloc(len);
    header = quux_read_header(s, &ret);
    if (!header) {
        goto fail;
    }
    ret = quux_parse_index(s, header, s->index, len);
fail:
    g_free(header);
    return ret;
}
