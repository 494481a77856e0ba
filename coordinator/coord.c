/* The coordinator's event loop: farm state, protocol, timers, leadership. */

/*
 * How this works
 *
 * One thread runs coord_run's zmq_poll loop and owns everything: the control
 * ROUTER (CURVE, ZAP allowlist, ROUTER_MANDATORY, every send ZMQ_DONTWAIT so
 * a slow or gone peer costs a counted failure, never a stall), the inproc
 * ROUTER the HTTP thread asks through (coord_api.c), the PostgreSQL socket
 * (store.c) and the timers. No locks guard farm state because no other
 * thread touches it.
 *
 * Leadership: the loop first connects to PostgreSQL and takes the advisory
 * lock ha_lock_key with pg_try_advisory_lock, retrying every ha_retry_ms.
 * Only then does it reload the streams the database says are live (state
 * RECOVERING), bind the control socket and start the API. The lock belongs
 * to the database session: when the leader dies its session ends and a
 * standby's next try succeeds. A leader whose connection breaks keeps
 * serving (running streams need nothing from the database) and takes the
 * lock again on reconnect; if another coordinator holds it by then, this one
 * stops (-EBUSY) so that two never place at once.
 *
 * Streams: a PublishRequest is checked against the channel row (salted
 * SHA-256, constant-time compare), fitted to the channel's ladder profile and
 * placed (placement.c). Each placement gets generation + 1 and is sent as an
 * Assign; the worker's Ack, or a load report showing the session, confirms
 * it. Unacknowledged Assigns are re-sent, then placed elsewhere. A worker's
 * re-registration lists what it runs: what matches is adopted ("what is
 * really running wins", also after a coordinator restart), what is stale is
 * released, and Assigns it lacks are sent again.
 *
 * Failures: a worker silent for missed_reports intervals is dead; every
 * stream it ran is re-placed in the same pass, highest priority first, with
 * discontinuity set. A session that fails (the worker's Ack ok = false with
 * its error, a hung session found by liveness.c, an Assign never
 * acknowledged) goes through stream_failed: the stream waits
 * fail_backoff_min_ms, doubling per failure to fail_backoff_max_ms, before
 * place_pending takes it again (on another worker if one fits); fail_limit
 * failures in fail_window_ms mark it FAILED, retried every fail_retry_ms
 * while its publisher is there; fail_reset_ms of running clears it all.
 * So a stream whose every session fails is placed a handful of times a
 * minute, never in a loop. A worker that drops one rendition of a running
 * session reports it in its load report; that is shown, not re-placed. A slow
 * worker becomes overloaded (no new streams) and sheds its lowest-priority
 * stream. Streams with no room wait as PENDING and are retried on every
 * change of capacity and every pending_retry_ms.
 */
#include "coord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "coord_http.h"
#include "db_migrate.h"
#include "idmap.h"
#include "coord_int.h"
#include "log.h"
#include "ops.h"
#include "release.h"
#include "rows.h"
#include "streamkey.h"
#include "zctx.h"
#include "zsock.h"

#define MOD "coord"

/* ---------------------------------------------------------------- limits */

/*
 * Messages the control socket queues per peer, each way, ten times zsock's
 * default. Sends never wait: a full queue is a counted send failure. A
 * worker is sent a few messages per stream when many move at once (a
 * failover, the reconciliation after a restart), so this leaves room for a
 * worker carrying thousands of streams; a queue that still fills belongs
 * to a peer that has stopped reading.
 */
#define CONTROL_HWM 10000

/*
 * Control messages handled in one go before the loop turns to the API,
 * PostgreSQL and its timers: a flood on the control socket holds them up
 * for this many messages at most.
 */
#define CONTROL_BATCH_MAX 1000

/*
 * The timed checks (dead workers, unacknowledged Assigns and Releases, the
 * reconnect and reconcile graces, silent ingests) run this many times per
 * report interval: a worker is declared dead at most report_ms / 4 after
 * its deadline.
 */
#define CHECKS_PER_REPORT 4

/*
 * Longest zmq_poll wait. The timers (heartbeats, pending retries, the
 * allowlist re-read) run when the poll returns, so this is how late one
 * can be when no message wakes the loop.
 */
#define POLL_MAX_MS 100

/* The start-up's PostgreSQL backoff sleeps in slices this long, so a stop
 * signal during a long backoff is seen within one. */
#define STOP_CHECK_MS 50

