/*
 * System bus devices (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_SYSBUS_H
#define HW_SYSBUS_H

#include "hw/qdev-core.h"
#include "exec/memory.h"

#define TYPE_SYS_BUS_DEVICE "sys-bus-device"

typedef struct IRQState *qemu_irq;

typedef struct SysBusDevice {
    DeviceState parent_obj;
    int num_mmio;
} SysBusDevice;

#define SYS_BUS_DEVICE(obj)                                             \
    OBJECT_CHECK(SysBusDevice, (obj), TYPE_SYS_BUS_DEVICE)

void sysbus_init_mmio(SysBusDevice *dev, MemoryRegion *memory);
void sysbus_init_irq(SysBusDevice *dev, qemu_irq *p);
DeviceState *sysbus_create_simple(const char *name, hwaddr addr,
                                  qemu_irq irq);
void qemu_irq_raise(qemu_irq irq);
void qemu_irq_lower(qemu_irq irq);

#endif
