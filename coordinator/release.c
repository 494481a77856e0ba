/* Releases sent to workers and kept until acknowledged, re-sent if not. */
#include "release.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_int.h"
#include "log.h"
#include "rows.h"

#define MOD "coord"

static void send_once(coord_t *c, long wi, const char *stream_id, uint64_t gen,
                      Prism__ReleaseReason why, bool at_keyframe)
{
    coord_worker_t *w = &c->workers[wi];
    Prism__Release r = PRISM__RELEASE__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    r.stream_id = (char *)stream_id;
    r.generation = gen;
    r.reason = why;
    r.at_keyframe = at_keyframe;
    env.body_case = PRISM__ENVELOPE__BODY_RELEASE;
    env.release = &r;
    farm_send(c, w->rid, w->rid_len, &env, w->id);
}

/* The unacknowledged Release of stream_id to worker wi, or NULL. */
static coord_release_t *release_find(coord_t *c, long wi, const char *stream_id)
{
    for (size_t i = 0; i < c->nreleases; i++)
        if (c->releases[i].worker == wi &&
            !strcmp(c->releases[i].stream, stream_id))
            return &c->releases[i];
    return NULL;
}

static void release_drop(coord_t *c, coord_release_t *r)
{
    coord_release_t *last = &c->releases[--c->nreleases];
    if (r != last)
        *r = *last;
}

/* Forgets every unacknowledged Release of worker wi (dead, or registering
 * again with the list of what it runs). */
void release_forget_worker(coord_t *c, long wi)
{
    for (size_t i = 0; i < c->nreleases;) {
        if (c->releases[i].worker == wi)
            release_drop(c, &c->releases[i]);
        else
            i++;
    }
}

/*
 * Sends a Release and keeps it until the worker acknowledges it (see
 * coord_release_t). A Release of the same stream to the same worker that
 * is still unacknowledged is replaced when this one is as new or newer (the
 * worker stops every generation up to it); an older one changes nothing.
 * With the table full, the Release is sent once and counted.
 */
void release_send(coord_t *c, long wi, const char *stream_id, uint64_t gen,
                  Prism__ReleaseReason why, bool at_keyframe)
{
    if (wi < 0 || strlen(stream_id) >= COORD_ID_MAX)
        return;
    coord_release_t *r = release_find(c, wi, stream_id);
    if (r && r->generation > gen)
        return;
    if (!r && c->nreleases < (size_t)c->cfg.release_pending_max) {
        size_t cap = (size_t)c->cfg.release_pending_max;
        if (!c->releases) {
            c->releases = malloc(cap * sizeof(*c->releases));
            if (!c->releases)
                log_error(MOD, "Cannot allocate the Release table.",
                          "entries=%zu", cap);
        }
        if (c->releases)
            r = &c->releases[c->nreleases++];
    }
    send_once(c, wi, stream_id, gen, why, at_keyframe);
    if (!r) {
        c->n.releases_untracked++;
        return;
    }
    r->worker = wi;
    snprintf(r->stream, sizeof(r->stream), "%s", stream_id);
    r->generation = gen;
    r->reason = why;
    r->at_keyframe = at_keyframe;
    r->sends = 1;
    r->backoff_ms = c->cfg.ack_timeout_ms;
    r->next_ms = clock_mono_ms() + r->backoff_ms;
}

/* True when a Release of this generation (or a newer one) of stream_id
 * waits for worker wi's Ack. */
bool release_pending(coord_t *c, long wi, const char *stream_id, uint64_t gen)
{
    const coord_release_t *r = release_find(c, wi, stream_id);
    return r && r->generation >= gen;
}

/* Sends again the Releases whose Ack is overdue, backing off. */
void release_resend_due(coord_t *c, int64_t now)
{
    for (size_t i = 0; i < c->nreleases; i++) {
        coord_release_t *r = &c->releases[i];
        if (now < r->next_ms)
            continue;
        send_once(c, r->worker, r->stream, r->generation,
                  (Prism__ReleaseReason)r->reason, r->at_keyframe);
        r->sends++;
        c->n.release_resends++;
        log_info(MOD, "Release not acknowledged: sent again.",
                 "worker=%s stream=%s generation=%" PRIu64 " sends=%d",
                 c->workers[r->worker].id, r->stream, r->generation, r->sends);
        r->backoff_ms *= 2;
        if (r->backoff_ms > c->cfg.release_retry_max_ms)
            r->backoff_ms = c->cfg.release_retry_max_ms;
        r->next_ms = now + r->backoff_ms;
    }
}

void release_acked(coord_t *c, long wi, const char *stream_id, uint64_t gen)
{
    coord_release_t *r = release_find(c, wi, stream_id);
    if (!r || gen < r->generation)
        return;
    rows_event(c, "stream.release_acked", c->workers[wi].id,
               farm_find_stream(c, stream_id) ? stream_id : NULL,
               json_pack("{s:s, s:I, s:i}", "stream", r->stream, "generation",
                         (json_int_t)r->generation, "sends", r->sends));
    release_drop(c, r);
}

size_t release_unacked(const coord_t *c)
{
    return c->nreleases;
}
