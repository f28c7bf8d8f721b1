#include "qemu/osdep.h"

static int alloc_failed(void)
{
    fprintf(stderr, "opt: memory allocation failed\n");
    return -1;
}

static int opt_add_arg(OptArgs *args, const char *arg)
{
    char *copy = strdup(arg);

    if (!copy) {
        return alloc_failed();
    }
    return opt_push(args, copy);
}

static int opt_insert_arg(OptArgs *args, const char *name, const char *arg)
{
    char *joined = malloc(strlen(name) + strlen(arg) + 2);

    if (!joined) {
        return alloc_failed();
    }
    sprintf(joined, "%s=%s", name, arg);
    return opt_push(args, joined);
}

static int opt_expand(OptArgs *args, size_t extra)
{
    char **argv;

    if (opt_check(args) == -1) {
        return -1;
    }
    argv = g_new(char *, args->argc + extra);
    opt_copy(args, argv);
    return 0;
}
