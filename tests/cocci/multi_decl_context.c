void setup_queue(void)
{
    int depth, limit = 16, burst;
    unsigned *head, count = 8;

    run(depth, limit, burst, head, count);
}
