/* Placement operations on farm state: assign, move, upgrade, stop, drain. */
/*
 * How this works
 *
 * Streams are placed by placement.c: each placement gets generation + 1
 * and is sent as an Assign; the worker's Ack, or a load report showing the
 * session, confirms it (worker_proto.c). Unacknowledged Assigns are re-sent,
 * then count as a failure. A move assigns the new generation first and
 * releases the old one at its next keyframe (move_to): so do a drain with
 * move, a slow session moving off its worker (ops_move_slow, with the
 * hysteresis of load_ctl.h), and the upgrade of a partial ladder to the
 * whole one where capacity has freed.
 * A dead worker's streams are all placed again in the same pass, highest
 * priority first, with discontinuity set. Streams with no room wait as
 * PENDING and are retried on every change of capacity and every
 * pending_retry_ms.
 *
 * Failures: a session that fails (the worker's Ack ok = false with its
 * error, a hung session found by liveness.c, an Assign never acknowledged)
 * goes through ops_stream_failed: the stream waits fail_backoff_min_ms,
 * doubling per failure to fail_backoff_max_ms, before ops_place_pending
 * takes it again (on another worker if one fits); fail_limit failures in
 * fail_window_ms mark it FAILED, retried every fail_retry_ms while its
 * publisher is there; fail_reset_ms of running clears it all. So a stream
 * whose every session fails is placed a handful of times a minute, never
 * in a loop.
 */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_int.h"
#include "log.h"
#include "release.h"
#include "rows.h"

#define MOD "coord"

/*
 * Failed picks an upgrade pass may make per upgrade it is allowed
 * (upgrade_per_s): each failed pick is a placement pass over the farm, so
 * this bounds the work a pass does when few partial streams can move.
 */
#define UPGRADE_PICKS_PER_UPGRADE 4

void ops_send_assign(coord_t *c, coord_stream_t *s)
{
    coord_worker_t *w = &c->workers[s->worker];
    coord_ingest_t *in = farm_find_ingest(c, s->ingest);
    Prism__Assign a = PRISM__ASSIGN__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Rendition rs[LADDER_MAX_RUNGS];
    Prism__Rendition *rp[LADDER_MAX_RUNGS];
    Prism__SourceInfo src = s->src_info;
    size_t n = 0;
    for (int i = 0; i < s->ladder.n; i++) {
        if (!(s->kept & (1u << i)))
            continue;
        const ladder_rendition_t *r = &s->ladder.r[i];
        Prism__Rendition x = PRISM__RENDITION__INIT;
        x.name = (char *)r->name;
        x.width = r->remux ? 0 : (uint32_t)r->width;
        x.height = r->remux ? 0 : (uint32_t)r->height;
        x.fps_num = (uint32_t)r->fps_num;
        x.fps_den = (uint32_t)r->fps_den;
        x.bitrate_kbps = (uint32_t)r->bitrate_kbps;
        x.codec = envelope_codec_to_proto(r->codec);
        x.profile = (char *)r->profile;
        x.remux = r->remux;
        rs[n] = x;
        rp[n] = &rs[n];
        n++;
    }
    src.base.descriptor = &prism__source_info__descriptor;
    src.client = (char *)"";
    a.stream_id = s->id;
    a.generation = s->generation;
    a.channel = s->channel;
    a.device_index = (uint32_t)farm_device_index(c, s);
    a.ingest_endpoint = in ? in->endpoint : (char *)"";
    if (in && in->has_key) {
        a.ingest_public_key.data = in->public_key;
        a.ingest_public_key.len = sizeof(in->public_key);
    }
    a.subscribe_token = s->token;
    a.n_renditions = n;
    a.renditions = rp;
    a.source = &src;
    a.output_url = c->cfg.output_url;
    a.media_sequence = s->media_sequence;
    a.discontinuity = s->placements > 1;
    a.segment_ms =
        (uint32_t)(s->prof.segment_ms ? s->prof.segment_ms : c->cfg.segment_ms);
    /* Parts of at most half a segment (a profile without segment_ms on a
     * farm whose segment_ms is under twice its part_ms: plain HLS). */
    a.part_ms = 2 * (uint32_t)s->prof.part_ms <= a.segment_ms
                    ? (uint32_t)s->prof.part_ms
                    : 0;
    a.priority = s->priority;
    a.previous_gone = s->previous_gone;
    env.body_case = PRISM__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    s->assign_sent_ms = clock_mono_ms();
    farm_send(c, w->rid, w->rid_len, &env, w->id);
}

