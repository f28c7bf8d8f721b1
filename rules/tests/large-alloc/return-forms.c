#include "qemu/osdep.h"
#include "qapi/error.h"

/* Callers already handle NULL: return what g_try_malloc0 returns. */
static FooReq *foo_req_new(FooState *s, size_t len)
{
    if (s->stopped) {
        return NULL;
    }
    return g_malloc0(len);
}

/* With errp: report, then return NULL. */
FooTable *foo_table_new(uint32_t entries, Error **errp)
{
    if (!entries) {
        error_setg(errp, "A table needs at least one entry");
        return NULL;
    }
    return g_new0(FooTable, entries);
}

/* Callers never saw NULL before: a stub asks a human to check them. */
static void *foo_dma_buf(FooState *s, size_t len)
{
    return qemu_memalign(FOO_DMA_ALIGN, len);
}
