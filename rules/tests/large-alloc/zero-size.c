#include "qemu/osdep.h"

/* NULL means failure only when the size is non-zero: g_try_malloc(0)
 * returns NULL. Sizes proven positive need no guard; the aligned
 * allocators never return NULL for zero. */
static int foo_alloc_bufs(FooState *s, size_t n)
{
    if (n > FOO_MAX_BUFS) {
        return -EINVAL;
    }
    s->fixed = g_malloc(FOO_BUF_SIZE * 64);
    s->per_buf = g_malloc0(n * sizeof(FooBuf));
    s->total = g_malloc(MAX(n, 1) * FOO_BUF_SIZE);
    s->pages = qemu_memalign(FOO_PAGE_SIZE, n * FOO_PAGE_SIZE);
    s->bytes = g_malloc(foo_next_size(s));
    return 0;
}
