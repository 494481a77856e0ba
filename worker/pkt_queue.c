/* A bounded packet queue between a reader thread and a session thread. */
#include "pkt_queue.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    AVPacket *pkt;
    pkt_times_t times;
} item_t;

struct pkt_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    item_t *items;
    int cap, head, count;
    bool drop, dropping, finished, closed;
    int video_index;
    int64_t dropped;
};

pkt_queue_t *pkt_queue_new(int capacity, bool drop, int video_index)
{
    pkt_queue_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->items = calloc((size_t)(capacity > 0 ? capacity : 1), sizeof(item_t));
    if (!q->items) {
        free(q);
        return NULL;
    }
    q->cap = capacity > 0 ? capacity : 1;
    q->drop = drop;
    q->video_index = video_index;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    return q;
}

void pkt_queue_free(pkt_queue_t **qp)
{
    pkt_queue_t *q = qp ? *qp : NULL;
    if (!q)
        return;
    for (int i = 0; i < q->count; i++)
        av_packet_free(&q->items[(q->head + i) % q->cap].pkt);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->items);
    free(q);
    *qp = NULL;
}

int pkt_queue_put(pkt_queue_t *q, AVPacket *pkt, pkt_times_t times)
{
    int ret = 0;
    pthread_mutex_lock(&q->lock);
    if (q->drop && q->dropping && pkt->stream_index == q->video_index &&
        (pkt->flags & AV_PKT_FLAG_KEY))
        q->dropping = false;
    while (!q->closed && !q->drop && q->count == q->cap)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->closed) {
        ret = AVERROR_EXIT;
    } else if (q->count == q->cap ||
               (q->dropping && pkt->stream_index == q->video_index)) {
        q->dropped++;
        q->dropping = q->video_index >= 0;
        ret = 1;
    } else {
        AVPacket *copy = av_packet_alloc();
        if (!copy) {
            ret = AVERROR(ENOMEM);
        } else {
            av_packet_move_ref(copy, pkt);
            item_t *it = &q->items[(q->head + q->count) % q->cap];
            it->pkt = copy;
            it->times = times;
            q->count++;
            pthread_cond_broadcast(&q->cond);
        }
    }
    pthread_mutex_unlock(&q->lock);
    av_packet_unref(pkt);
    return ret;
}

void pkt_queue_finish(pkt_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->finished = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void pkt_queue_close(pkt_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int pkt_queue_get(pkt_queue_t *q, AVPacket *pkt, pkt_times_t *times)
{
    int ret;
    pthread_mutex_lock(&q->lock);
    while (!q->closed && !q->count && !q->finished)
        pthread_cond_wait(&q->cond, &q->lock);
    if (q->closed) {
        ret = AVERROR_EXIT;
    } else if (!q->count) {
        ret = AVERROR_EOF;
    } else {
        item_t *it = &q->items[q->head];
        av_packet_move_ref(pkt, it->pkt);
        av_packet_free(&it->pkt);
        if (times)
            *times = it->times;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_broadcast(&q->cond);
        ret = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int64_t pkt_queue_dropped(pkt_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    int64_t n = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int pkt_queue_depth(pkt_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
