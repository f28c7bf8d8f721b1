#include "qemu/osdep.h"
#include "qapi/error.h"

/* The label returns a constant: jump without a status variable. */
static int foo_parse(FooState *s, size_t len)
{
    uint8_t *buf;

    if (len > FOO_MAX) {
        goto fail;
    }
    buf = g_malloc(len);
    if (foo_read(s, buf, len) < 0) {
        g_free(buf);
        goto fail;
    }
    g_free(buf);
    return 0;
fail:
    foo_reset(s);
    return -1;
}

/* The label propagates a local Error: set it there, errp is set once. */
static void foo_setup(FooState *s, size_t len, Error **errp)
{
    Error *local_err = NULL;

    foo_probe(s, &local_err);
    if (local_err) {
        goto out;
    }
    s->cache = g_malloc0(len);
    foo_fill_cache(s, &local_err);
out:
    error_propagate(errp, local_err);
}

/* The label frees a buffer allocated later: jumping early would free an
 * uninitialised pointer, so return directly instead. */
static int foo_convert(FooState *s, size_t len)
{
    uint8_t *in;
    uint8_t *out;
    int ret;

    if (!len) {
        return -EINVAL;
    }
    in = g_malloc(len);
    out = g_malloc(len * 2);
    ret = foo_decode(s, in, out, len);
    if (ret < 0) {
        goto fail;
    }
    return 0;
fail:
    g_free(out);
    g_free(in);
    return ret;
}
