/*
 * Mini DMA engine: a memory-to-memory copy device (qemu-mini example)
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_MINI_DMA_H
#define HW_MISC_MINI_DMA_H

#include "hw/sysbus.h"
#include "qemu/queue.h"

#define TYPE_MINI_DMA "mini-dma"
OBJECT_DECLARE_SIMPLE_TYPE(MiniDmaState, MINI_DMA)

#define MINI_DMA_MMIO_SIZE  0x100
#define MINI_DMA_FIFO_SIZE  64
#define MINI_DMA_MAX_DESC   65536

/* One descriptor of the ring, as the guest lays it out in memory. */
typedef struct QEMU_PACKED MiniDmaDesc {
    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t flags;
} MiniDmaDesc;

/* A transfer the device has accepted but not yet completed. */
typedef struct MiniDmaReq {
    uint32_t index;
    uint32_t status;
    QTAILQ_ENTRY(MiniDmaReq) next;
} MiniDmaReq;

struct MiniDmaState {
    SysBusDevice parent_obj;

    MemoryRegion iomem;
    qemu_irq irq;

    /* Registers */
    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t status;

    /* Guest-sized bounce buffer, live only during a transfer */
    uint8_t *bounce;
    MiniDmaDesc *ring;
    uint8_t *fifo;
    uint8_t *scratch;
    uint32_t *shadow;
    QTAILQ_HEAD(, MiniDmaReq) free_reqs;
    QTAILQ_HEAD(, MiniDmaReq) pending;

    /* Properties */
    uint32_t num_desc;
    uint32_t num_reqs;
};

#endif
