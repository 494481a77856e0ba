/* A bounded packet queue between a reader thread and a session thread. */
#ifndef PRISM_PKT_QUEUE_H
#define PRISM_PKT_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

/*
 * One producer, one consumer. The bound is a packet count. A queue made
 * with drop = true never blocks the producer: when full, the packet is
 * dropped, and so is every later video packet until the next video
 * keyframe (a decoder cannot use them); each dropped packet is counted.
 * Otherwise the producer waits for room (files: nothing is lost).
 */
typedef struct pkt_queue pkt_queue_t;

/* Returns NULL on allocation failure. video_index is the stream index
 * whose keyframes end a drop run (-1: none). */
pkt_queue_t *pkt_queue_new(int capacity, bool drop, int video_index);
void pkt_queue_free(pkt_queue_t **qp);

/* When a packet came: read_us, av_gettime_relative() when the worker read
 * it; arrival_unix_us, the wall clock (Unix us) at which it reached the
 * ingest from the publisher (0: unknown). */
typedef struct {
    int64_t read_us;
    int64_t arrival_unix_us;
} pkt_times_t;

/*
 * Takes the packet's reference (pkt is left blank) with its times. Returns 0, 1
 * when it was dropped, or AVERROR_EXIT after pkt_queue_close().
 */
int pkt_queue_put(pkt_queue_t *q, AVPacket *pkt, pkt_times_t times);
/* Marks the end of input: get() returns AVERROR_EOF once empty. */
void pkt_queue_finish(pkt_queue_t *q);
/* Wakes both sides for shutdown; later puts fail, gets return EXIT. */
void pkt_queue_close(pkt_queue_t *q);
/*
 * Waits for a packet and moves it into pkt, its times into *times (may be
 * NULL). Returns 0, AVERROR_EOF after
 * finish(), or AVERROR_EXIT after close().
 */
int pkt_queue_get(pkt_queue_t *q, AVPacket *pkt, pkt_times_t *times);
/* Packets dropped so far; any thread. */
int64_t pkt_queue_dropped(pkt_queue_t *q);

/* Packets waiting in the queue now; any thread. */
int pkt_queue_depth(pkt_queue_t *q);

#endif
