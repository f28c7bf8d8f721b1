#include "qemu/osdep.h"

static int foo_load_blob(FooState *s, size_t len)
{
    uint8_t *blob = g_malloc(len);   /* guest-sized */
    int ret;
    size_t i;

    for (i = 0; i < len; i++) {
        blob[i] = foo_read_byte(s, i);
    }
    ret = foo_apply_blob(s, blob, len);
    g_free(blob);
    return ret;
}