/* ---------------------------------------------------------------- helpers */

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    static const char hx[] = "0123456789abcdef";
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (streamkey_random(b, nbytes) < 0) {
        /* getrandom does not fail on Linux >= 3.17; keep ids unique. */
        uint64_t t = (uint64_t)clock_mono_us();
        for (size_t i = 0; i < nbytes; i++)
            b[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

/* A random (version 4) UUID as text: what streams are named by. */
static void random_uuid(char *out)
{
    char h[33];
    random_hex(h, 16);
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
             h + 20);
}

/* ---------------------------------------------------------------- workers */

/* Refuses a Register, saying why in the RegisterAck. */
static void register_refuse(coord_t *c, const envelope_peer_t *peer,
                            const char *to, const char *reason)
{
    farm_send_register_ack(c, peer->rid, peer->rid_len, false, reason, to);
}

/* The index of worker id, added when new (*fresh); -1 when refused. */
static long register_slot(coord_t *c, const envelope_peer_t *peer,
                          const char *id, bool *fresh)
{
    long wi;
    *fresh = !farm_find_worker(c, id, &wi);
    if (!*fresh)
        return wi; /* a live worker's old reservations are rebuilt from its
                      running list */
    wi = farm_worker_add(c, id);
    if (wi == -ENOSPC) {
        register_refuse(c, peer, id, "worker registry full");
        log_warn(MOD, "Registration refused: registry full.",
                 "worker=%s max=%lld", id, (long long)c->cfg.max_workers);
    } else if (wi < 0) {
        register_refuse(c, peer, id, "out of memory");
    }
    return wi < 0 ? -1 : wi;
}

/* Device d as placement and the API see it; the reservations in pd stay. */
static void device_from_proto(placement_device_t *pd, coord_device_info_t *di,
                              const Prism__Device *d)
{
    if (placement_kind_parse(envelope_device_kind_name(d->kind), &pd->kind) < 0)
        pd->kind = PLACEMENT_KIND_CPU;
    pd->hw_encode = d->hw_encode;
    pd->enc_codecs = 0;
    for (size_t j = 0; j < d->n_encode_codecs; j++) {
        ladder_codec_t lc;
        if (d->encode_codecs[j] != PRISM__CODEC__CODEC_UNSPECIFIED &&
            envelope_codec_from_proto(d->encode_codecs[j], &lc) == 0)
            pd->enc_codecs |= 1u << lc;
    }
    pd->max_sessions = (int)d->max_sessions;
    pd->enc_budget = d->encode_budget;
    pd->dec_budget = d->decode_budget;
    memset(&pd->measured, 0, sizeof(pd->measured));
    di->index = d->index;
    di->kind = pd->kind;
    snprintf(di->name, sizeof(di->name), "%s", d->name ? d->name : "");
    snprintf(di->path, sizeof(di->path), "%s", d->path ? d->path : "");
    snprintf(di->note, sizeof(di->note), "%s", d->note ? d->note : "");
    di->memory_bytes = d->memory_bytes;
    di->encoder_util = -1;
    di->decoder_util = -1;
}

/* Takes the worker's description from its Register: host, software and
 * devices (the reservations of streams still placed here are kept: only
 * the description changes). */
static void register_describe(coord_t *c, long wi, const envelope_peer_t *peer,
                              const Prism__Register *r, bool fresh)
{
    coord_worker_t *w = &c->workers[wi];
    placement_worker_t *pw = &c->pworkers[wi];
    memcpy(w->rid, peer->rid, peer->rid_len);
    w->rid_len = peer->rid_len;
    snprintf(w->host, sizeof(w->host), "%s", r->host ? r->host : "");
    snprintf(w->software, sizeof(w->software), "%s",
             r->software ? r->software : "");
    w->state = WORKER_LIVE;
    w->last_seen_ms = clock_mono_ms();
    w->registered_wall_ms = clock_wall_ms();
    pw->live = true;
    pw->overloaded = false;
    pw->max_host_sessions = (int)r->max_host_sessions;
    size_t nd =
        r->n_devices < COORD_MAX_DEVICES ? r->n_devices : COORD_MAX_DEVICES;
    for (size_t k = 0; k < nd; k++) {
        placement_device_t *pd = &c->pdevices[pw->first_device + k];
        if (fresh || k >= pw->ndevices)
            memset(pd, 0, sizeof(*pd));
        device_from_proto(pd, &w->dev[k], r->devices[k]);
    }
    pw->ndevices = nd;
    w->ndevices = (int)nd;
}

/* Adopts stream s where worker wi runs it (generation gen, device dev):
 * what really runs wins. */
static void adopt_stream(coord_t *c, coord_stream_t *s, long wi, uint64_t gen,
                         uint32_t dev)
{
    s->worker = wi;
    s->device = (long)(c->pworkers[wi].first_device + dev);
    s->generation = gen;
    s->confirmed = true;
    if (s->kept == 0)
        s->kept = farm_full_mask(s);
    placement_cost_of(&s->ladder, &s->source, s->kept, &s->cost);
    placement_reserve(&c->pdevices[s->device], &s->cost, +1, false);
    s->state = STREAM_RUNNING;
    liveness_session_init(&s->live, clock_mono_ms());
    rows_event(c, "stream.adopted", c->workers[wi].id, s->id,
               json_pack("{s:I}", "generation", (json_int_t)s->generation));
    rows_stream(c, s);
}

/* Reconciles what a registering worker says it runs: what matches is
 * adopted, what is stale released. Counts into adopted and released. */
static void register_running(coord_t *c, long wi, const Prism__Register *r,
                             int *adopted, int *released)
{
    size_t nd = c->pworkers[wi].ndevices;
    for (size_t i = 0; i < r->n_running; i++) {
        const Prism__RunningStream *rs = r->running[i];
        coord_stream_t *s = farm_find_stream(c, rs->stream_id);
        bool ours = s && s->worker == wi && s->generation == rs->generation;
        bool recovering = s && s->state == STREAM_RECOVERING &&
                          rs->generation >= s->generation;
        bool orphan =
            s && s->state == STREAM_PENDING && rs->generation >= s->generation;
        if ((recovering || orphan) && rs->device_index < nd) {
            adopt_stream(c, s, wi, rs->generation, rs->device_index);
            (*adopted)++;
        } else if (ours) {
            if (s->state == STREAM_ASSIGNING)
                s->state = STREAM_RUNNING;
        } else {
            release_send(c, wi, rs->stream_id, rs->generation,
                         s ? PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED
                           : PRISM__RELEASE_REASON__RELEASE_REASON_STREAM_ENDED,
                         false);
            (*released)++;
        }
    }
}

/* Sends again the Assigns worker wi should have but does not list. */
static int register_resend(coord_t *c, long wi, const Prism__Register *r)
{
    int resent = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        coord_stream_t *s = &c->streams[i];
        if (s->state == STREAM_FREE || s->worker != wi)
            continue;
        bool listed = false;
        for (size_t j = 0; j < r->n_running && !listed; j++)
            listed = !strcmp(r->running[j]->stream_id, s->id) &&
                     r->running[j]->generation == s->generation;
        if (!listed) {
            s->state = STREAM_ASSIGNING;
            s->assign_tries = 0;
            ops_send_assign(c, s);
            resent++;
        }
    }
    return resent;
}

static void handle_register(coord_t *c, const envelope_peer_t *peer,
                            const Prism__Envelope *env)
{
    const Prism__Register *r = env->register_;
    const char *id = r->worker_id;
    if (!id || !id[0] || strlen(id) >= COORD_ID_MAX ||
        (peer->user_id[0] && strcmp(peer->user_id, id))) {
        log_warn(MOD, "Registration refused: id does not match its key.",
                 "worker=%s user=%s", id ? id : "", peer->user_id);
        register_refuse(c, peer, id ? id : "?",
                        "worker_id must be set and match the key name");
        return;
    }
    bool fresh;
    long wi = register_slot(c, peer, id, &fresh);
    if (wi < 0)
        return;
    register_describe(c, wi, peer, r, fresh);
    farm_send_register_ack(c, peer->rid, peer->rid_len, true, NULL, id);
    /* Reconcile what it says it runs (this replaces the Releases that
     * waited for its Ack: what it still runs gets one again). */
    release_forget_worker(c, wi);
    int adopted = 0, released = 0;
    register_running(c, wi, r, &adopted, &released);
    int resent = register_resend(c, wi, r);
    coord_worker_t *w = &c->workers[wi];
    rows_event(c, fresh ? "worker.registered" : "worker.reregistered", w->id,
               NULL,
               json_pack("{s:s, s:i, s:i, s:i, s:i}", "host", w->host,
                         "devices", w->ndevices, "adopted", adopted, "released",
                         released, "resent", resent));
    rows_worker(c, wi, true);
    c->pending_dirty = true;
}

