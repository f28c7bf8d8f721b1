/*
 * Block layer: the interface between drivers and the core
 * (qemu-mini example tree)
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef BLOCK_INT_H
#define BLOCK_INT_H

#include "qapi/error.h"
#include "qemu/coroutine.h"

typedef struct BlockDriverState BlockDriverState;
typedef struct BdrvChild BdrvChild;

typedef enum {
    BDRV_REQ_FUA = 0x10,
} BdrvRequestFlags;

typedef struct QEMUIOVector {
    struct iovec *iov;
    int niov;
    size_t size;
} QEMUIOVector;

struct BdrvChild {
    BlockDriverState *bs;
    const char *name;
};

struct BlockDriverState {
    int open_flags;
    bool read_only;
    void *opaque;
    BdrvChild *file;
    int64_t total_sectors;
    char filename[4096];
};

typedef struct BlockDriver {
    const char *format_name;
    int instance_size;
    int (*bdrv_probe)(const uint8_t *buf, int buf_size, const char *filename);
    int (*bdrv_open)(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp);
    void (*bdrv_close)(BlockDriverState *bs);
    int coroutine_fn (*bdrv_co_preadv)(BlockDriverState *bs,
        int64_t offset, int64_t bytes, QEMUIOVector *qiov,
        BdrvRequestFlags flags);
    int coroutine_fn (*bdrv_co_pwritev)(BlockDriverState *bs,
        int64_t offset, int64_t bytes, QEMUIOVector *qiov,
        BdrvRequestFlags flags);
} BlockDriver;

void bdrv_register(BlockDriver *bdrv);

int bdrv_pread(BdrvChild *child, int64_t offset, int64_t bytes, void *buf,
               BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pread(BdrvChild *child, int64_t offset,
                               int64_t bytes, void *buf,
                               BdrvRequestFlags flags);
int coroutine_fn bdrv_co_pwrite(BdrvChild *child, int64_t offset,
                                int64_t bytes, const void *buf,
                                BdrvRequestFlags flags);

void *qemu_blockalign(BlockDriverState *bs, size_t size);
void *qemu_try_blockalign(BlockDriverState *bs, size_t size);

size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset,
                           const void *buf, size_t bytes);
size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset,
                         void *buf, size_t bytes);

#endif
