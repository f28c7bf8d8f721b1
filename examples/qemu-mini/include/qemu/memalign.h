/*
 * Aligned memory allocation (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_MEMALIGN_H
#define QEMU_MEMALIGN_H

/* Returns NULL when the allocation fails. */
void *qemu_try_memalign(size_t alignment, size_t size);
/* Exits QEMU when the allocation fails. */
void *qemu_memalign(size_t alignment, size_t size);
/* Frees memory from either of the above. */
void qemu_vfree(void *ptr);

#endif
