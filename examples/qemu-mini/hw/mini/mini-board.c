/*
 * qemu-mini reference board
 *
 * RAM at 0, a flash image below 4 GiB and one mini-dma engine. The
 * board is built once, at startup, before the guest runs.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "hw/boards.h"
#include "hw/loader.h"
#include "hw/sysbus.h"
#include "hw/misc/mini-dma.h"

#define MINI_BOARD_RAM_BASE     0x00000000
#define MINI_BOARD_FLASH_BASE   0xfc000000
#define MINI_BOARD_FLASH_SIZE   (64 * MiB)
#define MINI_BOARD_DMA_BASE     0xfe000000

/* A copy of guest RAM as loaded, restored on every system reset */
static uint8_t *mini_board_reset_image;

static void mini_board_load_flash(const char *firmware)
{
    g_autofree uint8_t *flash = g_malloc0(MINI_BOARD_FLASH_SIZE);
    ssize_t len;

    len = load_image_size(firmware, flash, MINI_BOARD_FLASH_SIZE);
    if (len <= 0) {
        error_report("could not load firmware '%s'", firmware);
        exit(EXIT_FAILURE);
    }
    rom_add_blob_fixed("mini.flash", flash, MINI_BOARD_FLASH_SIZE,
                       MINI_BOARD_FLASH_BASE);
}

static void mini_board_init(MachineState *machine)
{
    MemoryRegion *sysmem = get_system_memory();

    memory_region_add_subregion(sysmem, MINI_BOARD_RAM_BASE, machine->ram);

    /* As large as guest RAM: gigabytes */
    mini_board_reset_image = g_malloc(machine->ram_size);

    if (machine->firmware) {
        mini_board_load_flash(machine->firmware);
    }

    sysbus_create_simple(TYPE_MINI_DMA, MINI_BOARD_DMA_BASE, NULL);
}

static void mini_board_class_init(ObjectClass *oc, void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->desc = "qemu-mini reference board";
    mc->init = mini_board_init;
    mc->default_ram_size = 128 * MiB;
    mc->default_ram_id = "mini.ram";
    mc->max_cpus = 1;
}

static const TypeInfo mini_board_info = {
    .name = MACHINE_TYPE_NAME("mini"),
    .parent = TYPE_MACHINE,
    .class_init = mini_board_class_init,
};

static void mini_board_register_types(void)
{
    type_register_static(&mini_board_info);
}

type_init(mini_board_register_types)
