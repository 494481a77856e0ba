/* Releases sent to workers and kept until acknowledged, re-sent if not. */
#ifndef PRISM_RELEASE_H
#define PRISM_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "farm.h"

/*
 * A Release sent to a worker and not yet acknowledged: it is sent again
 * after ack_timeout_ms, then at doubling intervals up to
 * release_retry_max_ms, until the worker's Ack (of = release) arrives or
 * the worker is declared dead or registers again (its running list is
 * reconciled then). The table holds release_pending_max of them.
 */
typedef struct {
    long worker;
    char stream[COORD_ID_MAX];
    uint64_t generation;
    int reason; /* Prism__ReleaseReason */
    bool at_keyframe;
    int sends;
    int64_t next_ms;
    int64_t backoff_ms;
} coord_release_t;

/*
 * Sends a Release of stream_id's generation gen to worker wi (none when
 * wi < 0) and keeps it until the worker acknowledges it. A Release of the
 * same stream to the same worker that is still unacknowledged is replaced
 * when this one is as new or newer (the worker stops every generation up
 * to it); an older one changes nothing. With the table full, the Release
 * is sent once and counted (releases_untracked).
 */
void release_send(coord_t *c, long wi, const char *stream_id, uint64_t gen,
                  Prism__ReleaseReason why, bool at_keyframe);

/* True when a Release of this generation (or a newer one) of stream_id
 * waits for worker wi's Ack. */
bool release_pending(coord_t *c, long wi, const char *stream_id, uint64_t gen);

/* Worker wi acknowledged the Release of stream_id's generation gen: the
 * one it answers (as new or older) is dropped, with an event. */
void release_acked(coord_t *c, long wi, const char *stream_id, uint64_t gen);

/* Forgets every unacknowledged Release of worker wi (dead, or registering
 * again with the list of what it runs). */
void release_forget_worker(coord_t *c, long wi);

/* Sends again the Releases whose Ack is overdue at now, backing off. */
void release_resend_due(coord_t *c, int64_t now);

/* Releases waiting for an Ack (/metrics). */
size_t release_unacked(const coord_t *c);

#endif
