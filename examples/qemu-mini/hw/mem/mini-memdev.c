/*
 * Mini memory device: hot-pluggable RAM with a dirty log and a label area
 *
 * "-device mini-memdev,size=1G" adds it at startup; "device_add
 * mini-memdev,size=1G" adds it to a running guest, so everything its
 * realize allocates can happen after startup.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/module.h"
#include "exec/memory.h"
#include "hw/qdev-properties.h"

#define TYPE_MINI_MEMDEV "mini-memdev"
OBJECT_DECLARE_SIMPLE_TYPE(MiniMemDev, MINI_MEMDEV)

#define MINI_MEMDEV_PAGE_SIZE   4096

struct MiniMemDev {
    DeviceState parent_obj;

    MemoryRegion mr;
    /* One bit per page, set when the guest wrote the page */
    unsigned long *dirty;
    /* Label area the guest reads at boot (like an NVDIMM label) */
    uint8_t *label;

    /* Properties */
    uint64_t size;
    uint64_t addr;
    uint32_t label_size;
};

static void mini_memdev_realize(DeviceState *dev, Error **errp)
{
    MiniMemDev *md = MINI_MEMDEV(dev);
    uint64_t pages;

    if (!md->size || !QEMU_IS_ALIGNED(md->size, MINI_MEMDEV_PAGE_SIZE)) {
        error_setg(errp, "'size' must be a non-zero multiple of %d",
                   MINI_MEMDEV_PAGE_SIZE);
        return;
    }
    pages = md->size / MINI_MEMDEV_PAGE_SIZE;

    /* 32 KiB of bitmap per GiB of RAM */
    md->dirty = bitmap_new(pages);

    /* A failure here must not leave md->dirty behind (rule 7). */
    md->label = g_malloc0(md->label_size);

    if (!memory_region_init_ram(&md->mr, OBJECT(dev), "mini-memdev.ram",
                                md->size, errp)) {
        g_free(md->label);
        md->label = NULL;
        g_free(md->dirty);
        md->dirty = NULL;
        return;
    }
    memory_region_add_subregion(get_system_memory(), md->addr, &md->mr);
}

static void mini_memdev_unrealize(DeviceState *dev)
{
    MiniMemDev *md = MINI_MEMDEV(dev);

    g_free(md->label);
    g_free(md->dirty);
}

static Property mini_memdev_properties[] = {
    DEFINE_PROP_SIZE("size", MiniMemDev, size, 0),
    DEFINE_PROP_UINT64("addr", MiniMemDev, addr, 0),
    DEFINE_PROP_UINT32("label-size", MiniMemDev, label_size, 128 * KiB),
    DEFINE_PROP_END_OF_LIST(),
};

static void mini_memdev_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->desc = "Mini hot-pluggable memory device";
    dc->realize = mini_memdev_realize;
    dc->unrealize = mini_memdev_unrealize;
    dc->user_creatable = true;
    dc->hotpluggable = true;
    dc->categories |= 1UL << DEVICE_CATEGORY_MEMORY;
    device_class_set_props(dc, mini_memdev_properties);
}

static const TypeInfo mini_memdev_info = {
    .name = TYPE_MINI_MEMDEV,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(MiniMemDev),
    .class_init = mini_memdev_class_init,
};

static void mini_memdev_register_types(void)
{
    type_register_static(&mini_memdev_info);
}

type_init(mini_memdev_register_types)
