#include "qemu/osdep.h"

/*
 * 'fail:' would only free the NULL vector and store the errno the jumps
 * chose. The checks before the allocation return directly after setting
 * errno themselves: the allocation's failure does the same with ENOMEM.
 */
static struct quux_iovec *quux_lock_vec(abi_ulong addr, abi_ulong count)
{
    struct quux_iovec *vec;
    void *guest;
    int err = 0;

    if (count == 0) {
        errno = 0;
        return NULL;
    }
    if (count > QUUX_MAX_IOV) {
        errno = EINVAL;
        return NULL;
    }
    vec = g_new0(struct quux_iovec, count);
    guest = lock_user(VERIFY_READ, addr, count * sizeof(*vec), 1);
    if (!guest) {
        err = EFAULT;
        goto fail;
    }
    if (quux_convert_vec(vec, guest, count) < 0) {
        err = EINVAL;
        unlock_user(guest, addr, 0);
        goto fail;
    }
    unlock_user(guest, addr, 0);
    return vec;

fail:
    g_free(vec);
    errno = err;
    return NULL;
}

/*
 * Here no failure before the allocation returns directly: 'fail:' is the
 * common exit, and the jump sets the errno it stores.
 */
static struct quux_iovec *quux_lock_vec_checked(abi_ulong addr,
                                                abi_ulong count)
{
    struct quux_iovec *vec;
    void *guest;
    int err = 0;

    assert(count > 0 && count <= QUUX_MAX_IOV);
    vec = g_new0(struct quux_iovec, count);
    guest = lock_user(VERIFY_READ, addr, count * sizeof(*vec), 1);
    if (!guest) {
        err = EFAULT;
        goto fail;
    }
    memcpy(vec, guest, count * sizeof(*vec));
    unlock_user(guest, addr, 0);
    return vec;

fail:
    g_free(vec);
    errno = err;
    return NULL;
}
