/*
 * Machine (board) descriptions (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_BOARDS_H
#define HW_BOARDS_H

#include "exec/memory.h"

#define TYPE_MACHINE "machine"
#define TYPE_MACHINE_SUFFIX "-machine"
#define MACHINE_TYPE_NAME(machinename) (machinename TYPE_MACHINE_SUFFIX)

typedef struct MachineState {
    Object parent_obj;
    uint64_t ram_size;
    MemoryRegion *ram;
    const char *firmware;
    const char *kernel_filename;
} MachineState;

typedef struct MachineClass {
    ObjectClass parent_class;
    const char *desc;
    void (*init)(MachineState *state);
    uint64_t default_ram_size;
    const char *default_ram_id;
    int max_cpus;
} MachineClass;

#define MACHINE_CLASS(klass)                                            \
    OBJECT_CLASS_CHECK(MachineClass, (klass), TYPE_MACHINE)

#endif