/* Frees the stream's reservation; its assignment row is closed as
 * close_as ("released" or "failed"). */
static void unreserve(coord_t *c, coord_stream_t *s, const char *close_as)
{
    if (s->worker >= 0 && close_as)
        rows_assignment(c, s, close_as);
    if (s->device >= 0)
        placement_reserve(&c->pdevices[s->device], &s->cost, -1, !s->confirmed);
    s->device = -1;
    s->worker = -1;
    s->confirmed = false;
}

/* Takes a stream off its worker (no message sent) back to PENDING. */
void ops_make_pending(coord_t *c, coord_stream_t *s, const char *close_as)
{
    unreserve(c, s, close_as);
    s->state = STREAM_PENDING;
    s->previous_gone = false;
    c->pending_dirty = true;
}

static void assign_placed(coord_t *c, coord_stream_t *s,
                          const placement_result_t *rp, const char *why);

/* placement_place_batch's apply for the coordinator's streams: assigns a
 * placed stream (reservation, Assign, database, event); one that fits
 * nowhere stays PENDING. */
typedef struct {
    coord_t *c;
    const char *why;
} place_ctx_t;

static void apply_placement(void *ctx, placement_item_t *it)
{
    const place_ctx_t *pc = ctx;
    coord_stream_t *s = it->user;
    if (it->rc == 0) {
        assign_placed(pc->c, s, &it->result, pc->why);
    } else if (s->state != STREAM_PENDING && s->state != STREAM_FAILED) {
        s->state = STREAM_PENDING;
        rows_stream(pc->c, s);
    }
}

static placement_item_t placement_item_of(const coord_t *c, coord_stream_t *s,
                                          long avoid)
{
    placement_item_t it = {0};
    it.req =
        (placement_request_t){&s->ladder, &s->source, c->cfg.partial_ladders};
    it.priority = s->priority;
    it.seq = s->seq;
    it.user = s;
    it.avoid = avoid >= 0;
    it.avoid_worker = avoid;
    return it;
}

/*
 * Why a stream with no worker cannot be placed now, or NULL when it can.
 * Not while its size is unknown or its ladder unfitted (the ingest's stats
 * bring the size: ingest_proto.c), nor while its publisher is away (placed
 * when it comes back: publish.c), nor while its ingest is unknown to this
 * coordinator, lost, or without a media endpoint (after a take-over, until
 * the ingest's Hello): an Assign then could not be used, and each refusal
 * would count as a failure of the stream.
 */
static const char *unplaceable(const coord_t *c, const coord_stream_t *s)
{
    if (s->left_ms)
        return "publisher";
    if (s->awaiting_source || s->ladder.n <= 0)
        return "source";
    const coord_ingest_t *in = farm_find_ingest(c, s->ingest);
    if (!in)
        return "ingest_unknown";
    if (in->lost)
        return "ingest_lost";
    return in->endpoint[0] ? NULL : "ingest_hello";
}

static bool placeable(const coord_t *c, const coord_stream_t *s)
{
    return !unplaceable(c, s);
}

const char *ops_waiting_for(const coord_t *c, const coord_stream_t *s)
{
    if (s->state != STREAM_PENDING && s->state != STREAM_FAILED)
        return NULL;
    const char *why = unplaceable(c, s);
    if (why)
        return why;
    return s->retry_at_ms > clock_mono_ms() ? "backoff" : "capacity";
}

/*
 * Places a stream that has no worker, through placement_place_batch as
 * place_pending does. Returns 0 when assigned, or the placement code (the
 * stream stays PENDING).
 */
static int place_stream_avoiding(coord_t *c, coord_stream_t *s, const char *why,
                                 long avoid)
{
    if (!placeable(c, s))
        return PLACEMENT_ENOSPACE; /* placed once it is */
    placement_item_t it = placement_item_of(c, s, avoid);
    place_ctx_t pc = {c, why};
    placement_place_batch(&c->pcfg, &c->farm, &it, 1, apply_placement, &pc);
    return it.rc;
}

/* Failures of stream s within fail_window_ms before now. */
int ops_recent_failures(const coord_t *c, const coord_stream_t *s, int64_t now)
{
    int n = 0;
    for (int i = 0; i < COORD_FAIL_RING; i++)
        n += s->fail_at[i] && now - s->fail_at[i] < c->cfg.fail_window_ms;
    return n;
}

