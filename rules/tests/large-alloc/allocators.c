#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "block/block-io.h"

/* Every aborting allocator, stored in a field of a device that has errp. */
static int foo_dev_alloc(FooDev *d, BlockDriverState *bs, BlockBackend *blk,
                         size_t len, Error **errp)
{
    if (len > FOO_MAX_LEN) {
        error_setg(errp, "Buffer length %zu is too large", len);
        return -EINVAL;
    }
    d->raw = g_malloc(len);
    d->zeroed = g_malloc0(len);
    d->words = g_malloc_n(len, sizeof(uint32_t));
    d->zwords = g_malloc0_n(d->nr_words, d->word_size);
    d->descs = g_new(FooDesc, d->nr_descs);
    d->zdescs = g_new0(FooDesc, d->nr_descs);
    d->aligned = qemu_memalign(FOO_ALIGN, len);
    d->bounce = qemu_blockalign(bs, len);
    d->zbounce = qemu_blockalign0(bs, len);
    d->blkbuf = blk_blockalign(blk, len);
    d->dirty = bitmap_new(d->nr_pages);
    return 0;
}
