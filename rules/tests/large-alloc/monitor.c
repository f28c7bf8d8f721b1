#include "qemu/osdep.h"
#include "monitor/monitor.h"

/* Monitor commands report on the monitor and never exit (R6). */
FooDump *qmp_x_foo_dump(uint64_t len, Error **errp)
{
    FooDump *dump;

    if (len > FOO_DUMP_MAX) {
        error_setg(errp, "Dump length %" PRIu64 " is too large", len);
        return NULL;
    }
    dump = g_new0(FooDump, 1);
    dump->data = g_malloc(len);
    foo_dump_fill(dump->data, len);
    return dump;
}

void hmp_foo_dump(Monitor *mon, const QDict *qdict)
{
    uint64_t len = qdict_get_int(qdict, "len");
    uint8_t *buf;

    buf = g_malloc(len);
    foo_dump_fill(buf, len);
    monitor_printf(mon, "%02x\n", buf[0]);
    g_free(buf);
}
