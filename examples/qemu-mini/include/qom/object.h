/*
 * QEMU Object Model (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_OBJECT_H
#define QEMU_OBJECT_H

typedef struct Object Object;
typedef struct ObjectClass ObjectClass;

struct ObjectClass {
    const char *type_name;
};

struct Object {
    ObjectClass *class;
    Object *parent;
};

typedef struct TypeInfo {
    const char *name;
    const char *parent;
    size_t instance_size;
    void (*instance_init)(Object *obj);
    void (*instance_finalize)(Object *obj);
    size_t class_size;
    void (*class_init)(ObjectClass *klass, void *data);
} TypeInfo;

#define TYPE_OBJECT "object"

Object *object_dynamic_cast_assert(Object *obj, const char *typename);
ObjectClass *object_class_dynamic_cast_assert(ObjectClass *klass,
                                              const char *typename);
void type_register_static(const TypeInfo *info);

#define OBJECT(obj) ((Object *)(obj))
#define OBJECT_CHECK(type, obj, name)                                   \
    ((type *)object_dynamic_cast_assert(OBJECT(obj), (name)))
#define OBJECT_CLASS_CHECK(class_type, class, name)                     \
    ((class_type *)object_class_dynamic_cast_assert((ObjectClass *)(class), \
                                                    (name)))

/*
 * Declares the instance typedef and the checked cast MODULE_OBJ_NAME(obj)
 * for a type with no class struct of its own.
 */
#define OBJECT_DECLARE_SIMPLE_TYPE(InstanceType, MODULE_OBJ_NAME)       \
    typedef struct InstanceType InstanceType;                           \
    static inline InstanceType *MODULE_OBJ_NAME(const void *obj)        \
    {                                                                   \
        return OBJECT_CHECK(InstanceType, obj,                          \
                            TYPE_##MODULE_OBJ_NAME);                    \
    }

#endif
