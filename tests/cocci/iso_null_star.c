void probe_port(Port *p, int n, char *buf)
{
    if (!p) {
        return;
    }
    if (p == NULL) {
        return;
    }
    if (NULL == buf) {
        return;
    }
    if (!(p->ops)) {
        return;
    }
    if (buf) {
        consume(buf);
    }
    while (p->next && n) {
        p = p->next;
    }
    mode = buf ? 1 : 2;
    last = buf;
    if (0 == n) {
        stop_port(p);
    }
}
