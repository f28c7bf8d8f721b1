/*
 * Mini DMA engine: a memory-to-memory copy device
 *
 * The guest programs a source, a destination and a length, then writes
 * START to the control register; the device copies through a bounce
 * buffer and raises its interrupt. A descriptor ring of "num-desc"
 * entries backs the (not modelled) scatter-gather mode.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/queue.h"
#include "exec/memory.h"
#include "hw/qdev-properties.h"
#include "hw/misc/mini-dma.h"

/* Register offsets */
#define MINI_DMA_REG_SRC_LO     0x00
#define MINI_DMA_REG_SRC_HI     0x04
#define MINI_DMA_REG_DST_LO     0x08
#define MINI_DMA_REG_DST_HI     0x0c
#define MINI_DMA_REG_LEN        0x10
#define MINI_DMA_REG_CTRL       0x14
#define MINI_DMA_REG_STATUS     0x18
#define MINI_DMA_REG_PENDING    0x1c

#define MINI_DMA_CTRL_START     (1 << 0)
#define MINI_DMA_CTRL_IRQ_ACK   (1 << 1)

#define MINI_DMA_STATUS_DONE    (1 << 0)
#define MINI_DMA_STATUS_ERROR   (1 << 1)

static uint32_t mini_dma_count_pending(MiniDmaState *s)
{
    MiniDmaReq *req;
    uint32_t n = 0;

    QTAILQ_FOREACH(req, &s->pending, next) {
        n++;
    }
    return n;
}

static uint64_t mini_dma_read(void *opaque, hwaddr addr, unsigned size)
{
    MiniDmaState *s = opaque;

    switch (addr) {
    case MINI_DMA_REG_SRC_LO:
        return (uint32_t)s->src;
    case MINI_DMA_REG_SRC_HI:
        return s->src >> 32;
    case MINI_DMA_REG_DST_LO:
        return (uint32_t)s->dst;
    case MINI_DMA_REG_DST_HI:
        return s->dst >> 32;
    case MINI_DMA_REG_LEN:
        return s->len;
    case MINI_DMA_REG_STATUS:
        return s->status;
    case MINI_DMA_REG_PENDING:
        return mini_dma_count_pending(s);
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "%s: bad offset 0x%" PRIx64 "\n",
                      __func__, addr);
        return 0;
    }
}

static void mini_dma_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    MiniDmaState *s = opaque;
    MemTxResult res;

    switch (addr) {
    case MINI_DMA_REG_SRC_LO:
        s->src = (s->src & ~0xffffffffULL) | (uint32_t)val;
        break;
    case MINI_DMA_REG_SRC_HI:
        s->src = (s->src & 0xffffffffULL) | (val << 32);
        break;
    case MINI_DMA_REG_DST_LO:
        s->dst = (s->dst & ~0xffffffffULL) | (uint32_t)val;
        break;
    case MINI_DMA_REG_DST_HI:
        s->dst = (s->dst & 0xffffffffULL) | (val << 32);
        break;
    case MINI_DMA_REG_LEN:
        s->len = val;
        break;
    case MINI_DMA_REG_CTRL:
        if (val & MINI_DMA_CTRL_IRQ_ACK) {
            s->status &= ~MINI_DMA_STATUS_DONE;
            qemu_irq_lower(s->irq);
        }
        if (!(val & MINI_DMA_CTRL_START) || s->len == 0) {
            break;
        }
        /* The guest chose s->len: anything up to 4 GiB. */
        s->bounce = g_malloc(s->len);
        res = address_space_read(&address_space_memory, s->src,
                                 MEMTXATTRS_UNSPECIFIED, s->bounce, s->len);
        if (res == MEMTX_OK) {
            res = address_space_write(&address_space_memory, s->dst,
                                      MEMTXATTRS_UNSPECIFIED, s->bounce,
                                      s->len);
        }
        g_free(s->bounce);
        s->bounce = NULL;
        s->status |= MINI_DMA_STATUS_DONE;
        if (res != MEMTX_OK) {
            s->status |= MINI_DMA_STATUS_ERROR;
        }
        qemu_irq_raise(s->irq);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "%s: bad offset 0x%" PRIx64 "\n",
                      __func__, addr);
        break;
    }
}

static const MemoryRegionOps mini_dma_ops = {
    .read = mini_dma_read,
    .write = mini_dma_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static void mini_dma_realize(DeviceState *dev, Error **errp)
{
    MiniDmaState *s = MINI_DMA(dev);
    uint32_t i;

    if (s->num_desc == 0 || s->num_desc > MINI_DMA_MAX_DESC) {
        error_setg(errp, "'num-desc' must be between 1 and %d",
                   MINI_DMA_MAX_DESC);
        return;
    }

    /* Up to 64 Ki descriptors of 24 bytes each. */
    s->ring = g_new0(MiniDmaDesc, s->num_desc);

    /* Small, fixed-size state: failing here may exit (policy rule 3). */
    s->fifo = g_new0(uint8_t, MINI_DMA_FIFO_SIZE);
    s->scratch = g_malloc(16);
    s->shadow = g_new(uint32_t, 4);

    QTAILQ_INIT(&s->free_reqs);
    QTAILQ_INIT(&s->pending);
    for (i = 0; i < s->num_reqs; i++) {
        MiniDmaReq *req = g_new0(MiniDmaReq, 1);

        req->index = i;
        QTAILQ_INSERT_TAIL(&s->free_reqs, req, next);
    }

    memory_region_init_io(&s->iomem, OBJECT(s), &mini_dma_ops, s,
                          TYPE_MINI_DMA, MINI_DMA_MMIO_SIZE);
    sysbus_init_mmio(SYS_BUS_DEVICE(dev), &s->iomem);
    sysbus_init_irq(SYS_BUS_DEVICE(dev), &s->irq);
}

static void mini_dma_unrealize(DeviceState *dev)
{
    MiniDmaState *s = MINI_DMA(dev);
    MiniDmaReq *req, *tmp;

    QTAILQ_FOREACH_SAFE(req, &s->free_reqs, next, tmp) {
        QTAILQ_REMOVE(&s->free_reqs, req, next);
        g_free(req);
    }
    g_free(s->ring);
    g_free(s->fifo);
    g_free(s->scratch);
    g_free(s->shadow);
}

static Property mini_dma_properties[] = {
    DEFINE_PROP_UINT32("num-desc", MiniDmaState, num_desc, 256),
    DEFINE_PROP_UINT32("num-reqs", MiniDmaState, num_reqs, 8),
    DEFINE_PROP_END_OF_LIST(),
};

static void mini_dma_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "Mini memory-to-memory DMA engine";
    dc->realize = mini_dma_realize;
    dc->unrealize = mini_dma_unrealize;
    /* device_add can create it on a running machine. */
    dc->user_creatable = true;
    dc->hotpluggable = true;
    dc->categories |= 1UL << DEVICE_CATEGORY_MISC;
    device_class_set_props(dc, mini_dma_properties);
}

static const TypeInfo mini_dma_info = {
    .name = TYPE_MINI_DMA,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(MiniDmaState),
    .class_init = mini_dma_class_init,
};

static void mini_dma_register_types(void)
{
    type_register_static(&mini_dma_info);
}

type_init(mini_dma_register_types)
