/*
 * Human Monitor Interface commands (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HMP_H
#define HMP_H

#include "qapi/error.h"
#include "qapi/qmp/qdict.h"

int monitor_printf(Monitor *mon, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
bool hmp_handle_error(Monitor *mon, Error *err);

void hmp_x_mini_snapshot(Monitor *mon, const QDict *qdict);

#endif
