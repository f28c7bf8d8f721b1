#include "qemu/osdep.h"

/*
 * 'fail:' gives back the clusters allocated after the buffer. Its test of
 * 'index_offset' is what lets earlier failures enter it before that
 * allocation (the in-place offset is the caller's), so here it would only
 * free the NULL buffer: return directly.
 */
static int quux_store_index(QuuxState *s, uint64_t *offset, size_t len,
                            bool in_place)
{
    int64_t index_offset = 0;
    uint8_t *buf;
    int ret;

    if (in_place) {
        index_offset = *offset;
    }
    buf = g_malloc0(len);
    quux_encode_index(s, buf, len);
    if (!in_place) {
        index_offset = quux_alloc_clusters(s, len);
        if (index_offset < 0) {
            ret = index_offset;
            goto fail;
        }
    }
    ret = quux_pwrite(s, index_offset, buf, len);
    if (ret < 0) {
        goto fail;
    }
    g_free(buf);
    *offset = index_offset;
    return 0;

fail:
    g_free(buf);
    if (!in_place && index_offset > 0) {
        quux_free_clusters(s, index_offset, len);
    }
    return ret;
}