/*
 * A session of stream s failed (the worker's Ack ok = false, a hung
 * session, an Assign never acknowledged): it is taken off its worker and
 * waits before it is placed again. The wait starts at fail_backoff_min_ms
 * and doubles with each failure up to fail_backoff_max_ms; fail_limit
 * failures within fail_window_ms mark the stream FAILED, placed again only
 * every fail_retry_ms. A stream that then runs fail_reset_ms forgets it all
 * (worker_proto_check). So no failure, however fast it repeats, can make the
 * stream be placed in a loop. The caller has written its event; detail (a
 * new reference, may be NULL) gets the policy's figures. The next place
 * prefers another worker than the one it failed on.
 */
void ops_stream_failed(coord_t *c, coord_stream_t *s, const char *error,
                       const char *kind, json_t *detail)
{
    int64_t now = clock_mono_ms();
    long wi = s->worker;
    uint64_t gen = s->generation;
    if (s->left_ms) {
        /* Its publisher is away: a session that cannot subscribe or stops
         * for want of input is no fault of the stream's. It waits for the
         * publisher (not placed meanwhile) without a failure counted. */
        ops_make_pending(c, s, "failed");
        if (!detail)
            detail = json_object();
        json_object_set_new(detail, "error",
                            json_string(error && error[0] ? error : ""));
        json_object_set_new(detail, "generation",
                            json_integer((json_int_t)gen));
        json_object_set_new(detail, "publisher_away", json_true());
        rows_event(c, kind, farm_worker_id(c, wi), s->id, detail);
        rows_stream(c, s);
        return;
    }
    int slot = (int)(s->failures % COORD_FAIL_RING);
    s->fail_at[slot] = now;
    s->failures++;
    c->n.session_failures++;
    snprintf(s->last_error, sizeof(s->last_error), "%s",
             error && error[0] ? error : "unknown error");
    s->backoff_ms =
        s->backoff_ms ? 2 * s->backoff_ms : c->cfg.fail_backoff_min_ms;
    if (s->backoff_ms > c->cfg.fail_backoff_max_ms)
        s->backoff_ms = c->cfg.fail_backoff_max_ms;
    int recent = ops_recent_failures(c, s, now);
    bool mark = s->failed || recent >= c->cfg.fail_limit;
    int64_t wait = mark ? c->cfg.fail_retry_ms : s->backoff_ms;
    ops_make_pending(c, s, "failed");
    s->avoid_worker = wi;
    s->retry_at_ms = now + wait;
    if (!c->next_retry_ms || s->retry_at_ms < c->next_retry_ms)
        c->next_retry_ms = s->retry_at_ms;
    if (!detail)
        detail = json_object();
    json_object_set_new(detail, "error", json_string(s->last_error));
    json_object_set_new(detail, "generation", json_integer((json_int_t)gen));
    json_object_set_new(detail, "failures_recent", json_integer(recent));
    json_object_set_new(detail, "retry_in_ms", json_integer(wait));
    rows_event(c, kind, farm_worker_id(c, wi), s->id, detail);
    if (mark) {
        bool was = s->failed;
        s->failed = true;
        s->state = STREAM_FAILED;
        if (!was) {
            c->n.streams_failed++;
            log_warn(MOD, "Stream failed: its sessions keep failing.",
                     "stream=%s channel=%s failures=%d window_ms=%lld "
                     "retry_ms=%lld error=\"%s\"",
                     s->id, s->channel, recent,
                     (long long)c->cfg.fail_window_ms, (long long)wait,
                     s->last_error);
            rows_event(c, "stream.failed", farm_worker_id(c, wi), s->id,
                       json_pack("{s:s, s:i, s:I, s:I}", "error", s->last_error,
                                 "failures", recent, "window_ms",
                                 (json_int_t)c->cfg.fail_window_ms, "retry_ms",
                                 (json_int_t)wait));
        }
    }
    rows_stream(c, s);
}

/* Whether a PENDING or FAILED stream may be placed now; notes the earliest
 * retry still to come in c->next_retry_ms. */
static bool stream_due(coord_t *c, const coord_stream_t *s, int64_t now)
{
    if (s->state != STREAM_PENDING && s->state != STREAM_FAILED)
        return false;
    if (s->retry_at_ms <= now)
        return true;
    if (!c->next_retry_ms || s->retry_at_ms < c->next_retry_ms)
        c->next_retry_ms = s->retry_at_ms;
    return false;
}

