#include "qemu/osdep.h"
#include "qapi/error.h"

/* Long lines wrap at 80 columns with aligned continuations; comments
 * beside a rewritten line stay. */
static int foo_configure_rings(FooControllerState *s, Error **errp)
{
    if (s->nr_rings == 0) {
        return -EINVAL;
    }
    if (s->has_shadow_rings) {
        s->shadow_descriptor_ring_caches = g_malloc0(n); /* guest */
    }
    return 0;
}

/* A space before '(' goes (checkpatch rejects it on a touched line);
 * tab-indented legacy code is reported, not touched. */
static int foo_legacy_mixer(FooMixer *m)
{
    if (!m->samples) {
        return -EINVAL;
    }
    m->mixbuf = g_malloc0 (m->samples << FOO_SHIFT);
	m->scratch = g_malloc(m->samples);
    return 0;
}
