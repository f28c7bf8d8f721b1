#include "qemu/osdep.h"

/* A failed g_try_realloc leaves the old block where it was: when the
 * function allocated it into a local, the failure path frees it. */
static char *foo_node_path(FooTree *tree, int node)
{
    int path_len = FOO_PATH_CHUNK;
    char *path;

    if (node < 0) {
        return NULL;
    }
    path = g_malloc(path_len);
    while (foo_tree_get_path(tree, node, path, path_len) == -ENOSPC) {
        path_len += tree->path_chunk;
        path = g_realloc(path, path_len);
    }
    return path;
}
