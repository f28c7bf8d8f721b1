#include "qemu/osdep.h"

static int delta_cache_setup(DeltaState *s, size_t page_size, size_t nr_pages)
{
    Error *local_err = NULL;

    delta_cache_lock(s);

    s->scratch = g_malloc0(page_size);

    s->cache = page_cache_init(nr_pages, page_size, &local_err);
    if (!s->cache) {
        error_report_err(local_err);
        goto free_scratch;
    }

    s->encoded = g_malloc0(page_size);

    s->decoded = g_malloc(page_size);

    delta_cache_unlock(s);
    return 0;

free_encoded:
    g_free(s->encoded);
    s->encoded = NULL;
free_cache:
    page_cache_fini(s->cache);
    s->cache = NULL;
free_scratch:
    g_free(s->scratch);
    s->scratch = NULL;
err_out:
    delta_cache_unlock(s);
    return -ENOMEM;
}

static int ring_submit(RingState *r, RingReq *req, size_t len)
{
    int ret;

    req->bounce = NULL;
    r->in_flight++;
    if (len > r->max_len) {
        ret = -EINVAL;
        goto out_dec;
    }
    req->bounce = qemu_blockalign(r->bs, len);
    ret = ring_push(r, req);
    if (ret < 0) {
        goto out_free;
    }
    return 0;

out_free:
    qemu_vfree(req->bounce);
out_dec:
    r->in_flight--;
    return ret;
}

static int ring_prepare(RingState *r, RingReq *req, size_t len)
{
    int ret;

    req->iov = g_malloc(len);
    r->in_flight++;
    ret = ring_push(r, req);
    if (ret < 0) {
        goto out_dec;
    }
    return 0;

out_dec:
    r->in_flight--;
    g_free(req->iov);
    return ret;
}
