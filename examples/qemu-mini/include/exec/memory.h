/*
 * Physical memory management API (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MEMORY_H
#define MEMORY_H

#include "qom/object.h"

typedef uint64_t hwaddr;
typedef uint32_t MemTxResult;
typedef struct MemTxAttrs {
    unsigned int secure:1;
    unsigned int requester_id:16;
} MemTxAttrs;

#define MEMTX_OK 0
#define MEMTXATTRS_UNSPECIFIED ((MemTxAttrs) { .requester_id = 0 })

enum device_endian {
    DEVICE_NATIVE_ENDIAN,
    DEVICE_BIG_ENDIAN,
    DEVICE_LITTLE_ENDIAN,
};

typedef struct MemoryRegionOps {
    uint64_t (*read)(void *opaque, hwaddr addr, unsigned size);
    void (*write)(void *opaque, hwaddr addr, uint64_t data, unsigned size);
    enum device_endian endianness;
    struct {
        unsigned min_access_size;
        unsigned max_access_size;
    } valid;
} MemoryRegionOps;

typedef struct MemoryRegion {
    Object parent_obj;
    const MemoryRegionOps *ops;
    void *opaque;
    uint64_t size;
    void *ram_ptr;
} MemoryRegion;

typedef struct AddressSpace AddressSpace;
extern AddressSpace address_space_memory;

void memory_region_init_io(MemoryRegion *mr, Object *owner,
                           const MemoryRegionOps *ops, void *opaque,
                           const char *name, uint64_t size);
bool memory_region_init_ram(MemoryRegion *mr, Object *owner,
                            const char *name, uint64_t size, Error **errp);
void memory_region_add_subregion(MemoryRegion *mr, hwaddr offset,
                                 MemoryRegion *subregion);
MemoryRegion *get_system_memory(void);

MemTxResult address_space_read(AddressSpace *as, hwaddr addr,
                               MemTxAttrs attrs, void *buf, hwaddr len);
MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
                                MemTxAttrs attrs, const void *buf,
                                hwaddr len);

#endif
