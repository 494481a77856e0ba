/* A live stream's recent packets, from a key frame on, for new subscribers. */
#ifndef PRISM_GOP_CACHE_H
#define PRISM_GOP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "pktbuf.h"

/*
 * How this works. The cache holds a stream's packets from a start point
 * on: a video key frame (any packet of an audio-only stream), where a
 * decoder can begin. It keeps the start points of the last keep_ms as
 * well as the newest one: a worker that takes a stream over asks for
 * history (gop_cache_from) so that each of its renditions can go on where
 * the one before it ended, and renditions end up to a segment apart when
 * a worker dies (the encoded ones lag the remuxed Source). A new
 * subscriber without history starts at the newest start point.
 *
 * Bounds: max_packets and max_bytes. A packet that would pass them drops
 * the oldest GOP first; when the newest GOP alone is too big the cache is
 * emptied and stays empty until the next start point (an overflow).
 */

/* One packet as the hub keeps it; buf is a reference the holder owns. */
typedef struct {
    pktbuf_t *buf;
    uint32_t off, len;
    uint32_t track;
    int64_t pts, dts; /* in the track's time base */
    uint32_t duration;
    bool keyframe;
    uint64_t seq;
    bool start;      /* a start point: the cache may begin here */
    int64_t at_ms;   /* dts in milliseconds, for keep_ms and history */
    int64_t recv_us; /* clock_mono_us when it arrived from the publisher */
} gop_entry_t;

typedef struct {
    gop_entry_t *e;
    uint32_t n, cap;
    uint64_t bytes;
    bool valid; /* the cache begins at a start point */
    uint32_t max_packets;
    uint64_t max_bytes;
    int64_t keep_ms; /* start points kept this far behind the newest */
} gop_cache_t;

/* An empty cache with these bounds (keep_ms 0: the newest GOP only). */
void gop_cache_init(gop_cache_t *c, uint32_t max_packets, uint64_t max_bytes,
                    int64_t keep_ms);

/* Drops every packet (their references) and frees the storage. */
void gop_cache_free(gop_cache_t *c);

/* Drops every packet; the cache waits for the next start point. */
void gop_cache_clear(gop_cache_t *c);

/*
 * Adds E (taking a reference to its buffer) when the cache is valid or E
 * is a start point, which also drops the start points older than keep_ms
 * before it. Returns 1 when the bounds (or memory) made the cache
 * overflow: it is empty until the next start point; else 0.
 */
int gop_cache_push(gop_cache_t *c, const gop_entry_t *e);

/*
 * Where a subscriber asking for HISTORY_MS begins: the newest start point
 * at least that long before the newest packet, else the oldest one kept;
 * with HISTORY_MS 0 the newest start point. Returns an index into c->e
 * (c->n when the cache is empty).
 */
uint32_t gop_cache_from(const gop_cache_t *c, int64_t history_ms);

#endif
