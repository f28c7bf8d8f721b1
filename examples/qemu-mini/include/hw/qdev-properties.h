/*
 * Device properties (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_QDEV_PROPERTIES_H
#define QEMU_QDEV_PROPERTIES_H

#include "hw/qdev-core.h"

typedef enum PropertyKind {
    PROP_KIND_END,
    PROP_KIND_UINT32,
    PROP_KIND_UINT64,
    PROP_KIND_SIZE,
} PropertyKind;

struct Property {
    const char *name;
    PropertyKind kind;
    ptrdiff_t offset;
    uint64_t defval;
};

#define DEFINE_PROP_KIND(_name, _state, _field, _kind, _defval) {       \
        .name = (_name),                                                \
        .kind = (_kind),                                                \
        .offset = offsetof(_state, _field),                             \
        .defval = (_defval),                                            \
    }

#define DEFINE_PROP_UINT32(_n, _s, _f, _d)                              \
    DEFINE_PROP_KIND(_n, _s, _f, PROP_KIND_UINT32, _d)
#define DEFINE_PROP_UINT64(_n, _s, _f, _d)                              \
    DEFINE_PROP_KIND(_n, _s, _f, PROP_KIND_UINT64, _d)
#define DEFINE_PROP_SIZE(_n, _s, _f, _d)                                \
    DEFINE_PROP_KIND(_n, _s, _f, PROP_KIND_SIZE, _d)
#define DEFINE_PROP_END_OF_LIST() { .kind = PROP_KIND_END }

#endif
