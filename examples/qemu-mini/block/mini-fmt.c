/*
 * Block driver for the "mini" image format
 *
 * A mini image is a 512-byte header, a table of 64-bit entries (unused
 * by reads so far, loaded to validate the image) and the guest data,
 * optionally XOR-scrambled with a one-byte key.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: MIT
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/memalign.h"
#include "qemu/module.h"
#include "block/block_int.h"

#define MINI_FMT_MAGIC          0x4d494e49  /* "MINI" */
#define MINI_FMT_VERSION        1
#define MINI_FMT_F_SCRAMBLED    (1 << 0)
#define MINI_FMT_MAX_CLUSTER    (2 * MiB)

typedef struct QEMU_PACKED MiniFmtHeader {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t cluster_size;
    uint64_t table_offset;
    uint64_t table_entries;
    uint64_t data_offset;
    uint64_t size;
    uint8_t key;
    uint8_t reserved[463];
} MiniFmtHeader;

typedef struct BDRVMiniState {
    MiniFmtHeader header;
    uint64_t *table;
    uint8_t *cluster_buf;
    CoMutex lock;
} BDRVMiniState;

static int mini_fmt_probe(const uint8_t *buf, int buf_size,
                          const char *filename)
{
    const MiniFmtHeader *h = (const void *)buf;

    if (buf_size >= sizeof(*h) && h->magic == MINI_FMT_MAGIC) {
        return 100;
    }
    return 0;
}

static void mini_fmt_unscramble(uint8_t *buf, int64_t len, uint8_t key)
{
    int64_t i;

    for (i = 0; i < len; i++) {
        buf[i] ^= key;
    }
}

/* The table size comes from the image file: never trust it. */
static bool mini_fmt_load_table(BlockDriverState *bs, Error **errp)
{
    BDRVMiniState *s = bs->opaque;
    size_t table_bytes = s->header.table_entries * sizeof(uint64_t);
    uint64_t *table = g_malloc(table_bytes);
    int ret;

    ret = bdrv_pread(bs->file, s->header.table_offset, table_bytes, table, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the mini table");
        g_free(table);
        return false;
    }
    s->table = table;
    return true;
}

static int mini_fmt_open(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp)
{
    BDRVMiniState *s = bs->opaque;
    int ret;

    ret = bdrv_pread(bs->file, 0, sizeof(s->header), &s->header, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the mini header");
        return ret;
    }
    if (s->header.magic != MINI_FMT_MAGIC ||
        s->header.version != MINI_FMT_VERSION) {
        error_setg(errp, "Image is not in mini format");
        return -EINVAL;
    }
    if (s->header.table_entries > INT64_MAX / sizeof(uint64_t)) {
        error_setg(errp, "Mini table too large");
        return -EFBIG;
    }
    if (s->header.cluster_size < 512 ||
        s->header.cluster_size > MINI_FMT_MAX_CLUSTER) {
        error_setg(errp, "Unsupported mini cluster size %" PRIu32,
                   s->header.cluster_size);
        return -EINVAL;
    }

    if (!mini_fmt_load_table(bs, errp)) {
        return -EINVAL;
    }

    /* Up to 2 MiB, aligned for O_DIRECT on the file child */
    s->cluster_buf = qemu_blockalign(bs, s->header.cluster_size);

    bs->total_sectors = s->header.size / 512;
    qemu_co_mutex_init(&s->lock);
    return 0;
}

static int coroutine_fn mini_fmt_co_preadv(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           BdrvRequestFlags flags)
{
    BDRVMiniState *s = bs->opaque;
    uint8_t *buf = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);

    /* bytes is the guest's request length: up to the block limits. */
    buf = g_malloc(bytes);

    ret = bdrv_co_pread(bs->file, s->header.data_offset + offset, bytes,
                        buf, 0);
    if (ret < 0) {
        goto out;
    }
    if (s->header.flags & MINI_FMT_F_SCRAMBLED) {
        mini_fmt_unscramble(buf, bytes, s->header.key);
    }
    qemu_iovec_from_buf(qiov, 0, buf, bytes);
    ret = 0;

out:
    qemu_co_mutex_unlock(&s->lock);
    g_free(buf);
    return ret;
}

static int coroutine_fn mini_fmt_co_pwritev(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            BdrvRequestFlags flags)
{
    BDRVMiniState *s = bs->opaque;
    uint8_t *buf;
    int ret;

    if (s->header.flags & MINI_FMT_F_SCRAMBLED) {
        return -ENOTSUP;
    }

    /* Checked allocator, but the result is used before the check. */
    buf = qemu_try_blockalign(bs->file->bs, bytes);
    qemu_iovec_to_buf(qiov, 0, buf, bytes);
    if (buf == NULL) {
        return -ENOMEM;
    }

    ret = bdrv_co_pwrite(bs->file, s->header.data_offset + offset, bytes,
                         buf, flags);
    qemu_vfree(buf);
    return ret;
}

static void mini_fmt_close(BlockDriverState *bs)
{
    BDRVMiniState *s = bs->opaque;

    g_free(s->table);
    qemu_vfree(s->cluster_buf);
}

static BlockDriver bdrv_mini_fmt = {
    .format_name        = "mini",
    .instance_size      = sizeof(BDRVMiniState),
    .bdrv_probe         = mini_fmt_probe,
    .bdrv_open          = mini_fmt_open,
    .bdrv_close         = mini_fmt_close,
    .bdrv_co_preadv     = mini_fmt_co_preadv,
    .bdrv_co_pwritev    = mini_fmt_co_pwritev,
};

static void bdrv_mini_fmt_init(void)
{
    bdrv_register(&bdrv_mini_fmt);
}

block_init(bdrv_mini_fmt_init);
