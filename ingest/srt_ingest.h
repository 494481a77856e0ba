/* SRT listener: stream key from the streamid, MPEG-TS demuxed by libavformat.
 */
#ifndef PRISM_SRT_INGEST_H
#define PRISM_SRT_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr_limit.h"
#include "srt_admit.h"
#include "srt_queue.h"

/*
 * How this works. libsrt has its own threads and blocking calls, so SRT
 * runs beside the event loop, never inside it: one listener thread accepts,
 * and each publisher gets a thread that reads its SRT socket through a
 * custom AVIOContext into libavformat's mpegts demuxer. Everything those
 * threads learn goes to the event loop as items on one queue (a mutex, a
 * list and an eventfd to wake the loop): ADMIT (a key to check), TRACK
 * (codec, extradata), PKT (a packet in a pktbuf), END (the publisher left).
 * The queue is bounded in PKT items; beyond the bound packets are dropped
 * and counted. The event loop owns every stream; the threads only hold an
 * opaque publisher pointer the loop gave them, valid until their END item.
 *
 * Admission happens in libsrt's listen callback, before the connection is
 * accepted, so a refused key gets a real SRT rejection code: the callback
 * posts ADMIT and waits for the loop's answer via srt_admit_done.
 * Bad key: SRT_REJX_FORBIDDEN (1403); rate limited address:
 * SRT_REJX_OVERLOAD (1402); stream already live: SRT_REJX_CONFLICT (1409);
 * no answer from the coordinator: SRT_REJX_DOWN (1503). The streamid is
 * "#!::r=KEY,m=publish" (the SRT Access Control syntax) or the plain key.
 *
 * The callback runs on libsrt's receiver thread, which also reads every
 * socket accepted on the port, so its wait freezes every SRT publisher
 * here. It waits at most admit_wait_ms (none while an earlier admission
 * is still open, so slow answers do not add up); when the answer is late,
 * the connection is accepted and its publisher thread waits for the
 * answer, closing the connection (no rejection code is possible then) on
 * a refusal or when none comes within admit_timeout_ms.
 *
 * A publisher is closed after idle_timeout_ms without a byte, or without
 * an audio or video packet (junk that never demuxes; the first packet may
 * take idle_timeout_ms + 2 s of probing). Each close is logged once with
 * its cause and counted (srt_ingest_counters).
 *
 * Where: the listener, its callback and accept loop here; a publisher's
 * thread in srt_conn.c, its streams as tracks in srt_tracks.c; the queue
 * in srt_queue.c and the admission questions in srt_admit.c.
 */

typedef struct srt_ingest srt_ingest_t;

/*
 * Starts listening on `listen` (HOST:PORT; port 0 picks one) and the
 * listener thread. admit_wait_ms bounds the listen callback's wait for an
 * admission answer (see above); at or above admit_timeout_ms every
 * decision is made in the callback. Items go to the queue and wake_fd (an
 * eventfd, borrowed) is written. `limits` (borrowed) is checked for
 * rate-limited addresses. Returns NULL on failure (logged with
 * srt_getlasterror_str).
 */
srt_ingest_t *srt_ingest_new(const char *listen, int latency_ms,
                             int idle_timeout_ms, int admit_timeout_ms,
                             int admit_wait_ms, uint32_t queue_packets,
                             addr_limit_t *limits, int wake_fd);

/* Stops the threads, closes every socket, drains the queue; NULL-safe. */
void srt_ingest_free(srt_ingest_t **sp);

/* The bound port. */
int srt_ingest_port(const srt_ingest_t *s);

/* Takes the next item, or NULL. The event loop frees it with
 * srt_queue_item_free and answers an ADMIT item with srt_admit_done. */
srtq_item_t *srt_ingest_pop(srt_ingest_t *s);

/* How SRT connections were refused or closed; any thread may read. */
typedef struct {
    uint64_t refused;        /* in the listen callback without asking:
                                no key, bad streamid, rate limit, full */
    uint64_t deferred;       /* accepted before the admission answer */
    uint64_t late_refused;   /* of those, closed: refused or no answer */
    uint64_t closed_timeout; /* no data, or no media packet, in time */
    uint64_t closed_error;   /* not a usable MPEG-TS stream */
} srt_ingest_counters_t;

void srt_ingest_counters(srt_ingest_t *s, srt_ingest_counters_t *out);

/* PKT items dropped because the queue was full. */
uint64_t srt_ingest_dropped(const srt_ingest_t *s);

/*
 * Extracts the stream key from an SRT streamid: the r= value of a
 * "#!::" access-control string, or the whole id. Returns 0, or -EINVAL
 * when there is no key or it does not fit in out[outlen], or the mode
 * (m=) is not publish.
 */
int srt_ingest_parse_streamid(const char *sid, char *out, size_t outlen);

#endif
