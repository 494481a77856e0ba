/* Reference-counted byte buffers shared by the GOP cache and ZeroMQ. */
#include "pktbuf.h"

#include <stdlib.h>

static atomic_long live_count;

pktbuf_t *pktbuf_new(uint32_t size)
{
    pktbuf_t *b = malloc(sizeof(*b) + (size ? size : 1));
    if (!b)
        return NULL;
    atomic_init(&b->ref, 1);
    b->size = size;
    atomic_fetch_add_explicit(&live_count, 1, memory_order_relaxed);
    return b;
}

pktbuf_t *pktbuf_ref(pktbuf_t *b)
{
    atomic_fetch_add_explicit(&b->ref, 1, memory_order_relaxed);
    return b;
}

void pktbuf_unref(pktbuf_t *b)
{
    if (!b)
        return;
    if (atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) == 1) {
        atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
        free(b);
    }
}

void pktbuf_free(pktbuf_t **bp)
{
    if (!bp)
        return;
    pktbuf_unref(*bp);
    *bp = NULL;
}

void pktbuf_zmq_free(void *data, void *hint)
{
    (void)data;
    pktbuf_unref(hint);
}

long pktbuf_live(void)
{
    return atomic_load_explicit(&live_count, memory_order_relaxed);
}
