/* The SRT threads' bounded item queue to the event loop. */
#include "srt_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

void srt_queue_init(srt_queue_t *q, uint32_t max_pkts, int wake_fd)
{
    pthread_mutex_init(&q->mu, NULL);
    q->head = q->tail = NULL;
    q->npkts = 0;
    q->max_pkts = max_pkts;
    atomic_init(&q->dropped, 0);
    q->wake_fd = wake_fd;
}

void srt_queue_destroy(srt_queue_t *q)
{
    srtq_item_t *it;
    while ((it = srt_queue_pop(q)))
        srt_queue_item_free(&it);
    pthread_mutex_destroy(&q->mu);
}

static void wake(srt_queue_t *q)
{
    uint64_t one = 1;
    ssize_t r = write(q->wake_fd, &one, sizeof(one));
    (void)r;
}

void srt_queue_push(srt_queue_t *q, srtq_item_t *it)
{
    pthread_mutex_lock(&q->mu);
    if (it->kind == SRTQ_PKT && q->npkts >= q->max_pkts) {
        pthread_mutex_unlock(&q->mu);
        atomic_fetch_add(&q->dropped, 1);
        srt_queue_item_free(&it);
        return;
    }
    if (it->kind == SRTQ_PKT)
        q->npkts++;
    bool was_empty = q->head == NULL;
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    pthread_mutex_unlock(&q->mu);
    if (was_empty)
        wake(q);
}

srtq_item_t *srt_queue_pop(srt_queue_t *q)
{
    pthread_mutex_lock(&q->mu);
    srtq_item_t *it = q->head;
    if (it) {
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
        if (it->kind == SRTQ_PKT)
            q->npkts--;
    }
    pthread_mutex_unlock(&q->mu);
    return it;
}

void srt_queue_item_free(srtq_item_t **ip)
{
    if (!ip || !*ip)
        return;
    srtq_item_t *it = *ip;
    free((void *)it->info.extradata);
    pktbuf_unref(it->pkt.buf);
    free(it);
    *ip = NULL;
}

void srt_queue_post_end(srt_queue_t *q, void *pub, const char *why)
{
    srtq_item_t *end = calloc(1, sizeof(*end));
    if (!end) {
        log_error("srt", "Cannot tell the loop a publisher left.",
                  "call=calloc");
        return;
    }
    end->kind = SRTQ_END;
    end->publisher = pub;
    snprintf(end->why, sizeof(end->why), "%s", why);
    srt_queue_push(q, end);
}

uint64_t srt_queue_dropped(const srt_queue_t *q)
{
    return atomic_load(&((srt_queue_t *)q)->dropped);
}
