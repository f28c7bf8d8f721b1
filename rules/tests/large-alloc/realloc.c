#include "qemu/osdep.h"

/* The old block must survive a failed resize: go through a temporary. */
static int foo_log_append(FooLog *log, const FooRecord *rec)
{
    if (!rec) {
        return -EINVAL;
    }
    if (log->used == log->cap) {
        log->cap *= 2;
        log->recs = g_realloc(log->recs, log->cap * sizeof(FooRecord));
    }
    log->recs[log->used++] = *rec;
    return 0;
}

static int foo_table_grow(FooTable *t, size_t n)
{
    if (n < t->n) {
        return -EINVAL;
    }
    t->ents = g_renew(FooEnt, t->ents, n);  /* keep old entries */
    t->idx = g_realloc_n(t->idx, n, sizeof(uint16_t));
    t->n = n;
    return 0;
}

/* The old block is not the one assigned: ownership is unclear, report. */
static int foo_table_copy(FooTable *t, FooTable *from, size_t n)
{
    if (!n) {
        return -EINVAL;
    }
    t->ents = g_realloc(from->ents, n);
    return 0;
}

/* Already through a local temporary: only the check is added. */
static int foo_table_resize(FooTable *t, size_t n)
{
    FooEnt *ents;

    if (n < t->n) {
        return -EINVAL;
    }
    ents = g_renew(FooEnt, t->ents, n);
    t->ents = ents;
    t->n = n;
    return 0;
}
