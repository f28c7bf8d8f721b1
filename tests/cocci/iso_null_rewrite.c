static int attach_queue(Queue *q, Dev *dev)
{
    if (!q)
        return -EINVAL;
    if (dev == NULL)
        return -ENODEV;
    if (0 == q->depth)
        return -ENOSPC;
    q->dev = dev;
    return 0;
}
