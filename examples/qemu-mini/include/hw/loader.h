/*
 * Loading images into guest memory (qemu-mini example tree)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LOADER_H
#define LOADER_H

#include "exec/memory.h"

/* Returns the number of bytes read, or -1 on error. */
ssize_t load_image_size(const char *filename, void *addr, size_t size);
void rom_add_blob_fixed(const char *name, const void *blob, size_t len,
                        hwaddr addr);

#endif
