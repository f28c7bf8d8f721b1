/*
 * Forward declarations of types used across headers (qemu-mini example)
 *
 * Keeps headers from including each other only for a pointer type.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_TYPEDEFS_H
#define QEMU_TYPEDEFS_H

typedef struct Error Error;
typedef struct Monitor Monitor;
typedef struct QDict QDict;

#endif
