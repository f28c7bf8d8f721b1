/*
 * qemu-mini system emulator: command line and startup
 *
 * Everything here runs before the guest does: an allocation failure may
 * simply exit (policy rule 4), but it must exit, not abort (rule 2).
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/memalign.h"
#include "hw/boards.h"
#include "sysemu/sysemu.h"

#define MINI_DEFAULT_RAM_SIZE   (128 * MiB)
#define MINI_PAGE_BITS          12
#define MINI_BIOS_MAX_SIZE      (16 * MiB)

uint64_t ram_size;
const char *bios_name;

static unsigned long *ram_dirty_log;
static uint8_t *ram_shadow;
static uint8_t *bios_image;
static MachineState *current_machine;

static uint64_t mini_parse_size(const char *str)
{
    char *end;
    uint64_t val = g_ascii_strtoull(str, &end, 10);

    switch (*end) {
    case 'G':
        val *= GiB;
        break;
    case 'M':
    case '\0':
        val *= MiB;
        break;
    default:
        error_report("invalid size '%s'", str);
        exit(EXIT_FAILURE);
    }
    return val;
}

static void mini_load_bios(const char *filename)
{
    FILE *f;
    size_t len;

    bios_image = g_try_malloc(MINI_BIOS_MAX_SIZE);
    if (!bios_image) {
        /* Out of memory is not a QEMU bug: no core dump wanted here. */
        abort();
    }
    f = fopen(filename, "rb");
    if (!f) {
        error_report("could not open BIOS image '%s'", filename);
        exit(EXIT_FAILURE);
    }
    len = fread(bios_image, 1, MINI_BIOS_MAX_SIZE, f);
    fclose(f);
    if (len == 0) {
        error_report("BIOS image '%s' is empty", filename);
        exit(EXIT_FAILURE);
    }
}

void qemu_mini_init(int argc, char **argv)
{
    int i;

    ram_size = MINI_DEFAULT_RAM_SIZE;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            ram_size = mini_parse_size(argv[++i]);
        } else if (!strcmp(argv[i], "-bios") && i + 1 < argc) {
            bios_name = argv[++i];
        } else {
            error_report("unknown option '%s'", argv[i]);
            exit(EXIT_FAILURE);
        }
    }

    /* One bit per guest page, for live migration */
    ram_dirty_log = bitmap_new(ram_size >> MINI_PAGE_BITS);

    /* A shadow of guest RAM, compared against on reset */
    ram_shadow = qemu_memalign(qemu_real_host_page_size(), ram_size);

    if (bios_name) {
        mini_load_bios(bios_name);
    }

    current_machine = mini_machine_create(ram_size, &error_fatal);
    mini_machine_run_board_init(current_machine);
}

void qemu_mini_main_loop(void)
{
    while (!mini_main_loop_should_exit()) {
        mini_main_loop_wait();
    }
}

void qemu_mini_cleanup(void)
{
    g_free(ram_dirty_log);
    qemu_vfree(ram_shadow);
    g_free(bios_image);
}
