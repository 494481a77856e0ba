/* The worker protocol: Register, LoadReport and Ack; dead workers. */
/*
 * How this works
 *
 * A worker's Register names it by its key and lists its devices and what
 * it runs: what matches is adopted ("what is really running wins", also
 * after a coordinator restart), what is stale is released, and Assigns it
 * lacks are sent again. Any message from it is a heartbeat; one silent for
 * missed_reports intervals is dead (ops_worker_dead). Its load reports
 * confirm placements, release sessions it should not run, and find hung
 * sessions (a failure, ops.c) and slow ones: a worker with a slow session
 * is overloaded (no new streams), and a session slow for slow_move_ms is
 * moved (ops_move_slow, the lowest-priority one first, one per worker per
 * slow_move_ms). Each device's measured use is smoothed and placement
 * counts the larger of it and the reported cost (load_ctl.h: the load
 * control loop). A worker that drops one rendition of a running session
 * reports it; that is shown, not re-placed.
 */
#include "worker_proto.h"

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

/* Slow sessions of one report considered for a move: the lowest priority
 * among the first this many goes (one per worker per slow_move_ms). */
#define SLOW_CANDIDATES 64

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
    di->sm_util = -1;
    memset(&di->use, 0, sizeof(di->use));
    memset(&di->reported, 0, sizeof(di->reported));
    di->cpu_cores = di->process_cores = 0;
    di->measured_source[0] = '\0';
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

void worker_proto_register(coord_t *c, const envelope_peer_t *peer,
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

/* The session's frames out of order and gap copies, and what they add to
 * the farm's totals (a session counts from 0: a new generation starts
 * from nothing). */
static void note_frames(coord_t *c, coord_stream_t *s,
                        const Prism__SessionLoad *sl)
{
    if (s->frames_gen != sl->generation) {
        s->frames_unordered = s->frames_filled = 0;
        s->frames_gen = sl->generation;
    }
    if (sl->frames_unordered > s->frames_unordered)
        c->n.frames_unordered += sl->frames_unordered - s->frames_unordered;
    if (sl->frames_filled > s->frames_filled)
        c->n.frames_filled += sl->frames_filled - s->frames_filled;
    s->frames_unordered = sl->frames_unordered;
    s->frames_filled = sl->frames_filled;
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

/* The stream's master playlist is out (on the origin, or written to a
 * directory), which the worker writes once every rendition lists a
 * segment: stream.live, once a stream, with where viewers play it. A
 * player sent there at once can start. */
static void note_live(coord_t *c, coord_stream_t *s, const coord_worker_t *w,
                      const Prism__SessionLoad *sl)
{
    if (s->live_said || !sl->master_out)
        return;
    s->live_said = true;
    char url[1200], thumb[1200];
    bool base = farm_playback_url(c, s, "master.m3u8", url, sizeof(url));
    farm_playback_url(c, s, "thumb.jpg", thumb, sizeof(thumb));
    rows_event(c, "stream.live", w->id, s->id,
               json_pack("{s:s?, s:s?, s:I}", "master_url", base ? url : NULL,
                         "thumbnail_url", base ? thumb : NULL, "generation",
                         (json_int_t)s->generation));
}

/* A report's devices: the reported cost, the measured use smoothed, and
 * placement's `measured` as the larger of the two (load_ctl.h). */
static void report_devices(coord_t *c, long wi, const Prism__LoadReport *r,
                           int64_t now)
{
    coord_worker_t *w = &c->workers[wi];
    placement_worker_t *pw = &c->pworkers[wi];
    for (size_t i = 0; i < r->n_devices; i++) {
        const Prism__DeviceLoad *d = r->devices[i];
        if (d->index >= pw->ndevices)
            continue;
        placement_device_t *pd = &c->pdevices[pw->first_device + d->index];
        coord_device_info_t *di = &w->dev[d->index];
        di->reported = (placement_load_t){(int)d->sessions, d->encode_pixels,
                                          d->decode_pixels};
        load_ctl_smooth(&c->lctl, &di->use, d->measured_use, now);
        load_ctl_effective(&di->use, &di->reported, pd->enc_budget,
                           pd->dec_budget, &pd->measured);
        di->cpu_cores = d->cpu_cores;
        di->process_cores = d->process_cores;
        snprintf(di->measured_source, sizeof(di->measured_source), "%s",
                 d->measured_source ? d->measured_source : "");
        di->encoder_util = d->encoder_util;
        di->decoder_util = d->decoder_util;
        di->sm_util = d->sm_util;
    }
}

void worker_proto_report(coord_t *c, const envelope_peer_t *peer,
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
    c->n.reports++;
    /* A worker numbers its reports: a gap is reports lost on the way (a
     * full queue); a lower number is a restarted worker counting again. */
    if (w->last_report_seq && r->seq > w->last_report_seq + 1)
        c->n.report_gaps += r->seq - w->last_report_seq - 1;
    w->last_report_seq = r->seq;
    report_devices(c, wi, r, now);
    bool slow = false;
    uint32_t prio[SLOW_CANDIDATES];
    uint64_t seq[SLOW_CANDIDATES];
    coord_stream_t *cand[SLOW_CANDIDATES];
    size_t ncand = 0;
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
        s->speed_10s = sl->speed_10s;
        s->fps_in = sl->fps_in;
        s->fps_out = sl->fps_out;
        s->encode_latency_ms = sl->encode_latency_ms;
        s->queue_depth = sl->queue_depth;
        s->dropped = sl->dropped_packets;
        s->origin_puts = sl->origin_puts;
        s->origin_put_failed = sl->origin_put_failed;
        s->origin_deletes = sl->origin_deletes;
        s->origin_delete_failed = sl->origin_delete_failed;
        s->origin_dropped = sl->origin_dropped;
        note_frames(c, s, sl);
        note_rendition_failures(c, s, w, sl);
        note_live(c, s, w, sl);
        liveness_state_t ls = liveness_session_report(
            &c->lcfg, &s->live, now, sl->last_output_pts_ms,
            sl->last_input_pts_ms,
            sl->speed_10s > 0 ? sl->speed_10s : sl->speed);
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
            continue;
        } else if (ls == LIVENESS_SLOW) {
            slow = true;
        }
        if (!s->left_ms && s->state == STREAM_RUNNING &&
            load_ctl_session(&c->lctl, &s->lctl, now, sl->speed_10s) ==
                LOAD_CTL_MOVE &&
            ncand < SLOW_CANDIDATES) {
            prio[ncand] = s->priority;
            seq[ncand] = s->seq;
            cand[ncand++] = s;
        }
    }
    if (ncand && load_ctl_worker_may_shed(&c->lctl, w->slow_shed_ms, now)) {
        long k = placement_shed_pick(prio, seq, ncand);
        if (k >= 0 && ops_move_slow(c, cand[k], now) == 0)
            w->slow_shed_ms = now;
    }
    if (slow && !pw->overloaded) {
        pw->overloaded = true;
        c->n.overloads++;
        rows_event(c, "worker.overloaded", w->id, NULL, NULL);
    } else if (!slow && pw->overloaded) {
        pw->overloaded = false;
        rows_event(c, "worker.recovered", w->id, NULL, NULL);
        c->pending_dirty = true;
    }
}

void worker_proto_ack(coord_t *c, const envelope_peer_t *peer,
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

void worker_proto_check(coord_t *c, int64_t now)
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
}