static long worker_of_peer(coord_t *c, const envelope_peer_t *peer,
                           const Prism__Envelope *env)
{
    const char *id = peer->user_id[0] ? peer->user_id : env->sender;
    long wi;
    coord_worker_t *w = id ? farm_find_worker(c, id, &wi) : NULL;
    if (!w || w->state != WORKER_LIVE)
        return -1;
    /* A reconnect can give the same worker a new routing id. */
    if (w->rid_len != peer->rid_len ||
        memcmp(w->rid, peer->rid, peer->rid_len)) {
        memcpy(w->rid, peer->rid, peer->rid_len);
        w->rid_len = peer->rid_len;
    }
    return wi;
}

/* Keeps the renditions the worker reports dropped from the stream's
 * current generation; each new one is an event. */
static void note_rendition_failures(coord_t *c, coord_stream_t *s,
                                    const coord_worker_t *w,
                                    const Prism__SessionLoad *sl)
{
    if (s->rfail_generation != s->generation) {
        s->rfail_generation = s->generation;
        s->nrfail = 0;
    }
    for (size_t i = 0; i < sl->n_failed_renditions; i++) {
        const Prism__RenditionFailure *f = sl->failed_renditions[i];
        const char *name = f->name ? f->name : "";
        bool known = false;
        for (int k = 0; k < s->nrfail && !known; k++)
            known = !strcmp(s->rfail[k].name, name);
        if (known || s->nrfail >= LADDER_MAX_RUNGS)
            continue;
        coord_rend_failure_t *r = &s->rfail[s->nrfail++];
        snprintf(r->name, sizeof(r->name), "%s", name);
        snprintf(r->error, sizeof(r->error), "%s", f->error ? f->error : "");
        c->n.rendition_failures++;
        rows_event(c, "stream.rendition_failed", w->id, s->id,
                   json_pack("{s:s, s:s, s:I}", "rendition", r->name, "error",
                             r->error, "generation",
                             (json_int_t)s->generation));
    }
}

static void handle_report(coord_t *c, const envelope_peer_t *peer,
                          const Prism__Envelope *env)
{
    long wi = worker_of_peer(c, peer, env);
    if (wi < 0) {
        farm_send_not_registered(c, peer, env->sender);
        return;
    }
    coord_worker_t *w = &c->workers[wi];
    placement_worker_t *pw = &c->pworkers[wi];
    const Prism__LoadReport *r = env->load_report;
    int64_t now = clock_mono_ms();
    w->last_seen_ms = now;
    w->reports++;
    for (size_t i = 0; i < r->n_devices; i++) {
        const Prism__DeviceLoad *d = r->devices[i];
        if (d->index >= pw->ndevices)
            continue;
        placement_device_t *pd = &c->pdevices[pw->first_device + d->index];
        pd->measured.sessions = (int)d->sessions;
        pd->measured.encode_pixels = d->encode_pixels;
        pd->measured.decode_pixels = d->decode_pixels;
        w->dev[d->index].encoder_util = d->encoder_util;
        w->dev[d->index].decoder_util = d->decoder_util;
    }
    bool slow = false;
    for (size_t i = 0; i < r->n_sessions; i++) {
        const Prism__SessionLoad *sl = r->sessions[i];
        coord_stream_t *s = farm_find_stream(c, sl->stream_id);
        if (!s || s->worker != wi || s->generation != sl->generation) {
            bool finishing =
                s && s->moving_from == wi && s->moving_gen == sl->generation;
            if (!finishing &&
                !release_pending(c, wi, sl->stream_id, sl->generation) &&
                (!s || s->generation > sl->generation || s->worker != wi))
                release_send(
                    c, wi, sl->stream_id, sl->generation,
                    s ? PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED
                      : PRISM__RELEASE_REASON__RELEASE_REASON_STREAM_ENDED,
                    false);
            continue;
        }
        if (!s->confirmed) {
            placement_confirm(&c->pdevices[s->device], &s->cost);
            s->confirmed = true;
        }
        if (s->state == STREAM_ASSIGNING) {
            s->state = STREAM_RUNNING;
            rows_stream(c, s);
            rows_assignment(c, s, "running");
        }
        s->speed = sl->speed;
        s->fps = sl->fps;
        s->dropped = sl->dropped_packets;
        s->origin_puts = sl->origin_puts;
        s->origin_put_failed = sl->origin_put_failed;
        s->origin_deletes = sl->origin_deletes;
        s->origin_delete_failed = sl->origin_delete_failed;
        s->origin_dropped = sl->origin_dropped;
        note_rendition_failures(c, s, w, sl);
        liveness_state_t ls = liveness_session_report(
            &c->lcfg, &s->live, now, sl->last_output_pts_ms,
            sl->last_input_pts_ms, sl->speed);
        if (ls == LIVENESS_HUNG && s->left_ms) {
            /* No input since the publisher left: waiting, not hung. */
        } else if (ls == LIVENESS_HUNG) {
            c->n.hung_sessions++;
            uint64_t g = s->generation;
            ops_stream_failed(c, s,
                              "session hung: its output stopped advancing",
                              "stream.hung", NULL);
            release_send(c, wi, s->id, g,
                         PRISM__RELEASE_REASON__RELEASE_REASON_MOVED, false);
        } else if (ls == LIVENESS_SLOW) {
            slow = true;
        }
    }
    if (slow && !pw->overloaded) {
        pw->overloaded = true;
        c->n.overloads++;
        rows_event(c, "worker.overloaded", w->id, NULL, NULL);
        ops_shed_one(c, wi);
    } else if (!slow && pw->overloaded) {
        pw->overloaded = false;
        rows_event(c, "worker.recovered", w->id, NULL, NULL);
        c->pending_dirty = true;
    }
}

