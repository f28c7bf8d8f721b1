#include "qemu/osdep.h"

/* Statements over several lines are restated whole, continuations stay
 * aligned with the call's parenthesis; a line the longer name would push
 * past 80 columns is wrapped after '='. */
static int foo_alloc_caches(FooState *s, FooExtent *extent)
{
    uint32_t *index_table = g_new0(uint32_t,
                                   extent->nr_entries * FOO_INDEX_WAYS);

    if (!extent->enabled) {
        return -EINVAL;
    }
    extent->l2_cache =
        g_malloc(extent->entry_size * extent->l2_size * FOO_L2_CACHE_SIZE);
    s->descriptor_table = g_malloc0_n(extent->nr_descriptors,
                                      sizeof(FooDescriptor));
    s->shadow_descriptor_table_copy = g_malloc(extent->descriptor_bytes * 2);
    s->staging = g_malloc(extent->cluster_size *
                          extent->nr_clusters); /* one pass */
    foo_index_init(index_table, extent);
    return 0;
}
