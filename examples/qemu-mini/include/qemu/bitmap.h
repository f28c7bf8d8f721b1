/*
 * Bitmaps (qemu-mini example tree)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef BITMAP_H
#define BITMAP_H

#define BITS_PER_LONG (sizeof(unsigned long) * 8)
#define BITS_TO_LONGS(nr) DIV_ROUND_UP(nr, BITS_PER_LONG)

unsigned long *bitmap_try_new(long nbits);
unsigned long *bitmap_new(long nbits);
void bitmap_set(unsigned long *map, long start, long nr);
void bitmap_clear(unsigned long *map, long start, long nr);

#endif