static void handle_ack(coord_t *c, const envelope_peer_t *peer,
                       const Prism__Envelope *env)
{
    long wi = worker_of_peer(c, peer, env);
    const Prism__Ack *a = env->ack;
    if (wi < 0 || !a->stream_id)
        return;
    if (a->of == PRISM__ACK__OF__OF_RELEASE) {
        release_acked(c, wi, a->stream_id, a->generation);
        return;
    }
    coord_stream_t *s = farm_find_stream(c, a->stream_id);
    if (!s || s->worker != wi || s->generation != a->generation ||
        a->of != PRISM__ACK__OF__OF_ASSIGN)
        return;
    if (a->ok) {
        if (s->state == STREAM_ASSIGNING) {
            s->state = STREAM_RUNNING;
            rows_stream(c, s);
            rows_assignment(c, s, "running");
        }
        return;
    }
    /* The session did not start, or ran and ended with an error: the
     * failure policy decides when it is placed again. */
    ops_stream_failed(c, s, a->error, "stream.assign_failed", NULL);
}

/* ---------------------------------------------------------------- ingests */

static void handle_hello(coord_t *c, const envelope_peer_t *peer,
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
    }
    farm_send_register_ack(c, peer->rid, peer->rid_len, in != NULL,
                           in ? "" : "bad ingest id or registry full",
                           h->node_id);
}

static void publish_reply(coord_t *c, const unsigned char *rid, size_t rid_len,
                          uint64_t req_id, const coord_stream_t *s,
                          const char *reject)
{
    Prism__PublishReply r = PRISM__PUBLISH_REPLY__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    r.request_id = req_id;
    r.accepted = s != NULL;
    if (s) {
        r.stream_id = (char *)s->id;
        r.channel = (char *)s->channel;
        r.worker_id = (char *)farm_worker_id(c, s->worker);
        r.subscribe_token = (char *)s->token;
    } else {
        r.reason = (char *)reject;
        c->n.rejections++;
    }
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REPLY;
    env.publish_reply = &r;
    farm_send(c, rid, rid_len, &env, "ingest");
}

/* Whether addr (its /64 for IPv6) has used up its bad keys. */
static bool badkey_limited(coord_t *c, const char *addr)
{
    return addr_limit_blocked(c->badkeys, addr, clock_mono_ms());
}

/* Counts a bad key from addr; a full table drops it, logged. */
static void badkey_count(coord_t *c, const char *addr)
{
    if (addr_limit_bad_key(c->badkeys, addr, clock_mono_ms()) < 0)
        log_warn(MOD, "Bad key not counted: the address table is full.",
                 "addr=%s bad_key_addrs=%lld", addr,
                 (long long)c->cfg.bad_key_addrs);
}

typedef struct {
    coord_t *c;
    unsigned char rid[ENVELOPE_RID_MAX];
    size_t rid_len;
    uint64_t request_id;
    char ingest[COORD_ID_MAX];
    char addr[64];
    char key[STREAMKEY_MAX];
    char protocol[8];
    Prism__SourceInfo src;
} publish_ctx_t;

/* The profile from its ladder_profiles document, else the built-in one. */
static int load_profile(const char *name, const char *doc,
                        ladder_profile_t *out)
{
    if (doc && doc[0]) {
        char err[256];
        if (ladder_profile_parse(doc, out, err, sizeof(err)) == 0)
            return 0;
        log_warn(MOD, "Ladder profile unusable; using the built-in default.",
                 "profile=%s err=\"%s\"", name ? name : "", err);
    }
    return ladder_profile_default(out);
}

static void publish_cb(void *ud, const PGresult *res, const char *err)
{
    publish_ctx_t *x = ud;
    coord_t *c = x->c;
    const char *reject = NULL;
    coord_stream_t *s = NULL;
    if (!res) {
        reject = "database unavailable, try again shortly";
        log_warn(MOD, "Publish refused: channel lookup failed.",
                 "ingest=%s err=\"%s\"", x->ingest, err ? err : "");
        goto reply;
    }
    if (PQntuples(res) != 1 ||
        !streamkey_verify(PQgetvalue(res, 0, ROWS_CHAN_SALT), x->key,
                          PQgetvalue(res, 0, ROWS_CHAN_HASH))) {
        badkey_count(c, x->addr);
        reject = "invalid stream key";
        rows_event(c, "publish.rejected", NULL, NULL,
                   json_pack("{s:s, s:s, s:s}", "reason", reject, "ingest",
                             x->ingest, "addr", x->addr));
        goto reply;
    }
    if (PQgetvalue(res, 0, ROWS_CHAN_DISABLED)[0] == 't') {
        reject = "channel disabled";
        goto reply;
    }
    int64_t chan = strtoll(PQgetvalue(res, 0, ROWS_CHAN_ID), NULL, 10);
    s = farm_find_channel_stream(c, chan);
    if (s) {
        /* The streamer reconnected (perhaps through another ingest): the
         * stream goes on under the same id and playlists. */
        s->left_ms = 0;
        snprintf(s->ingest, sizeof(s->ingest), "%s", x->ingest);
        s->src_info = x->src;
        s->src_info.client = NULL;
        rows_event(c, "stream.resumed", farm_worker_id(c, s->worker), s->id,
                   json_pack("{s:s}", "ingest", x->ingest));
        if (s->worker >= 0) {
            uint64_t g = s->generation;
            long ow = s->worker;
            ops_make_pending(c, s, "released");
            release_send(c, ow, s->id, g,
                         PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED,
                         false);
        }
        ops_place_stream(c, s, "publisher reconnected");
        goto reply;
    }
    s = farm_stream_alloc(c);
    if (!s) {
        reject = "farm full: too many streams";
        goto reply;
    }
    random_uuid(s->id);
    random_hex(s->token, COORD_TOKEN_HEX / 2);
    s->channel_id = chan;
    if (farm_stream_index(c, s) < 0) {
        s->id[0] = '\0';
        farm_stream_free(c, s);
        s = NULL;
        reject = "out of memory";
        goto reply;
    }
    snprintf(s->channel, sizeof(s->channel), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_NAME));
    s->priority =
        (uint32_t)strtoul(PQgetvalue(res, 0, ROWS_CHAN_PRIORITY), NULL, 10);
    snprintf(s->ingest, sizeof(s->ingest), "%s", x->ingest);
    snprintf(s->protocol, sizeof(s->protocol), "%s", x->protocol);
    snprintf(s->profile, sizeof(s->profile), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_PROFILE));
    s->src_info = x->src;
    s->src_info.client = NULL;
    s->started_wall_ms = clock_wall_ms();
    envelope_source_to_ladder(&x->src, &s->source);
    ladder_profile_t prof;
    s->awaiting_source = s->source.width <= 0 || s->source.height <= 0;
    if (load_profile(s->profile, PQgetvalue(res, 0, ROWS_CHAN_PROFILE_DOC),
                     &prof) < 0 ||
        (!s->awaiting_source &&
         ladder_apply(&prof, &s->source, &s->ladder) < 0)) {
        farm_stream_free(c, s);
        s = NULL;
        reject = "unsupported source: no usable video size";
        goto reply;
    }
    s->prof = prof;
    s->state = STREAM_PENDING;
    c->n.publishes++;
    rows_stream(c, s);
    rows_event(c, "stream.started", NULL, s->id,
               json_pack("{s:s, s:s, s:i, s:i}", "channel", s->channel,
                         "ingest", s->ingest, "width", s->source.width,
                         "height", s->source.height));
    if (!s->awaiting_source && ops_place_stream(c, s, "publish") < 0)
        rows_event(c, "stream.pending", NULL, s->id,
                   json_pack("{s:s}", "reason", "no capacity"));
