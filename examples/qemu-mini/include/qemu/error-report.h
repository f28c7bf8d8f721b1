/*
 * Error reporting to the user (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_ERROR_REPORT_H
#define QEMU_ERROR_REPORT_H

void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
