#include "qemu/osdep.h"
#include "qemu/error-report.h"

/*
 * Failures in this switch set 'ret' and break: the loop stops on a
 * non-zero 'ret' and the function returns it. The allocation's failure
 * leaves the same way.
 */
static int quux_state_load(QEMUFile *f, void *opaque, int version_id)
{
    QuuxState *s = opaque;
    int ret = 0;

    while (!ret) {
        uint64_t header = qemu_get_be64(f);

        switch (header & QUUX_FLAG_MASK) {
        case QUUX_FLAG_PAGES: {
            uint64_t count = qemu_get_be64(f);
            uint8_t *buf = g_malloc(count);

            qemu_get_buffer(f, buf, count);
            ret = quux_set_pages(s, header & ~QUUX_FLAG_MASK, buf, count);
            g_free(buf);
            break;
        }
        case QUUX_FLAG_ERROR:
            error_report("quux: incomplete state");
            ret = -EINVAL;
            break;
        case QUUX_FLAG_EOS:
            return 0;
        default:
            error_report("quux: unexpected flags %#" PRIx64, header);
            ret = -EINVAL;
        }
    }
    return ret;
}

/*
 * A command switch whose failures set 'ret' and break to 'return ret;'.
 */
static int quux_handle_cmd(QuuxState *s, QuuxCmd *cmd)
{
    int ret = 0;

    switch (cmd->code) {
    case QUUX_CMD_READ:
        if (cmd->len > s->max_len) {
            ret = -EINVAL;
            break;
        }
        s->bounce = g_malloc(cmd->len);
        ret = quux_dma_read(s, cmd, s->bounce);
        break;
    case QUUX_CMD_RESET:
        quux_reset(s);
        break;
    default:
        ret = -ENOSYS;
        break;
    }
    return ret;
}

/*
 * Here the switch is followed by more than the return: a break would run
 * quux_kick(), so the allocation's failure returns directly.
 */
static int quux_handle_cmd_kick(QuuxState *s, QuuxCmd *cmd)
{
    int ret = 0;

    switch (cmd->code) {
    case QUUX_CMD_READ:
        if (cmd->len > s->max_len) {
            ret = -EINVAL;
            break;
        }
        s->bounce = g_malloc(cmd->len);
        ret = quux_dma_read(s, cmd, s->bounce);
        break;
    default:
        ret = -ENOSYS;
        break;
    }
    quux_kick(s);
    return ret;
}
