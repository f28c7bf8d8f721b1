#include "qemu/osdep.h"

/*
 * 'fail:' frees the table allocated here and the later failures jump there,
 * but at this point it would only free NULL: return directly, as the check
 * before it does (and as most QEMU code does in this position).
 */
static int baz_rebuild_table(BazState *s, uint64_t entries)
{
    uint64_t *table;
    uint64_t i;
    int ret;

    if (entries > BAZ_MAX_ENTRIES) {
        return -EFBIG;
    }
    table = g_new0(uint64_t, entries);
    for (i = 0; i < entries; i++) {
        ret = baz_read_entry(s, i, &table[i]);
        if (ret < 0) {
            goto fail;
        }
    }
    ret = baz_write_table(s, table, entries);
    if (ret < 0) {
        goto fail;
    }
    ret = 0;
fail:
    g_free(table);
    return ret;
}

/*
 * 'out:' frees only a buffer allocated later, still NULL here, and the map
 * belongs to the state: the jump is safe, and as no failure before it
 * returns directly, 'out:' is the function's common exit: join it.
 */
static int baz_scan(BazState *s, size_t len)
{
    uint8_t *bounce = NULL;
    int ret;

    s->map = g_malloc(len);
    ret = baz_fill_map(s, len);
    if (ret < 0) {
        goto out;
    }
    bounce = g_malloc(s->cluster_size);
    ret = baz_copy(s, bounce, len);
out:
    g_free(bounce);
    return ret;
}
