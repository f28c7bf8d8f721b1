#include "qemu/osdep.h"
#include "qapi/error.h"

static int foo_open_image(FooImage *img, const char *name)
{
    img->fd = qemu_open_old(name, O_RDONLY);
    if (img->fd < 0) {
        return -1;
    }
    img->header = g_malloc(img->header_size);
    return 0;
}

static void foo_realize(DeviceState *dev, Error **errp)
{
    FooState *s = FOO(dev);

    s->ram = g_malloc0(s->ram_size);
}

static abi_long do_foo_ioctl(int fd, abi_ulong arg, size_t len)
{
    void *argp;
    abi_long ret;

    if (len > FOO_IOCTL_MAX) {
        return -TARGET_EINVAL;
    }
    argp = g_malloc(len);
    ret = get_errno(safe_ioctl(fd, FOO_IOCTL, argp));
    g_free(argp);
    return ret;
}

static target_ulong h_foo_get_log(PowerPCCPU *cpu, SpaprMachineState *spapr,
                                  target_ulong opcode, target_ulong *args)
{
    target_ulong len = args[1];
    uint8_t *log;

    if (len > FOO_LOG_MAX) {
        return H_PARAMETER;
    }
    log = g_malloc(len);
    foo_copy_log(spapr, log, len);
    g_free(log);
    return H_SUCCESS;
}

/* No failure value is known for an unsigned count: report only. */
static uint32_t foo_count_entries(FooState *s, size_t len)
{
    uint32_t n;

    s->entries = g_malloc(len);
    n = foo_parse(s->entries, len);
    return n;
}
