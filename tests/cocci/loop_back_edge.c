void pump(Chan *ch, int more)
{
    while (more) {
        chan_lock(ch);
        chan_unlock(ch);
    }
}

void pump_for(Chan *ch, int more)
{
    for (;;) {
        chan_lock(ch);
        if (more)
            continue;
        chan_unlock(ch);
    }
}

void pump_do(Chan *ch, int more)
{
    do {
        chan_lock(ch);
        chan_unlock(ch);
    } while (more);
}

void pump_once(Chan *ch)
{
    chan_lock(ch);
    chan_unlock(ch);
}
