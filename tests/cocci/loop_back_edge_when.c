void refill(Pool *pool, int n)
{
    Buf *b;

    while (n--) {
        pool_wait(pool);
        consume(b);
        b = pool_take(pool);
    }
}

void refill_for(Pool *pool, int n)
{
    Buf *b;
    int i;

    for (i = 0; i < n; i = step(b)) {
        pool_wait(pool);
        b = pool_take(pool);
    }
}

void refill_plain(Pool *pool, int n)
{
    Buf *b;

    while (n--) {
        pool_wait(pool);
        b = pool_take(pool);
    }
}