/* Takes the placement res for stream s (which has no worker now): reserves
 * it, starts a new generation and sends the Assign. */
static void assign_placed(coord_t *c, coord_stream_t *s,
                          const placement_result_t *rp, const char *why)
{
    placement_result_t res = *rp;
    placement_reserve(&c->pdevices[res.device], &res.cost, +1, true);
    s->worker = res.worker;
    s->device = res.device;
    s->kept = res.kept;
    s->cost = res.cost;
    s->confirmed = false;
    s->generation++;
    s->placements++;
    s->state = STREAM_ASSIGNING;
    s->assign_tries = 0;
    liveness_session_init(&s->live, clock_mono_ms());
    c->n.placements++;
    if (s->placements > 1)
        c->n.replacements++;
    ops_send_assign(c, s);
    rows_stream(c, s);
    rows_assignment(c, s, "assigned");
    int nkept = 0;
    for (int i = 0; i < s->ladder.n; i++)
        nkept += (s->kept >> i) & 1;
    rows_event(c, s->placements > 1 ? "stream.replaced" : "stream.placed",
               c->workers[s->worker].id, s->id,
               json_pack("{s:s, s:i, s:I, s:i, s:b, s:f}", "reason", why,
                         "device", farm_device_index(c, s), "generation",
                         (json_int_t)s->generation, "renditions", nkept,
                         "partial", res.partial, "load_after", res.load_after));
    if (res.partial)
        rows_event(c, "stream.partial", c->workers[s->worker].id, s->id,
                   json_pack("{s:i, s:i, s:I}", "renditions", nkept, "asked",
                             s->ladder.n, "generation",
                             (json_int_t)s->generation));
}

int ops_place_stream(coord_t *c, coord_stream_t *s, const char *why)
{
    return place_stream_avoiding(c, s, why, -1);
}

/* Places every PENDING stream that fits, highest priority first, in one
 * placement_place_batch (the function prism-bench sched measures). */
void ops_place_pending(coord_t *c, const char *why)
{
    size_t n = 0;
    int64_t now = clock_mono_ms();
    c->next_retry_ms = 0; /* stream_due notes the next one */
    for (size_t i = 0; i < c->nslots; i++)
        n += stream_due(c, &c->streams[i], now);
    c->pending_dirty = false;
    if (n == 0)
        return;
    placement_item_t *v = malloc(n * sizeof(*v));
    if (!v)
        return;
    n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        coord_stream_t *s = &c->streams[i];
        if (stream_due(c, s, now) && placeable(c, s))
            v[n++] = placement_item_of(c, s, s->avoid_worker);
    }
    place_ctx_t pc = {c, why};
    placement_place_batch(&c->pcfg, &c->farm, v, n, apply_placement, &pc);
    free(v);
}

static void move_to(coord_t *c, coord_stream_t *s,
                    const placement_result_t *res, const char *why);

/* Moves a running stream off its worker: new worker first, then release. */
static int move_stream(coord_t *c, coord_stream_t *s, const char *why)
{
    long old_w = s->worker;
    /* The old reservation stays counted while we look: no self-placement
     * is possible anyway (the old worker is draining or overloaded). */
    placement_request_t req = {&s->ladder, &s->source, c->cfg.partial_ladders};
    placement_result_t res;
    int rc = placement_pick(&c->pcfg, &c->farm, &req, &res);
    if (rc < 0 || res.worker == old_w) {
        log_warn(MOD, "No room to move the stream; it stays.",
                 "stream=%s worker=%s reason=%s", s->id,
                 farm_worker_id(c, old_w), why);
        return rc < 0 ? rc : -EAGAIN;
    }
    move_to(c, s, &res, why);
    return 0;
}

/* Moves stream s to the placement res (picked while its old reservation
 * still counted): the new generation is assigned first, then the old
 * worker is told to stop at its next keyframe. */
static void move_to(coord_t *c, coord_stream_t *s,
                    const placement_result_t *res, const char *why)
{
    long old_w = s->worker;
    uint64_t old_gen = s->generation;
    placement_reserve(&c->pdevices[s->device], &s->cost, -1, !s->confirmed);
    rows_assignment_close(c, s->id, old_gen, "released");
    s->worker = -1;
    s->device = -1;
    s->confirmed = false;
    s->previous_gone = false; /* the old session runs to a keyframe */
    assign_placed(c, s, res, why);
    release_send(c, old_w, s->id, old_gen,
                 PRISM__RELEASE_REASON__RELEASE_REASON_MOVED, true);
    /* The old worker runs it to its next keyframe: its reports of that
     * generation are expected, not stale. */
    s->moving_from = old_w;
    s->moving_gen = old_gen;
}

