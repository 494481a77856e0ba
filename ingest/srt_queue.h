/* The SRT threads' queue of items (admissions, tracks, packets, ends) to the
 * event loop: a mutex, a list and an eventfd, bounded in packets. */
#ifndef PRISM_SRT_QUEUE_H
#define PRISM_SRT_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "srt_admit.h"
#include "stream_hub.h"

typedef enum {
    SRTQ_ADMIT,
    SRTQ_TRACK,
    SRTQ_PKT,
    SRTQ_END,
} srtq_kind_t;

typedef struct srtq_item {
    struct srtq_item *next;
    srtq_kind_t kind;
    void *publisher;    /* TRACK, PKT, END */
    srt_admit_t *admit; /* ADMIT */
    uint32_t track;
    hub_track_info_t info; /* TRACK: extradata is owned by the item */
    hub_pkt_t pkt;         /* PKT: pkt.buf's reference is owned */
    char client[128];      /* TRACK: encoder name if the stream says it */
    double fps;            /* TRACK, video: frame rate, 0 when unknown */
    char why[200];         /* END: why the publisher left */
} srtq_item_t;

/* Any thread pushes, the event loop pops. Embedded in its owner. */
typedef struct srt_queue {
    pthread_mutex_t mu;
    srtq_item_t *head, *tail;
    uint32_t npkts, max_pkts;
    atomic_ullong dropped;
    int wake_fd; /* an eventfd, borrowed: written when an item lands in an
                    empty queue */
} srt_queue_t;

/* Sets up q for at most max_pkts PKT items, waking wake_fd (borrowed). */
void srt_queue_init(srt_queue_t *q, uint32_t max_pkts, int wake_fd);

/* Frees what q still holds; no thread may use q any more. */
void srt_queue_destroy(srt_queue_t *q);

/* Queues it (taken); a PKT item beyond the bound is freed and counted. */
void srt_queue_push(srt_queue_t *q, srtq_item_t *it);

/* Takes the next item, or NULL. The caller frees it with
 * srt_queue_item_free. */
srtq_item_t *srt_queue_pop(srt_queue_t *q);

/* Frees *ip and what it owns; NULL-safe, sets *ip to NULL. */
void srt_queue_item_free(srtq_item_t **ip);

/* Queues an END item: publisher pub (opaque) left, saying why (copied). */
void srt_queue_post_end(srt_queue_t *q, void *pub, const char *why);

/* PKT items dropped because the queue was full; any thread. */
uint64_t srt_queue_dropped(const srt_queue_t *q);

#endif
