/* Reference-counted byte buffers: one allocation per RTMP message, shared
 * by the GOP cache and every ZeroMQ send without copying. */
#ifndef PRISM_PKTBUF_H
#define PRISM_PKTBUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pktbuf {
    atomic_int ref;
    uint32_t size; /* bytes in data */
    uint8_t data[];
} pktbuf_t;

/*
 * Returns a buffer of `size` bytes with one reference, or NULL when memory
 * runs out. Contents are uninitialised.
 */
pktbuf_t *pktbuf_new(uint32_t size);

/* Takes one more reference; returns b. Safe from any thread. */
pktbuf_t *pktbuf_ref(pktbuf_t *b);

/*
 * Drops one reference and frees the buffer on the last one. NULL-safe and
 * safe from any thread (libzmq calls it from its I/O thread).
 */
void pktbuf_unref(pktbuf_t *b);

/* Drops the reference held in *bp and sets *bp = NULL. */
void pktbuf_free(pktbuf_t **bp);

/* ZeroMQ free function (zmq_free_fn) whose hint is a pktbuf_t. */
void pktbuf_zmq_free(void *data, void *hint);

/* Buffers alive now, process wide (tests check nothing leaks). */
long pktbuf_live(void);

/*
 * Frees the pooled free buffers (they are reused by pktbuf_new until
 * then). Call at exit so that leak checkers see a clean heap.
 */
void pktbuf_pool_drain(void);

#endif
