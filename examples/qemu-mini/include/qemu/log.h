/*
 * Guest-visible debug logging (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_LOG_H
#define QEMU_LOG_H

#define LOG_GUEST_ERROR (1 << 11)
#define LOG_UNIMP       (1 << 10)

void qemu_log_mask(int mask, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#endif
