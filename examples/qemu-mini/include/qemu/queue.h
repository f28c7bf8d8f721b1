/*
 * Tail queues in the style of BSD <sys/queue.h> (qemu-mini example tree)
 *
 * Only the subset the example tree uses.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */

#ifndef QEMU_SYS_QUEUE_H
#define QEMU_SYS_QUEUE_H

/*
 * A head holds the first element and the address of the link that the
 * next inserted element goes into; an entry holds the next element and
 * the address of the link that points at this one.
 */
#define QTAILQ_HEAD(name, type)                                         \
struct name {                                                           \
    struct type *tqh_first;                                             \
    struct type **tqh_last;                                             \
}

#define QTAILQ_ENTRY(type)                                              \
struct {                                                                \
    struct type *tqe_next;                                              \
    struct type **tqe_prev;                                             \
}

#define QTAILQ_INIT(head) do {                                          \
    (head)->tqh_first = NULL;                                           \
    (head)->tqh_last = &(head)->tqh_first;                              \
} while (0)

#define QTAILQ_EMPTY(head) ((head)->tqh_first == NULL)

#define QTAILQ_INSERT_TAIL(head, elm, field) do {                       \
    (elm)->field.tqe_next = NULL;                                       \
    (elm)->field.tqe_prev = (head)->tqh_last;                           \
    *(head)->tqh_last = (elm);                                          \
    (head)->tqh_last = &(elm)->field.tqe_next;                          \
} while (0)

#define QTAILQ_REMOVE(head, elm, field) do {                            \
    if ((elm)->field.tqe_next != NULL) {                                \
        (elm)->field.tqe_next->field.tqe_prev = (elm)->field.tqe_prev;  \
    } else {                                                            \
        (head)->tqh_last = (elm)->field.tqe_prev;                       \
    }                                                                   \
    *(elm)->field.tqe_prev = (elm)->field.tqe_next;                     \
} while (0)

#define QTAILQ_FOREACH(var, head, field)                                \
    for ((var) = (head)->tqh_first; (var); (var) = (var)->field.tqe_next)

#define QTAILQ_FOREACH_SAFE(var, head, field, tmp)                      \
    for ((var) = (head)->tqh_first;                                     \
         (var) && ((tmp) = (var)->field.tqe_next, 1);                   \
         (var) = (tmp))

#endif