static int count_rungs(unsigned kept)
{
    int n = 0;
    for (; kept; kept &= kept - 1)
        n++;
    return n;
}

/* A running stream placed with part of its ladder. */
static bool upgradable(const coord_stream_t *s)
{
    return s->state == STREAM_RUNNING && s->worker >= 0 &&
           s->kept != farm_full_mask(s);
}

/*
 * Gives streams placed with a partial ladder their whole ladder when
 * capacity has freed: running partial streams, highest priority first
 * (then oldest), move to another worker where the whole ladder fits, by the
 * move path (new generation first, the old one released at its keyframe).
 * Streams still waiting for capacity go first: nothing is upgraded while
 * one is pending. At most upgrade_per_s moves a second, and a stream is not
 * upgraded again within upgrade_cooldown_ms, so that churn cannot make
 * streams bounce; failed tries are bounded per pass too.
 */
void ops_upgrade_partial(coord_t *c, int64_t now)
{
    int64_t left =
        placement_rate_left(&c->upgrade_rate, now, c->cfg.upgrade_per_s);
    if (left <= 0)
        return;
    size_t n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        const coord_stream_t *s = &c->streams[i];
        if (s->state == STREAM_PENDING && placeable(c, s))
            return;
        n += upgradable(s);
    }
    if (n == 0)
        return;
    placement_upgrade_t *v = malloc(n * sizeof(*v));
    if (!v)
        return;
    n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        coord_stream_t *s = &c->streams[i];
        if (upgradable(s))
            v[n++] = (placement_upgrade_t){s->priority, s->seq, true,
                                           s->upgraded_ms, s};
    }
    n = placement_upgrade_order(v, n, now, c->cfg.upgrade_cooldown_ms);
    /* Each failed try is a placement pass over the farm: a few per pass. */
    int64_t tries = UPGRADE_PICKS_PER_UPGRADE * c->cfg.upgrade_per_s;
    for (size_t i = 0; i < n && tries > 0 && left > 0; i++) {
        coord_stream_t *s = v[i].user;
        long old_w = s->worker;
        placement_request_t req = {&s->ladder, &s->source, false};
        placement_result_t res;
        bool was = c->pworkers[old_w].draining;
        c->pworkers[old_w].draining = true; /* another worker only */
        int rc = placement_pick(&c->pcfg, &c->farm, &req, &res);
        c->pworkers[old_w].draining = was;
        if (rc == PLACEMENT_ENOWORKER)
            break;
        if (rc < 0 || res.partial) {
            tries--;
            continue;
        }
        int before = count_rungs(s->kept);
        move_to(c, s, &res, "ladder upgrade");
        s->upgraded_ms = now;
        c->upgrade_rate.used++;
        left--;
        c->n.upgrades++;
        rows_event(c, "stream.upgraded", c->workers[s->worker].id, s->id,
                   json_pack("{s:s, s:i, s:i, s:I}", "from",
                             c->workers[old_w].id, "renditions_before", before,
                             "renditions", count_rungs(s->kept), "generation",
                             (json_int_t)s->generation));
    }
    free(v);
}

void ops_worker_dead(coord_t *c, long wi, const char *why)
{
    coord_worker_t *w = &c->workers[wi];
    w->state = WORKER_DEAD;
    c->pworkers[wi].live = false;
    c->n.dead_workers++;
    release_forget_worker(c, wi);
    size_t n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        coord_stream_t *s = &c->streams[i];
        if (s->state != STREAM_FREE && s->worker == wi) {
            ops_make_pending(c, s, "failed");
            s->previous_gone = true;
            n++;
        }
    }
    /* Its devices hold nothing now. */
    for (size_t k = 0; k < c->pworkers[wi].ndevices; k++) {
        placement_device_t *d = &c->pdevices[c->pworkers[wi].first_device + k];
        memset(&d->reserved, 0, sizeof(d->reserved));
        memset(&d->unconfirmed, 0, sizeof(d->unconfirmed));
        memset(&d->measured, 0, sizeof(d->measured));
    }
    rows_event(c, "worker.dead", w->id, NULL,
               json_pack("{s:s, s:i}", "reason", why, "streams", (int)n));
    rows_worker(c, wi, false);
    ops_place_pending(c, "worker dead");
}

