/* A packet source fed by the ingest's media ROUTER over ZeroMQ. */
#ifndef PRISM_ZMQ_SOURCE_H
#define PRISM_ZMQ_SOURCE_H

#include <stdint.h>

#include "curve_keys.h"
#include "packet_source.h"

/* Where and how to subscribe. Strings are copied. */
typedef struct {
    const char *endpoint;   /* the ingest's media ROUTER, tcp://... */
    const char *server_key; /* its CURVE public key (Z85); NULL = plain */
    const curve_keypair_t *client_key; /* ours; borrowed during open */
    const char *stream_id;
    const char *token;
    uint64_t credit_bytes; /* credit kept granted */
    int timeout_ms;        /* give up subscribing after this */
    int idle_ms;           /* no media this long: read() returns EOF */
    int fps_num, fps_den;  /* video frame rate hint (SourceInfo), or 0 */
    uint32_t history_ms;   /* the ingest's cache from this far back */
} zmq_source_opts_t;

/* Counters; any thread. */
typedef struct {
    int64_t packets;
    int64_t bytes;
    int64_t dropped;        /* drops the ingest reported (MediaHeader) */
    int64_t last_input_ms;  /* media time of the last packet, ms */
    int64_t last_packet_us; /* clock_mono_us when it arrived */
    int64_t first_packet_us;
} zmq_source_stats_t;

/*
 * Connects a DEALER to the ingest, sends Subscribe (again every 200 ms
 * while the ingest does not know the stream yet) and waits for an
 * accepting SubscribeReply, whose tracks become the source's streams
 * (codec, extradata, size, time base). Returns NULL after timeout_ms, on
 * a refusal (bad token) or bad tracks; each logged once.
 *
 * The socket is created on the calling thread and then used only by the
 * thread that calls read() (the session's reader thread; pthread_create
 * in between hands it over). read() keeps the ingest's credit topped up
 * as payloads are consumed, turns MediaHeader + payload into an AVPacket
 * (one copy into a padded buffer, which decoders need), passes changed
 * extradata as AV_PKT_DATA_NEW_EXTRADATA, and returns AVERROR_EOF after
 * idle_ms without media. interrupt() is safe from any thread.
 */
packet_source_t *zmq_source_open(const zmq_source_opts_t *o);

/*
 * Makes read() end the input (AVERROR_EOF) at the next video keyframe,
 * which is not delivered: the session closes its segments on a boundary
 * the worker taking the stream over starts from. Any thread.
 */
void zmq_source_end_at_keyframe(packet_source_t *src);

/* Copies the counters of a source made by zmq_source_open; any thread. */
void zmq_source_stats(packet_source_t *src, zmq_source_stats_t *out);

#endif
