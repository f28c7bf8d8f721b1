/*
 * Growable byte buffers
 *
 * Device models use these at run time to collect guest data, so the
 * sizes below are whatever the guest made them.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/mini-buf.h"

MiniBuf *mini_buf_new(void)
{
    return g_new0(MiniBuf, 1);
}

void mini_buf_append(MiniBuf *b, const void *data, size_t len)
{
    if (len > b->cap - b->len) {
        b->cap = MAX(b->cap * 2, b->len + len);
        b->data = g_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

MiniBuf *mini_buf_dup(const MiniBuf *b)
{
    MiniBuf *copy = mini_buf_new();

    copy->data = g_memdup2(b->data, b->len);
    copy->len = b->len;
    copy->cap = b->len;
    return copy;
}

/* The caller frees the result with g_free(). */
void *mini_buf_alloc_records(size_t count, size_t size)
{
    return g_malloc(count * size);
}

void mini_buf_free(MiniBuf *b)
{
    if (b) {
        g_free(b->data);
        g_free(b);
    }
}
