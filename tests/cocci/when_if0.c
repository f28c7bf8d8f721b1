static int poll_ring(Ring *r, int budget)
{
    int i, done = 0;
#if 0
    for (i = 0; i < budget; i++) {
        trace_slot(r, i);
    }
#endif
    done = ring_drain(r, budget);
    return done;
}
