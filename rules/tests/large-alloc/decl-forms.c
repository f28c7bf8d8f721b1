#include "qemu/osdep.h"
#include "block/block-io.h"

/* Automatically freed declarations: checked, never freed by hand. */
static int coroutine_fn foo_co_copy(BlockDriverState *bs, int64_t offset,
                                    int64_t bytes)
{
    QEMU_AUTO_VFREE uint8_t *bounce = qemu_blockalign(bs, bytes);
    g_autofree uint64_t *map = g_new0(uint64_t, bytes / FOO_CLUSTER_SIZE);
    int ret;

    ret = foo_co_read(bs, offset, bounce, bytes);
    if (ret < 0) {
        return ret;
    }
    foo_build_map(map, bounce, bytes);
    return foo_co_write(bs, offset, bounce, bytes);
}

static int foo_hash_image(FooState *s, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    int ret;

    ret = foo_read_image(s, buf, len);
    if (ret < 0) {
        return ret;
    }
    return foo_hash(s, buf, len);
}

/* A declaration with a call after it: the check cannot follow the
 * declarations, so this is reported, not rewritten. */
static int foo_scan(FooState *s, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    size_t got = foo_fill(s, buf, len);

    if (got != len) {
        return -EIO;
    }
    return 0;
}
