/*
 * Misc. things related to the system emulator (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSEMU_H
#define SYSEMU_H

#include "hw/boards.h"

extern uint64_t ram_size;
extern const char *bios_name;

void qemu_mini_init(int argc, char **argv);
void qemu_mini_main_loop(void);
void qemu_mini_cleanup(void);

MachineState *mini_machine_create(uint64_t ram_size, Error **errp);
void mini_machine_run_board_init(MachineState *ms);
bool mini_main_loop_should_exit(void);
void mini_main_loop_wait(void);

/* Serialise the state of all mini devices into @buf. */
void mini_state_save(uint8_t *buf, int64_t size);

#endif
