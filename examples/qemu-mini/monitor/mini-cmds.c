/*
 * QMP commands of the mini subsystem
 *
 * x-mini-snapshot copies "size" bytes of device state into a buffer and
 * returns its checksum. The size is whatever the management application
 * sent, so a failed allocation must become an error on the monitor.
 *
 * Copyright (c) 2026 The qemu-mini authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-mini.h"
#include "sysemu/sysemu.h"

#define MINI_SNAPSHOT_MAX_SIZE  (4 * GiB)

static uint32_t mini_checksum(const uint8_t *buf, int64_t size)
{
    uint32_t sum = 0;
    int64_t i;

    for (i = 0; i < size; i++) {
        sum = (sum << 1 | sum >> 31) ^ buf[i];
    }
    return sum;
}

MiniSnapshot *qmp_x_mini_snapshot(const char *id, int64_t size,
                                  Error **errp)
{
    g_autofree uint8_t *data = NULL;
    MiniSnapshot *snap;

    if (size <= 0 || size > MINI_SNAPSHOT_MAX_SIZE) {
        error_setg(errp, "Parameter 'size' must be between 1 and %" PRId64,
                   MINI_SNAPSHOT_MAX_SIZE);
        return NULL;
    }

    /* Up to 4 GiB, chosen by the QMP client */
    data = g_malloc0(size);

    mini_state_save(data, size);

    snap = g_new0(MiniSnapshot, 1);
    snap->id = g_strdup(id);
    snap->size = size;
    snap->checksum = mini_checksum(data, size);
    return snap;
}
