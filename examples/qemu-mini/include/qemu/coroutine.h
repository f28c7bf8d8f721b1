/*
 * Coroutines (qemu-mini example tree)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QEMU_COROUTINE_H
#define QEMU_COROUTINE_H

/*
 * Marks a function that must run in coroutine context. It expands to
 * nothing; static analysers and reviewers use it.
 */
#define coroutine_fn

typedef struct CoMutex {
    unsigned locked;
    void *holder;
} CoMutex;

void qemu_co_mutex_init(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_lock(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_unlock(CoMutex *mutex);

#endif