int ops_move_slow(coord_t *c, coord_stream_t *s, int64_t now)
{
    long old_w = s->worker, back = load_ctl_avoid(&c->lctl, &s->lctl, now);
    int64_t slow_ms = s->lctl.slow_since_ms ? now - s->lctl.slow_since_ms : 0;
    double speed = s->speed_10s;
    placement_request_t req = {&s->ladder, &s->source, c->cfg.partial_ladders};
    placement_result_t res;
    /* Another worker only, and not the one it left for being slow. */
    bool was_old = c->pworkers[old_w].draining;
    bool was_back = back >= 0 && c->pworkers[back].draining;
    c->pworkers[old_w].draining = true;
    if (back >= 0)
        c->pworkers[back].draining = true;
    int rc = placement_pick(&c->pcfg, &c->farm, &req, &res);
    if (back >= 0)
        c->pworkers[back].draining = was_back;
    c->pworkers[old_w].draining = was_old;
    if (rc < 0) {
        load_ctl_stayed(&s->lctl, now);
        c->n.slow_stays++;
        log_warn(MOD, "A slow session has no worker to move to; it stays.",
                 "stream=%s worker=%s speed=%.2f slow_ms=%lld", s->id,
                 farm_worker_id(c, old_w), speed, (long long)slow_ms);
        rows_event(c, "stream.slow", farm_worker_id(c, old_w), s->id,
                   json_pack("{s:s, s:f, s:I}", "action",
                             "stays: no worker with room", "speed", speed,
                             "slow_ms", (json_int_t)slow_ms));
        return rc;
    }
    move_to(c, s, &res, "slow session");
    load_ctl_moved(&s->lctl, old_w, now);
    c->n.slow_moves++;
    log_info(MOD, "A slow session moves to another worker.",
             "stream=%s from=%s to=%s speed=%.2f slow_ms=%lld", s->id,
             farm_worker_id(c, old_w), farm_worker_id(c, s->worker), speed,
             (long long)slow_ms);
    rows_event(c, "stream.slow_moved", farm_worker_id(c, s->worker), s->id,
               json_pack("{s:s, s:s, s:f, s:I, s:I}", "from",
                         farm_worker_id(c, old_w), "to",
                         farm_worker_id(c, s->worker), "speed", speed,
                         "slow_ms", (json_int_t)slow_ms, "generation",
                         (json_int_t)s->generation));
    return 0;
}

int ops_stop_stream(coord_t *c, coord_stream_t *s, const char *why)
{
    bool operator= !strcmp(why, "operator");
    if (s->worker >= 0)
        release_send(c, s->worker, s->id,
                     s->generation,
                     operator
                         ? PRISM__RELEASE_REASON__RELEASE_REASON_OPERATOR
                         : PRISM__RELEASE_REASON__RELEASE_REASON_STREAM_ENDED,
                     false);
    if (operator) {
        coord_ingest_t *in = farm_find_ingest(c, s->ingest);
        if (in) {
            Prism__StreamEnd e = PRISM__STREAM_END__INIT;
            Prism__Envelope env = PRISM__ENVELOPE__INIT;
            e.stream_id = s->id;
            e.reason = (char *)"stopped by the operator";
            env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
            env.stream_end = &e;
            farm_send(c, in->rid, in->rid_len, &env, in->id);
        }
    }
    const char *wid = farm_worker_id(c, s->worker);
    rows_event(c, "stream.ended", wid, s->id,
               json_pack("{s:s, s:s}", "reason", why, "channel", s->channel));
    unreserve(c, s, "released");
    rows_stream_end(c, s->id, why);
    farm_stream_free(c, s);
    c->pending_dirty = true;
    return 0;
}

int ops_drain(coord_t *c, long wi, bool drain, bool move)
{
    placement_worker_t *pw = &c->pworkers[wi];
    pw->draining = drain;
    rows_event(c, drain ? "worker.draining" : "worker.undrained",
               c->workers[wi].id, NULL, json_pack("{s:b}", "move", move));
    rows_worker(c, wi, false);
    if (!drain) {
        c->pending_dirty = true;
        return 0;
    }
    int moved = 0;
    if (move) {
        for (size_t i = 0; i < c->nslots; i++) {
            coord_stream_t *s = &c->streams[i];
            if (s->state != STREAM_FREE && s->worker == wi &&
                move_stream(c, s, "drain") == 0)
                moved++;
        }
    }
    return moved;
}
