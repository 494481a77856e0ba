/* Reference-counted byte buffers shared by the GOP cache and ZeroMQ. */
#include "pktbuf.h"

#include <pthread.h>
#include <stdlib.h>

/*
 * Buffers up to 256 KiB come from per-size-class free lists (powers of two
 * from 512 bytes), so the steady state of a live stream allocates nothing:
 * a 12 KB video frame reuses the buffer of a frame libzmq released a few
 * milliseconds earlier. Each list holds at most POOL_BYTES of buffers (40
 * MiB over the ten classes); beyond that, and above 256 KiB, buffers go
 * back to malloc. One mutex guards the lists: the event loop takes
 * buffers, libzmq's I/O thread returns most of them.
 */
#define MIN_SHIFT  9
#define MAX_SHIFT  18
#define NCLASSES   (MAX_SHIFT - MIN_SHIFT + 1)
#define POOL_BYTES (4u << 20) /* per class */

typedef struct free_buf {
    struct free_buf *next;
} free_buf_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static free_buf_t *pool[NCLASSES];
static uint32_t pool_n[NCLASSES];
static atomic_long live_count;

/* Size class of a buffer of `total` bytes (header included), or -1. */
static int class_of(size_t total)
{
    for (int c = 0; c < NCLASSES; c++)
        if (total <= (size_t)1 << (MIN_SHIFT + c))
            return c;
    return -1;
}

pktbuf_t *pktbuf_new(uint32_t size)
{
    size_t total = sizeof(pktbuf_t) + (size ? size : 1);
    int c = class_of(total);
    pktbuf_t *b = NULL;
    if (c >= 0) {
        pthread_mutex_lock(&pool_mu);
        free_buf_t *f = pool[c];
        if (f) {
            pool[c] = f->next;
            pool_n[c]--;
        }
        pthread_mutex_unlock(&pool_mu);
        b = (pktbuf_t *)f;
        if (!b)
            b = malloc((size_t)1 << (MIN_SHIFT + c));
    } else {
        b = malloc(total);
    }
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
    if (atomic_fetch_sub_explicit(&b->ref, 1, memory_order_acq_rel) != 1)
        return;
    atomic_fetch_sub_explicit(&live_count, 1, memory_order_relaxed);
    int c = class_of(sizeof(pktbuf_t) + (b->size ? b->size : 1));
    if (c >= 0) {
        pthread_mutex_lock(&pool_mu);
        if (pool_n[c] < (POOL_BYTES >> (MIN_SHIFT + c))) {
            free_buf_t *f = (free_buf_t *)b;
            f->next = pool[c];
            pool[c] = f;
            pool_n[c]++;
            b = NULL;
        }
        pthread_mutex_unlock(&pool_mu);
    }
    free(b);
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

void pktbuf_pool_drain(void)
{
    pthread_mutex_lock(&pool_mu);
    for (int c = 0; c < NCLASSES; c++) {
        while (pool[c]) {
            free_buf_t *f = pool[c];
            pool[c] = f->next;
            free(f);
        }
        pool_n[c] = 0;
    }
    pthread_mutex_unlock(&pool_mu);
}
