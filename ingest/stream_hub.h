/* Live streams: tracks, GOP cache, and credit-based forwarding to workers. */
#ifndef PRISM_STREAM_HUB_H
#define PRISM_STREAM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktbuf.h"

/*
 * How this works. The hub owns the media ROUTER socket (bound by the
 * caller) and every live stream. A publisher's connection pushes packets
 * into its stream with hub_stream_packet; the stream keeps the packets
 * from the last video key frame on, and those of the key frames within
 * gop_history_ms before it (the GOP cache, gop_cache.h, bounded in
 * packets and bytes), and forwards each packet to every subscriber.
 *
 * A worker subscribes by sending Subscribe{stream_id, token, credit,
 * history_ms} on a DEALER; the token must equal the one the coordinator
 * issued for the stream. A Subscribe from a peer already subscribed to
 * the stream is answered again (tracks, the larger credit kept) without
 * replaying anything; to start over, Unsubscribe first. The answer is a
 * SubscribeReply with the tracks (codec, extradata, sizes, time base),
 * then the GOP cache from the newest key frame (with history_ms: from the
 * newest key frame at least that long before the newest packet), then
 * live packets. Each payload costs its size in credit; Credit{bytes} adds
 * more. The hub never sends a packet larger than the credit left: it
 * drops it, counts the drop, and drops everything else for that
 * subscriber up to the next video key frame, whose header then carries
 * discontinuity = true. The
 * MediaHeader's seq is the stream's packet number (gaps are drops) and
 * `dropped` the subscription's drops so far. Payloads are sent without a
 * copy: each send takes a pktbuf reference that libzmq releases.
 *
 * Packets leave in bursts: hub_stream_packet queues them in a bounded
 * outbox and hub_flush, called once per event-loop turn, sends them. A
 * burst wakes libzmq's I/O thread once and lets it write several messages
 * per system call, where a send per packet could wake it per packet
 * (prism-bench ingest, 200 streams: 10-25% fewer voluntary context
 * switches in the ingest). The outbox flushes itself when full, and
 * before anything that must keep its order with the queued packets (a
 * subscription, credit, a track change, a stream's end).
 *
 * Threads: everything here runs on the ingest's event-loop thread.
 */

typedef struct hub hub_t;
typedef struct hub_stream hub_stream_t;

typedef struct {
    uint32_t gop_max_packets; /* GOP cache bound in packets */
    uint64_t gop_max_bytes;   /* GOP cache bound in payload bytes */
    uint32_t max_subscribers; /* subscriptions per stream */
    uint32_t max_streams;     /* live streams in the hub */
    int64_t gop_history_ms;   /* earlier key frames kept (gop_cache.h) */
} hub_limits_t;

/* One media packet pushed by a publisher. */
typedef struct {
    pktbuf_t *buf; /* borrowed: the hub takes its own references */
    uint32_t off, len;
    uint32_t track;
    int64_t pts, dts; /* in the track's time base */
    uint32_t duration;
    bool keyframe;
    int64_t recv_us; /* clock_mono_us when the bytes arrived */
} hub_pkt_t;

/* What a track is; extradata is copied. */
typedef struct {
    uint32_t kind;  /* Prism__TrackKind */
    uint32_t codec; /* Prism__Codec */
    const uint8_t *extradata;
    uint32_t extradata_len;
    uint32_t width, height, sample_rate, channels;
    uint32_t tb_num, tb_den;
} hub_track_info_t;

/* Counters of one stream. */
typedef struct {
    uint64_t packets_in, bytes_in;
    uint64_t video_frames, keyframes;
    uint64_t packets_sent, bytes_sent;
    uint64_t dropped;        /* over all subscriptions */
    uint64_t gop_overflows;  /* GOP cache emptied because it grew too big */
    uint64_t ts_raised;      /* packets whose dts did not increase: raised */
    int64_t last_key_dts_ms; /* for the key frame interval */
    double key_interval_s;
    uint32_t subscribers;
} hub_stream_stats_t;

#define HUB_MAX_TRACKS 4
/* The largest extradata (codec configuration) a track keeps, bytes. */
#define HUB_EXTRADATA_MAX (1u << 20)

/*
 * Returns a hub sending on `router` (borrowed; a ZMQ_ROUTER, ideally with
 * ROUTER_MANDATORY) as node `sender` (copied), or NULL (out of memory).
 */
hub_t *hub_new(void *router, const char *sender, const hub_limits_t *lim);

/* Closes every stream and frees the hub; the socket stays the caller's. */
void hub_free(hub_t **hp);

/*
 * Opens a stream. Returns NULL when stream_id is already live, the hub is
 * full, or memory runs out (each logged).
 */
hub_stream_t *hub_stream_open(hub_t *h, const char *stream_id,
                              const char *token);

/*
 * Ends a stream and its subscriptions: the queued packets go out, then
 * each subscriber gets a StreamEnd with `why` (so a worker ends its input
 * at once instead of waiting for silence). Sets *sp = NULL. NULL-safe.
 */
void hub_stream_close(hub_t *h, hub_stream_t **sp, const char *why);

/*
 * Sets or changes track `index` (< HUB_MAX_TRACKS). A change of extradata
 * while subscribers exist resends them the SubscribeReply and flags the
 * track's next packet new_extradata. Returns 0, -EINVAL (index out of
 * range, extradata over HUB_EXTRADATA_MAX) or -ENOMEM.
 */
int hub_stream_set_track(hub_t *h, hub_stream_t *s, uint32_t index,
                         const hub_track_info_t *t);

/* Track index's info, or NULL when not set. Borrowed: the extradata
 * pointer stays valid until the track changes or the stream closes. */
const hub_track_info_t *hub_stream_track(const hub_stream_t *s, uint32_t index);

/*
 * Pushes one packet: cached (GOP) and queued for the subscribers, to
 * whom hub_flush forwards it within their credit. Returns 0. When memory
 * runs out the GOP cache is emptied until the next key frame (counted in
 * gop_overflows); forwarding goes on.
 */
int hub_stream_packet(hub_t *h, hub_stream_t *s, const hub_pkt_t *p);

/* Sends every queued packet to its stream's subscribers. Call once per
 * event-loop turn, after the turn's input. */
void hub_flush(hub_t *h);

/* Handles every message waiting on the router (non-blocking). */
void hub_handle_router(hub_t *h);

const char *hub_stream_id(const hub_stream_t *s);
const hub_stream_stats_t *hub_stream_stats(const hub_stream_t *s);
hub_stream_t *hub_find(hub_t *h, const char *stream_id);

/* Iteration over live streams: first, then next (NULL at the end). */
hub_stream_t *hub_first(hub_t *h);
hub_stream_t *hub_next(hub_stream_t *s);

/* Total subscriptions refused (bad token, unknown stream, full). */
uint64_t hub_refused(const hub_t *h);

#endif
