/*
 * HMP commands of the mini subsystem
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-mini.h"
#include "qapi/qmp/qdict.h"
#include "monitor/hmp.h"

void hmp_x_mini_snapshot(Monitor *mon, const QDict *qdict)
{
    const char *id = qdict_get_str(qdict, "id");
    int64_t size = qdict_get_int(qdict, "size");
    MiniSnapshot *snap;
    Error *err = NULL;

    snap = qmp_x_mini_snapshot(id, size, &err);
    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "%s: %" PRId64 " bytes, checksum 0x%08" PRIx32 "\n",
                   snap->id, snap->size, snap->checksum);
    qapi_free_MiniSnapshot(snap);
}
