/*
 * Device model core (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QDEV_CORE_H
#define QDEV_CORE_H

#include "qom/object.h"
#include "qemu/queue.h"

typedef struct DeviceState DeviceState;
typedef struct Property Property;

typedef void (*DeviceRealize)(DeviceState *dev, Error **errp);
typedef void (*DeviceUnrealize)(DeviceState *dev);
typedef void (*DeviceReset)(DeviceState *dev);

#define TYPE_DEVICE "device"

typedef enum DeviceCategory {
    DEVICE_CATEGORY_MEMORY,
    DEVICE_CATEGORY_MISC,
    DEVICE_CATEGORY_STORAGE,
    DEVICE_CATEGORY_MAX
} DeviceCategory;

typedef struct DeviceClass {
    ObjectClass parent_class;
    unsigned long categories;
    const char *desc;
    /* May be created with -device and device_add. */
    bool user_creatable;
    /* May be added and removed while the guest runs. */
    bool hotpluggable;
    DeviceRealize realize;
    DeviceUnrealize unrealize;
    DeviceReset reset;
    Property *props_;
} DeviceClass;

struct DeviceState {
    Object parent_obj;
    const char *id;
    bool realized;
    bool hotplugged;
};

#define DEVICE(obj) OBJECT_CHECK(DeviceState, (obj), TYPE_DEVICE)
#define DEVICE_CLASS(klass)                                             \
    OBJECT_CLASS_CHECK(DeviceClass, (klass), TYPE_DEVICE)

void device_class_set_props(DeviceClass *dc, Property *props);

#endif
