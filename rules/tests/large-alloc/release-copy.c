#include "qemu/osdep.h"

/* The lock is held on every path here: the failure path releases it too. */
static int bar_queue_push(BarQueue *q, size_t len)
{
    BarEntry *e;

    qemu_mutex_lock(&q->lock);
    if (q->closed) {
        qemu_mutex_unlock(&q->lock);
        return -EPIPE;
    }
    e = g_malloc(sizeof(*e) + len);
    e->len = len;
    QSIMPLEQ_INSERT_TAIL(&q->entries, e, next);
    qemu_mutex_unlock(&q->lock);
    return 0;
}

/* A guest structure mapped by a macro that assigns its first argument. */
static abi_long bar_do_send(int fd, abi_long guest_addr, ssize_t size)
{
    struct target_bar_msg *target_msg;
    struct bar_msg *host_msg;
    abi_long ret;

    if (!lock_user_struct(VERIFY_READ, target_msg, guest_addr, 0)) {
        return -TARGET_EFAULT;
    }
    host_msg = g_malloc(size + sizeof(long));
    host_msg->kind = tswapal(target_msg->kind);
    ret = get_errno(bar_send(fd, host_msg, size));
    g_free(host_msg);
    unlock_user_struct(target_msg, guest_addr, 0);
    return ret;
}

/* Releases with long arguments are wrapped at 80 columns. */
static int bar_region_copy(BarDevice *dev, uint64_t region_offset, size_t len)
{
    uint8_t *bounce;
    int ret;

    if (region_offset >= dev->region_size) {
        return -EINVAL;
    }
    bar_device_region_begin_access(dev->regions[dev->active_region_index],
                                   region_offset);
    bounce = g_malloc(len);
    ret = bar_region_read(dev, region_offset, bounce, len);
    bar_device_region_end_access(dev->regions[dev->active_region_index],
                                 region_offset);
    g_free(bounce);
    return ret;
}

/* The node changes after the allocation: a copy would unlock another one. */
static int bar_chain_walk(BarNode *node, size_t len)
{
    uint8_t *scratch;
    int ret;

    qemu_mutex_lock(&node->lock);
    scratch = g_malloc(len);
    if (node->next) {
        node = node->next;
    }
    ret = bar_node_fill(node, scratch, len);
    qemu_mutex_unlock(&node->lock);
    g_free(scratch);
    return ret;
}

/* Locked only when shared: whether it is held at the failure is for a human. */
static int bar_maybe_locked(BarState *s, size_t len)
{
    uint8_t *buf;
    int ret;

    if (s->shared) {
        qemu_mutex_lock(&s->lock);
    }
    buf = g_malloc(len);
    ret = bar_fill(s, buf, len);
    if (ret < 0) {
        qemu_mutex_unlock(&s->lock);
        return ret;
    }
    g_free(buf);
    return 0;
}

/* A release in another case of the switch concerns that case only. */
static abi_long bar_setopt(int fd, int opt, abi_ulong optval_addr,
                           size_t optlen)
{
    abi_long ret = -TARGET_EINVAL;

    switch (opt) {
    case BAR_OPT_KEY:
    {
        struct target_bar_key *tkey;

        if (!lock_user_struct(VERIFY_READ, tkey, optval_addr, 1)) {
            return -TARGET_EFAULT;
        }
        ret = get_errno(bar_set_key(fd, tkey->id));
        unlock_user_struct(tkey, optval_addr, 0);
        return ret;
    }
    case BAR_OPT_FILTER:
    {
        struct target_bar_filter *tfilter;
        uint32_t *rules;

        if (!lock_user_struct(VERIFY_READ, tfilter, optval_addr, 1)) {
            return -TARGET_EFAULT;
        }
        rules = g_malloc(optlen);
        bar_copy_rules(rules, tfilter, optlen);
        ret = get_errno(bar_set_filter(fd, rules, optlen));
        g_free(rules);
        unlock_user_struct(tfilter, optval_addr, 0);
        return ret;
    }
    }
    return ret;
}

/*
 * The entry is still being built when its table is allocated: its teardown
 * reads fields set later, so which release applies is for a human.
 */
static int bar_load_entry(BarState *s, QEMUFile *f)
{
    BarEntry *ent;

    ent = g_new0(BarEntry, 1);
    ent->image = bar_image_create(s, qemu_get_be32(f));
    if (!ent->image) {
        g_free(ent);
        return -EINVAL;
    }
    ent->nr_pages = qemu_get_be32(f);
    ent->pages = g_new(uint64_t, ent->nr_pages);
    if (bar_map_pages(s, ent) < 0) {
        bar_unmap_pages(s, ent);
        bar_image_unref(ent->image);
        g_free(ent);
        return -EINVAL;
    }
    QTAILQ_INSERT_HEAD(&s->entries, ent, next);
    return 0;
}