reply:
    publish_reply(c, x->rid, x->rid_len, x->request_id, s, reject);
    memset(x->key, 0, sizeof(x->key));
    free(x);
}

static void handle_publish(coord_t *c, const envelope_peer_t *peer,
                           const Prism__Envelope *env)
{
    const Prism__PublishRequest *p = env->publish_request;
    coord_ingest_t *in = farm_ingest_seen(c, peer, p->ingest_id);
    const char *addr =
        p->remote_addr && p->remote_addr[0] ? p->remote_addr : "unknown";
    int64_t chan;
    const char *secret;
    const char *reject = NULL;
    if (in && !in->endpoint[0])
        farm_send_not_registered(c, peer, in->id); /* asks for a Hello */
    if (!in)
        reject = "unknown ingest";
    else if (!store_up(c->db))
        reject = "database unavailable, try again shortly";
    else if (badkey_limited(c, addr))
        reject = "too many bad stream keys from this address";
    else if (streamkey_parse(p->stream_key, &chan, &secret) < 0) {
        badkey_count(c, addr);
        reject = "invalid stream key";
    } else if (c->nstreams >= (size_t)c->cfg.max_streams &&
               !farm_find_channel_stream(c, chan))
        reject = "farm full: too many streams";
    if (reject) {
        log_info(MOD, "Publish refused.", "ingest=%s addr=%s reason=\"%s\"",
                 in ? in->id : "", addr, reject);
        publish_reply(c, peer->rid, peer->rid_len, p->request_id, NULL, reject);
        return;
    }
    publish_ctx_t *x = calloc(1, sizeof(*x));
    if (!x) {
        publish_reply(c, peer->rid, peer->rid_len, p->request_id, NULL,
                      "out of memory");
        return;
    }
    x->c = c;
    memcpy(x->rid, peer->rid, peer->rid_len);
    x->rid_len = peer->rid_len;
    x->request_id = p->request_id;
    snprintf(x->ingest, sizeof(x->ingest), "%s", in->id);
    snprintf(x->addr, sizeof(x->addr), "%s", addr);
    snprintf(x->key, sizeof(x->key), "%s", p->stream_key);
    (void)secret;
    snprintf(x->protocol, sizeof(x->protocol), "%s",
             p->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT
                 ? "srt"
                 : "rtmp");
    Prism__SourceInfo def = PRISM__SOURCE_INFO__INIT;
    x->src = p->source ? *p->source : def;
    x->src.client = NULL;
    int rc = rows_channel_by_id(c, chan, publish_cb, x);
    if (rc < 0) {
        memset(x->key, 0, sizeof(x->key));
        free(x);
        publish_reply(c, peer->rid, peer->rid_len, p->request_id, NULL,
                      "database unavailable, try again shortly");
    }
}

/*
 * The ingest says a stream's publisher is gone. A stream running on a
 * worker waits reconnect_grace_ms for it (an encoder's auto-reconnect,
 * perhaps through another ingest): the worker holds the playlists open, a
 * publish with the channel's key in that time continues the stream (see
 * publish_cb), and the tick ends it when the time runs out.
 */
static void handle_stream_end(coord_t *c, const envelope_peer_t *peer,
                              const Prism__Envelope *env)
{
    (void)peer;
    coord_stream_t *s = farm_find_stream(c, env->stream_end->stream_id);
    const char *why = env->stream_end->reason && env->stream_end->reason[0]
                          ? env->stream_end->reason
                          : "publisher left";
    if (!s)
        return;
    if (c->cfg.reconnect_grace_ms > 0 && s->worker >= 0 &&
        s->state == STREAM_RUNNING && !s->left_ms) {
        s->left_ms = clock_mono_ms();
        rows_event(c, "stream.publisher_left", farm_worker_id(c, s->worker),
                   s->id,
                   json_pack("{s:s, s:I}", "reason", why, "grace_ms",
                             (json_int_t)c->cfg.reconnect_grace_ms));
        return;
    }
    ops_stop_stream(c, s, why);
}

