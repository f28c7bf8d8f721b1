/*
 * QDict: the dictionary of monitor command arguments (qemu-mini example)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QDICT_H
#define QDICT_H

const char *qdict_get_str(const QDict *qdict, const char *key);
int64_t qdict_get_int(const QDict *qdict, const char *key);
bool qdict_haskey(const QDict *qdict, const char *key);

#endif
