/*
 * qemu-mini system emulator entry point
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "sysemu/sysemu.h"

int main(int argc, char **argv)
{
    qemu_mini_init(argc, argv);
    qemu_mini_main_loop();
    qemu_mini_cleanup();
    return 0;
}
