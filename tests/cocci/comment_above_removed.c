static void teardown(Port *p)
{
    port_flush(p); /* flush first */
    legacy_notify(p);
    /* tell the old listeners */
    /* (they may be gone) */
    legacy_notify(p);
    /* spaced comment */

    legacy_notify(p);
    p->state = 0; /* same line */ legacy_notify(p);
    /* before a replaced call */
    legacy_notify(p->peer);
}
