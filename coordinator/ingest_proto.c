/* The ingest protocol: Hello, StreamEnd, IngestStats; silent ingests. */
#include "ingest_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_int.h"
#include "log.h"
#include "ops.h"
#include "release.h"
#include "rows.h"

#define MOD "coord"

void ingest_proto_hello(coord_t *c, const envelope_peer_t *peer,
                        const Prism__Envelope *env)
{
    const Prism__Hello *h = env->hello;
    if (h->role != PRISM__NODE_ROLE__NODE_ROLE_INGEST)
        return; /* workers introduce themselves with Register */
    coord_ingest_t *in = farm_ingest_seen(c, peer, h->node_id);
    if (in) {
        snprintf(in->endpoint, sizeof(in->endpoint), "%s",
                 h->media_endpoint ? h->media_endpoint : "");
        rows_event(c, "ingest.hello", NULL, NULL,
                   json_pack("{s:s, s:s}", "ingest", in->id, "endpoint",
                             in->endpoint));
        c->pending_dirty = true; /* its streams can be placed now */
    }
    farm_send_register_ack(c, peer->rid, peer->rid_len, in != NULL,
                           in ? "" : "bad ingest id or registry full",
                           h->node_id);
}

/*
 * Stream s lost its publisher (WHY). A stream that was ever placed has
 * playlists viewers follow, and waits reconnect_grace_ms for it (an
 * encoder's auto-reconnect, perhaps through another ingest) whatever its
 * state: running (its worker holds the playlists open), being placed or
 * moved, or waiting after a failure (it is not placed while its publisher
 * is away, ops.c placeable). A publish with the channel's key in that time
 * continues the stream (publish.c admit); the tick ends it when the time
 * runs out. A stream never placed (its source's size never came) ends
 * now.
 */
static void publisher_left(coord_t *c, coord_stream_t *s, const char *why)
{
    if (c->cfg.reconnect_grace_ms > 0 && s->placements > 0 && !s->left_ms) {
        s->left_ms = clock_mono_ms();
        rows_event(c, "stream.publisher_left", farm_worker_id(c, s->worker),
                   s->id,
                   json_pack("{s:s, s:s, s:I}", "reason", why, "state",
                             farm_stream_state_name(s->state), "grace_ms",
                             (json_int_t)c->cfg.reconnect_grace_ms));
        return;
    }
    if (!s->left_ms)
        ops_stop_stream(c, s, why);
}

/* The stream named STREAM_ID when the ingest that says something about
 * it (PEER, SENDER) is its ingest, else NULL: after a publisher moved to
 * another ingest, what the first one says late about its old publish is
 * not the stream's. */
static coord_stream_t *ingests_stream(coord_t *c, const envelope_peer_t *peer,
                                      const char *sender, const char *stream_id)
{
    const coord_ingest_t *in = farm_ingest_seen(c, peer, sender);
    coord_stream_t *s = farm_find_stream(c, stream_id);
    return s && in && !strcmp(in->id, s->ingest) ? s : NULL;
}

/* The ingest says a stream's publisher is gone. */
void ingest_proto_stream_end(coord_t *c, const envelope_peer_t *peer,
                             const Prism__Envelope *env)
{
    coord_stream_t *s =
        ingests_stream(c, peer, env->sender, env->stream_end->stream_id);
    const char *why = env->stream_end->reason && env->stream_end->reason[0]
                          ? env->stream_end->reason
                          : "publisher left";
    if (!s)
        return;
    publisher_left(c, s, why);
}

void ingest_proto_stats(coord_t *c, const envelope_peer_t *peer,
                        const Prism__Envelope *env)
{
    const Prism__IngestStats *st = env->ingest_stats;
    coord_stream_t *s = ingests_stream(c, peer, env->sender, st->stream_id);
    if (!s)
        return;
    if (st->bytes_in > s->bytes_in) { /* the publisher still sends */
        s->bytes_in = st->bytes_in;
        s->media_ms = clock_mono_ms();
    }
    s->in_kbps = st->bitrate_kbps;
    s->in_fps = st->fps;
    s->in_keyframe_s = st->keyframe_interval_s;
    s->in_dropped = st->dropped_packets;
    /* An audio codec and no video one: the ingest found no video after
     * the audio (radio, music); placed with the audio-only ladder. */
    bool audio_only =
        st->source && !st->source->video_codec && st->source->audio_codec;
    if (s->awaiting_source && st->source &&
        ((st->source->width && st->source->height) || audio_only)) {
        s->src_info = *st->source;
        s->src_info.client = NULL;
        envelope_source_to_ladder(st->source, &s->source);
        if (audio_only)
            ladder_audio_only(&s->ladder);
        if (audio_only || ladder_apply(&s->prof, &s->source, &s->ladder) == 0) {
            s->awaiting_source = false;
            rows_stream(c, s);
            if (ops_place_stream(c, s,
                                 audio_only ? "audio-only source"
                                            : "source size known") < 0)
                rows_event(c, "stream.pending", NULL, s->id,
                           json_pack("{s:s}", "reason", "no capacity"));
        }
    }
    rows_stats(c, s, st);
}

void ingest_proto_check(coord_t *c, int64_t now)
{
    /* Ingests gone silent: their streams lose their publishers (and wait
     * for them as when a publisher leaves: it may come back through
     * another ingest). The record (endpoint, key) stays for when it
     * speaks again. */
    for (size_t i = 0; i < c->ningests; i++) {
        coord_ingest_t *in = &c->ingests[i];
        if (in->lost || now - in->last_seen_ms <= c->cfg.node_timeout_ms)
            continue;
        in->lost = true;
        int ended = 0;
        for (size_t k = 0; k < c->nslots; k++) {
            coord_stream_t *s = &c->streams[k];
            if (s->state != STREAM_FREE && s->state != STREAM_RECOVERING &&
                !strcmp(s->ingest, in->id)) {
                publisher_left(c, s, "ingest lost");
                ended++;
            }
        }
        if (ended)
            rows_event(
                c, "ingest.lost", NULL, NULL,
                json_pack("{s:s, s:i}", "ingest", in->id, "streams", ended));
    }
}
