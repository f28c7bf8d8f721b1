/*
 * QAPI types and commands of the mini schema (qemu-mini example tree)
 *
 * In the real tree this file is generated from qapi/mini.json:
 *
 *   { 'struct': 'MiniSnapshot',
 *     'data': { 'id': 'str', 'size': 'int', 'checksum': 'uint32' } }
 *   { 'command': 'x-mini-snapshot',
 *     'data': { 'id': 'str', 'size': 'int' },
 *     'returns': 'MiniSnapshot' }
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QAPI_COMMANDS_MINI_H
#define QAPI_COMMANDS_MINI_H

#include "qapi/error.h"

typedef struct MiniSnapshot {
    char *id;
    int64_t size;
    uint32_t checksum;
} MiniSnapshot;

void qapi_free_MiniSnapshot(MiniSnapshot *obj);

MiniSnapshot *qmp_x_mini_snapshot(const char *id, int64_t size,
                                  Error **errp);

#endif