static void handle_ingest_stats(coord_t *c, const envelope_peer_t *peer,
                                const Prism__Envelope *env)
{
    const Prism__IngestStats *st = env->ingest_stats;
    farm_ingest_seen(c, peer, env->sender);
    coord_stream_t *s = farm_find_stream(c, st->stream_id);
    if (!s)
        return;
    s->in_kbps = st->bitrate_kbps;
    s->in_fps = st->fps;
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

/* ---------------------------------------------------------------- control */

static void handle_control(coord_t *c)
{
    for (int i = 0; i < CONTROL_BATCH_MAX; i++) {
        envelope_peer_t peer;
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(c->control, ZMQ_DONTWAIT, &peer, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0) {
            c->n.messages_bad++;
            if (rc == -ETERM)
                return;
            continue;
        }
        c->n.messages_in++;
        /* Any message from a worker counts as a heartbeat. */
        long wi = -1;
        if (peer.user_id[0] && farm_find_worker(c, peer.user_id, &wi) &&
            c->workers[wi].state == WORKER_LIVE)
            c->workers[wi].last_seen_ms = clock_mono_ms();
        switch (env->body_case) {
        case PRISM__ENVELOPE__BODY_HELLO:
            handle_hello(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_REGISTER:
            handle_register(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_LOAD_REPORT:
            handle_report(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_ACK:
            handle_ack(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_PUBLISH_REQUEST:
            handle_publish(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_STREAM_END:
            handle_stream_end(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_INGEST_STATS:
            handle_ingest_stats(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_HEARTBEAT: {
            coord_ingest_t *in = farm_find_ingest(
                c, peer.user_id[0] ? peer.user_id : env->sender);
            if (in)
                in->last_seen_ms = clock_mono_ms();
            else if (wi < 0)
                farm_send_not_registered(c, &peer,
                                         env->sender); /* say hello again */
            break;
        }
        default: {
            char who[256];
            log_warn(MOD, "Unexpected message ignored.", "peer=\"%s\" body=%s",
                     envelope_peer_str(&peer, who, sizeof(who)),
                     envelope_body_name(env));
            c->n.messages_bad++;
            break;
        }
        }
        envelope_free(&env);
    }
}

/* ---------------------------------------------------------------- timers */

static void heartbeat_all(coord_t *c)
{
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    hb.seq = ++c->hb_seq;
    hb.leader = true;
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    for (size_t i = 0; i < c->nworkers; i++)
        if (c->workers[i].state == WORKER_LIVE)
            farm_send(c, c->workers[i].rid, c->workers[i].rid_len, &env,
                      c->workers[i].id);
    for (size_t i = 0; i < c->ningests; i++)
        farm_send(c, c->ingests[i].rid, c->ingests[i].rid_len, &env,
                  c->ingests[i].id);
}

static void check_liveness(coord_t *c, int64_t now)
{
    for (size_t i = 0; i < c->nworkers; i++) {
        if (c->workers[i].state == WORKER_LIVE &&
            liveness_worker_dead(&c->lcfg, c->workers[i].last_seen_ms, now)) {
            log_warn(MOD, "Worker missed its reports: dead.",
                     "worker=%s silent_ms=%lld", c->workers[i].id,
                     (long long)(now - c->workers[i].last_seen_ms));
            ops_worker_dead(c, (long)i, "missed reports");
        }
    }
    for (size_t i = 0; i < c->nslots; i++) {
        coord_stream_t *s = &c->streams[i];
        if (s->state != STREAM_RUNNING)
            s->running_since_ms = 0;
        if (s->state == STREAM_ASSIGNING &&
            now - s->assign_sent_ms > c->cfg.ack_timeout_ms) {
            if (s->assign_tries++ < c->cfg.assign_retries) {
                ops_send_assign(c, s);
            } else {
                long ow = s->worker;
                uint64_t g = s->generation;
                ops_stream_failed(c, s,
                                  "the worker did not acknowledge the Assign",
                                  "stream.assign_timeout", NULL);
                release_send(c, ow, s->id, g,
                             PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED,
                             false);
            }
        } else if (s->state != STREAM_FREE && s->left_ms &&
                   now - s->left_ms >= c->cfg.reconnect_grace_ms) {
            ops_stop_stream(c, s, "publisher left");
            continue;
        } else if (s->state == STREAM_RUNNING) {
            /* A minute (fail_reset_ms) of running clears the policy. */
            if (!s->running_since_ms)
                s->running_since_ms = now;
            if ((s->backoff_ms || s->failed) &&
                now - s->running_since_ms >= c->cfg.fail_reset_ms) {
                rows_event(c, "stream.recovered", farm_worker_id(c, s->worker),
                           s->id,
                           json_pack("{s:I, s:s}", "running_ms",
                                     (json_int_t)(now - s->running_since_ms),
                                     "last_error", s->last_error));
                memset(s->fail_at, 0, sizeof(s->fail_at));
                s->backoff_ms = 0;
                s->failed = false;
            }
        } else if (s->state == STREAM_RECOVERING &&
                   now >= s->recover_deadline_ms) {
            rows_event(c, "stream.unclaimed", NULL, s->id,
                       json_pack("{s:s}", "action", "placed again"));
            s->state = STREAM_PENDING;
            c->pending_dirty = true;
        }
    }
    /* Ingests gone silent: their streams end. The record (endpoint, key)
     * stays for when it speaks again. */
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
                ops_stop_stream(c, s, "ingest lost");
                ended++;
            }
        }
        if (ended)
            rows_event(
                c, "ingest.lost", NULL, NULL,
                json_pack("{s:s, s:i}", "ingest", in->id, "streams", ended));
    }
}

/* ---------------------------------------------------------------- leader */

static int start_serving(coord_t *c);

static void load_cb(void *ud, const PGresult *res, const char *err)
{
    coord_t *c = ud;
    if (!res) {
        log_error(MOD, "Loading streams from PostgreSQL failed.", "err=\"%s\"",
                  err ? err : "");
        c->next_lock_try_ms = clock_mono_ms() + c->cfg.ha_retry_ms;
        c->loaded = false;
        return;
    }
    int64_t now = clock_mono_ms();
    int n = PQntuples(res), kept = 0;
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, ROWS_LOAD_ID);
        if (farm_find_stream(c, id))
            continue;
        coord_stream_t *s = farm_stream_alloc(c);
        if (!s)
            break;
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->channel_id =
            strtoll(PQgetvalue(res, i, ROWS_LOAD_CHANNEL_ID), NULL, 10);
        if (farm_stream_index(c, s) < 0) {
            s->id[0] = '\0';
            farm_stream_free(c, s);
            break;
        }
        snprintf(s->channel, sizeof(s->channel), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_CHANNEL));
        s->priority =
            (uint32_t)strtoul(PQgetvalue(res, i, ROWS_LOAD_PRIORITY), NULL, 10);
        snprintf(s->ingest, sizeof(s->ingest), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_INGEST));
        s->generation =
            strtoull(PQgetvalue(res, i, ROWS_LOAD_GENERATION), NULL, 10);
        snprintf(s->token, sizeof(s->token), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_TOKEN));
        s->media_sequence =
            strtoull(PQgetvalue(res, i, ROWS_LOAD_MEDIA_SEQUENCE), NULL, 10);
        rows_source_parse(PQgetvalue(res, i, ROWS_LOAD_SOURCE), &s->src_info);
        snprintf(s->protocol, sizeof(s->protocol), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_PROTOCOL));
        snprintf(s->profile, sizeof(s->profile), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_PROFILE));
        envelope_source_to_ladder(&s->src_info, &s->source);
        ladder_profile_t prof;
        if (load_profile(s->profile, PQgetvalue(res, i, ROWS_LOAD_PROFILE_DOC),
                         &prof) < 0 ||
            ladder_apply(&prof, &s->source, &s->ladder) < 0) {
            s->ladder.n = 0;
        }
        s->kept = 0;
        s->placements = 1; /* a later placement continues the playlists */
        s->state = STREAM_RECOVERING;
        s->recover_deadline_ms = now + c->cfg.reconcile_grace_ms;
        kept++;
    }
    log_info(MOD, "Streams reloaded from PostgreSQL; waiting for workers.",
             "streams=%d grace_ms=%lld", kept,
             (long long)c->cfg.reconcile_grace_ms);
    c->loaded = true;
    int rc = start_serving(c);
    if (rc < 0)
        c->stop = rc; /* coord_run returns this code */
}

