/*
 * Growable byte buffers (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_MINI_BUF_H
#define QEMU_MINI_BUF_H

typedef struct MiniBuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} MiniBuf;

MiniBuf *mini_buf_new(void);
void mini_buf_append(MiniBuf *b, const void *data, size_t len);
MiniBuf *mini_buf_dup(const MiniBuf *b);
void *mini_buf_alloc_records(size_t count, size_t size);
void mini_buf_free(MiniBuf *b);

#endif
