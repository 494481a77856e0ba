/* prism-ingest's event loop: RTMP connections, SRT items, ZeroMQ sockets. */
#ifndef PRISM_INGEST_SERVER_H
#define PRISM_INGEST_SERVER_H

#include <stdint.h>

#include "ingest_config.h"

/*
 * How this works. One thread runs one epoll loop over: the RTMP listening
 * socket, every RTMP connection, the media ROUTER's and the coordinator
 * DEALER's ZMQ_FD, and an eventfd that the SRT threads (srt_ingest.h) and
 * ingest_server_stop write. All stream state (publishers, the stream hub,
 * pending admissions) belongs to that thread; nothing is locked.
 *
 * A publish (RTMP publish command, or an SRT listen callback's ADMIT item)
 * becomes a PublishRequest to the coordinator, remembered under its
 * request id until the PublishReply or admit_timeout_ms. Accepted: the
 * stream opens in the hub with the reply's stream id and subscribe token.
 * Refused: NetStream.Publish.BadName and the connection closes (SRT: a
 * rejection code), and the source address's refused-key count grows; past
 * bad_key_limit in bad_key_window_ms further publishes from it are refused
 * without asking. Without a coordinator (open mode) every key is accepted
 * with stream id = token = key. Every stats_interval_ms each live stream's
 * IngestStats goes to the coordinator; StreamEnd when its publisher leaves.
 *
 * The pending admissions are admission.h's table and the live streams
 * publisher.h's list; this loop feeds them and sends what they produce.
 *
 * Limits per connection: handshake_timeout_ms from accept to an accepted
 * publish, idle_timeout_ms of silence, and rtmp_conn's limits (chunk size,
 * message size, AMF depth, streams). Per address: max_conns_per_addr.
 */

typedef struct ingest_server ingest_server_t;

/* Counters, read with ingest_server_counters from any thread. */
typedef struct {
    uint64_t accepted;        /* RTMP connections accepted */
    uint64_t refused;         /* refused at accept (limits) */
    uint64_t closed_error;    /* closed for a protocol error or limit */
    uint64_t closed_timeout;  /* closed for handshake or idle timeout */
    uint64_t publish_ok;      /* publishes admitted (RTMP and SRT) */
    uint64_t publish_refused; /* publishes refused */
    uint64_t live_streams;    /* streams live now */
    uint64_t srt_dropped;     /* SRT packets dropped at the queue */
    /* SRT (srt_ingest_counters_t): refused in the listen callback without
     * asking the coordinator; accepted before the admission answer, and of
     * those closed for a refusal or no answer; closed for no data or no
     * media in idle_timeout_ms; closed for an unusable MPEG-TS stream. */
    uint64_t srt_refused, srt_deferred, srt_late_refused;
    uint64_t srt_closed_timeout, srt_closed_error;
} ingest_counters_t;

/*
 * Binds the RTMP listener, the SRT listener (unless srt_listen is empty)
 * and the media ROUTER, and connects to the coordinator (unless empty).
 * cfg is copied. Returns NULL on failure (logged). The sockets are handed
 * to the thread that calls ingest_server_run.
 */
ingest_server_t *ingest_server_new(const ingest_config_t *cfg);

/* Runs the loop until ingest_server_stop. Returns 0 or -errno. */
int ingest_server_run(ingest_server_t *s);

/* Asks the loop to return; safe from any thread or a signal handler. */
void ingest_server_stop(ingest_server_t *s);

/* Closes everything; NULL-safe. Call after ingest_server_run returned. */
void ingest_server_free(ingest_server_t **sp);

int ingest_server_rtmp_port(const ingest_server_t *s);
int ingest_server_srt_port(const ingest_server_t *s);
/* The media ROUTER's bound endpoint (tcp://ADDR:PORT). */
const char *ingest_server_media_endpoint(const ingest_server_t *s);
void ingest_server_counters(ingest_server_t *s, ingest_counters_t *out);

#endif