static void lock_cb(void *ud, const PGresult *res, const char *err)
{
    coord_t *c = ud;
    c->lock_query_out = false;
    bool got = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    if (!res)
        log_warn(MOD, "Advisory lock query failed.", "err=\"%s\"",
                 err ? err : "");
    if (got && !c->leader) {
        c->leader = true;
        log_info(MOD, "Took the leader lock; this coordinator leads.",
                 "id=%s key=%lld", c->cfg.id, (long long)c->cfg.ha_lock_key);
        if (rows_load_streams(c, load_cb, c) < 0)
            c->leader = false;
        return;
    }
    if (!got && c->leader) {
        log_error(MOD,
                  "Another coordinator holds the leader lock; stepping down.",
                  "id=%s", c->cfg.id);
        c->stop = 3;
        return;
    }
    if (!got)
        c->next_lock_try_ms = clock_mono_ms() + c->cfg.ha_retry_ms;
}

static void ask_lock(coord_t *c)
{
    if (rows_try_lock(c, c->cfg.ha_lock_key, lock_cb, c) == 0)
        c->lock_query_out = true;
}

static void db_up(void *ud)
{
    coord_t *c = ud;
    /* A new session holds no lock: (re)take it before anything else. */
    ask_lock(c);
}

static void db_down(void *ud, const char *err)
{
    coord_t *c = ud;
    c->lock_query_out = false;
    rows_event(c, "db.down", NULL, NULL, json_pack("{s:s}", "error", err));
}

static int start_serving(coord_t *c)
{
    if (c->control)
        return 0;
    int rc = curve_keys_load_secret(c->cfg.key_file, &c->keys);
    if (rc < 0)
        return rc;
    c->zap = zap_new(c->cfg.allow_dir, c->cfg.zap_domain);
    if (!c->zap)
        return -EINVAL;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.router_mandatory = true;
    o.sndtimeo_ms = 0;
    o.sndhwm = CONTROL_HWM;
    o.rcvhwm = CONTROL_HWM;
    o.max_msg_size = ENVELOPE_MAX_BYTES;
    /* Each call below logs its own failure, naming the call and the
     * library's error text; the code it returns goes back unchanged. */
    c->control = zsock_new(ZMQ_ROUTER, &o);
    if (!c->control)
        return -ENOMEM; /* zsock_new returns no code; see its log line */
    if ((rc = zsock_curve_server(c->control, c->keys, c->cfg.zap_domain)) < 0 ||
        (rc = zsock_bind(c->control, c->cfg.control_bind)) < 0)
        return rc;
    zsock_opts_t ao;
    zsock_opts_default(&ao);
    ao.router_mandatory = true;
    ao.sndtimeo_ms = 0;
    c->api_sock = zsock_new(ZMQ_ROUTER, &ao);
    if (!c->api_sock)
        return -ENOMEM; /* zsock_new returns no code; see its log line */
    snprintf(c->api_endpoint, sizeof(c->api_endpoint), "inproc://coord-api-%p",
             (void *)c);
    if ((rc = zsock_bind(c->api_sock, c->api_endpoint)) < 0)
        return rc;
    if (c->cfg.http_port > 0) {
        c->http = coord_http_start(c->cfg.http_bind, (int)c->cfg.http_port,
                                   c->cfg.api_token, c->api_endpoint);
        /* coord_http_start returns no code: it has logged the cause (a bad
         * address, or libmicrohttpd's own line with the bind error). */
        if (!c->http)
            return -EIO;
    }
    char ep[256] = "";
    zsock_last_endpoint(c->control, ep, sizeof(ep));
    log_info(MOD, "Serving.", "control=%s http=%s:%lld allow_keys=%d", ep,
             c->cfg.http_bind, (long long)c->cfg.http_port,
             zap_key_count(c->zap));
    rows_event(c, "coordinator.leader", NULL, NULL,
               json_pack("{s:s}", "control", ep));
    return 0;
}

/* ---------------------------------------------------------------- loop */

coord_t *coord_new(const coord_config_t *cfg)
{
    coord_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cfg = *cfg;
    if (placement_policy_parse(cfg->policy, &c->pcfg.policy) < 0) {
        log_error(MOD, "Unknown placement policy.", "policy=%s", cfg->policy);
        free(c);
        return NULL;
    }
    c->pcfg.headroom = cfg->headroom;
    c->lcfg.report_ms = cfg->report_ms;
    c->lcfg.missed_reports = (int)cfg->missed_reports;
    c->lcfg.hung_ms = cfg->hung_ms;
    c->lcfg.slow_reports = (int)cfg->slow_reports;
    c->lcfg.slow_speed = cfg->slow_speed;
    c->worker_ids = idmap_new();
    c->stream_ids = idmap_new();
    c->channel_streams = idmap_new();
    c->badkeys =
        addr_limit_new((uint32_t)cfg->bad_key_addrs, 0,
                       (uint32_t)cfg->bad_key_limit, cfg->bad_key_window_ms);
    if (!c->worker_ids || !c->stream_ids || !c->channel_streams ||
        !c->badkeys) {
        idmap_free(&c->worker_ids);
        idmap_free(&c->stream_ids);
        idmap_free(&c->channel_streams);
        addr_limit_free(&c->badkeys);
        free(c);
        return NULL;
    }
    return c;
}

void coord_stop(coord_t *c)
{
    c->stop = 1;
}

void coord_reload(coord_t *c)
{
    c->reload = 1;
}

/*
 * Brings the schema up to date before the loop starts (db_migrate is
 * synchronous by design and serialised by its own advisory lock). A database
 * that cannot be reached is retried with backoff; a schema this binary must
 * not touch (edited or newer migrations) stops the start.
 */
static int migrate(coord_t *c)
{
    int64_t backoff = c->cfg.db_backoff_min_ms;
    for (;;) {
        if (c->stop)
            return -EINTR;
        PGconn *conn = PQconnectdb(c->cfg.pg_url);
        if (PQstatus(conn) == CONNECTION_OK) {
            char err[512];
            int rc = db_migrate(conn, err, sizeof(err));
            PQfinish(conn);
            if (rc == 0)
                return 0;
            if (rc != DB_MIGRATE_ERR_PG)
                return -EINVAL; /* logged by db_migrate */
        } else {
            const char *e = PQerrorMessage(conn);
            log_warn(MOD, "PostgreSQL unreachable at start; retrying.",
                     "err=\"%.*s\" retry_ms=%lld", (int)strcspn(e, "\n"), e,
                     (long long)backoff);
            PQfinish(conn);
        }
        for (int64_t t = 0; t < backoff && !c->stop; t += STOP_CHECK_MS)
            usleep(STOP_CHECK_MS * 1000);
        backoff *= 2;
        if (backoff > c->cfg.db_backoff_max_ms)
            backoff = c->cfg.db_backoff_max_ms;
    }
}

int coord_run(coord_t *c)
{
    int mrc = migrate(c);
    if (mrc < 0)
        return mrc == -EINTR ? 0 : mrc;
    store_config_t sc = {c->cfg.pg_url,
                         (size_t)c->cfg.db_queue_max,
                         c->cfg.db_backoff_min_ms,
                         c->cfg.db_backoff_max_ms,
                         c->cfg.db_connect_timeout_ms,
                         db_up,
                         db_down,
                         c};
    c->started_ms = clock_mono_ms();
    c->db = store_new(&sc);
    if (!c->db)
        return -ENOMEM;
    log_info(MOD, "Started; waiting for the leader lock.", "id=%s", c->cfg.id);
    while (!c->stop) {
        int64_t now = clock_mono_ms();
        zmq_pollitem_t items[3];
        int n = 0, ic = -1, ia = -1, id = -1;
        if (c->control) {
            items[n] = (zmq_pollitem_t){c->control, 0, ZMQ_POLLIN, 0};
            ic = n++;
        }
        if (c->api_sock) {
            items[n] = (zmq_pollitem_t){c->api_sock, 0, ZMQ_POLLIN, 0};
            ia = n++;
        }
        int fd = store_fd(c->db);
        if (fd >= 0 && store_events(c->db)) {
            items[n] = (zmq_pollitem_t){NULL, fd, store_events(c->db), 0};
            id = n++;
        }
        int64_t timeout = POLL_MAX_MS;
        if (c->cfg.report_ms / CHECKS_PER_REPORT < timeout)
            timeout = c->cfg.report_ms / CHECKS_PER_REPORT;
        int64_t st = store_tick(c->db, now);
        if (st >= 0 && st < timeout)
            timeout = st;
        int rc = zmq_poll(items, n, (long)timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            log_error(MOD, "zmq_poll failed.", "err=\"%s\"",
                      zmq_strerror(zmq_errno()));
            break;
        }
        now = clock_mono_ms();
        if (id >= 0 && items[id].revents)
            store_io(c->db, items[id].revents, now);
        if (ic >= 0 && (items[ic].revents & ZMQ_POLLIN))
            handle_control(c);
        if (ia >= 0 && (items[ia].revents & ZMQ_POLLIN))
            coord_api_handle(c);
        now = clock_mono_ms();
        if (!c->leader) {
            if (store_up(c->db) && !c->lock_query_out &&
                now >= c->next_lock_try_ms)
                ask_lock(c);
            continue;
        }
        if (!c->control)
            continue;
        if (now >= c->next_check_ms) {
            check_liveness(c, now);
            release_resend_due(c, now);
            c->next_check_ms = now + c->cfg.report_ms / CHECKS_PER_REPORT;
        }
        if (c->reload) { /* SIGHUP: read it whatever its mtime says */
            int before = zap_key_count(c->zap);
            int keys = zap_reload(c->zap);
            log_info(MOD, "Allowlist re-read.", "keys=%d before=%d", keys,
                     before);
            c->reload = 0;
        } else if (c->cfg.allow_reload_ms > 0 &&
                   now >= c->next_allow_reload_ms) {
            zap_reload_if_changed(c->zap); /* zap logs what it loads */
        }
        if (now >= c->next_allow_reload_ms)
            c->next_allow_reload_ms = now + c->cfg.allow_reload_ms;
        if (now >= c->next_hb_ms) {
            heartbeat_all(c);
            c->next_hb_ms = now + c->cfg.heartbeat_ms;
        }
        if (c->pending_dirty || now >= c->next_pending_ms ||
            (c->next_retry_ms && now >= c->next_retry_ms)) {
            ops_place_pending(c, "capacity changed");
            ops_upgrade_partial(c, now);
            c->next_pending_ms = now + c->cfg.pending_retry_ms;
        }
    }
    if (c->stop < 0) /* start_serving failed with this code */
        return c->stop;
    return c->stop == 3 ? -EBUSY : 0;
}

void coord_free(coord_t **cp)
{
    coord_t *c = *cp;
    if (!c)
        return;
    coord_http_stop(&c->http);
    store_free(&c->db);
    zsock_close(&c->control);
    zsock_close(&c->api_sock);
    zap_free(&c->zap);
    curve_keypair_free(&c->keys);
    free(c->workers);
    free(c->pworkers);
    free(c->pdevices);
    free(c->ingests);
    free(c->streams);
    free(c->releases);
    idmap_free(&c->worker_ids);
    idmap_free(&c->stream_ids);
    idmap_free(&c->channel_streams);
    addr_limit_free(&c->badkeys);
    free(c);
    *cp = NULL;
}
