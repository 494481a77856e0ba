/* The worker's control link and session manager (`prism-worker run`). */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "curve_keys.h"
#include "device_offer.h"
#include "drm_fdinfo.h"
#include "envelope.h"
#include "fence.h"
#include "hls_continue.h"
#include "host_load.h"
#include "load_report.h"
#include "log.h"
#include "nvml.h"
#include "transcode.h"
#include "zmq_source.h"
#include "zsock.h"

#define MOD          "agent"
#define SOFTWARE     "prism-worker " PRISM_VERSION
#define MAX_SESSIONS 4096
#define POLL_MS      50

enum { S_FREE = 0, S_STARTING, S_RUNNING, S_FAILED, S_DONE };

typedef struct {
    atomic_int state; /* S_*: the session thread moves it on */
    bool acked;
    bool joined;
    char stream_id[128];
    char channel[128];
    uint64_t generation;
    int device;
    int priority;
    ladder_profile_t profile;
    ladder_cost_t cost;
    char endpoint[256];
    char ingest_key[CURVE_KEY_Z85_SIZE];
    char token[256];
    char output[1024];
    int fps_num, fps_den;
    int segment_ms;
    int part_ms; /* Low-Latency HLS part target; 0: plain HLS */
    uint64_t media_sequence;
    bool discontinuity;
    bool previous_gone;      /* Assign.previous_gone */
    uint64_t start_sequence; /* what the session continues from */
    char error[256];
    atomic_bool stop;
    int64_t stop_by_ms; /* a Release at_keyframe: stop for good by then */
    pthread_t thread;
    pthread_mutex_t lock; /* guards ts, src and state */
    transcode_session_t *ts;
    packet_source_t *src;
    struct agent *agent;
} sess_t;

struct agent {
    worker_config_t cfg;
    origin_access_t origin_access; /* from cfg: token, TLS trust */
    probe_t probe;
    device_offer_t dev[DEVICE_OFFER_MAX];
    int ndev;
    hwplan_devices_t hwdev;
    curve_keypair_t *kp;
    char coord_pub[CURVE_KEY_Z85_SIZE];
    void *sock;
    nvml_t *nvml;
    host_load_t *host;                 /* the CPU device's measured use */
    drm_load_t *drm[DEVICE_OFFER_MAX]; /* VAAPI devices' measured use */
    atomic_bool stop;
    bool registered;
    int64_t next_register_ms, next_report_ms, last_heard_ms, connected_ms;
    int report_ms;
    fence_t fence;    /* uploads wait after a freeze (fence.h) */
    bool fence_acked; /* registered again since the fence went up */
    uint64_t seq;
    int nsess; /* slots in use or not yet joined */
    sess_t *sess[MAX_SESSIONS];
};

/* ---------------------------------------------------------------- helpers */

int agent_profile_from_assign(const Prism__Assign *a, ladder_profile_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "assign");
    for (size_t i = 0; i < a->n_renditions; i++) {
        const Prism__Rendition *r = a->renditions[i];
        if (out->nrungs >= LADDER_MAX_RUNGS)
            return -EINVAL;
        ladder_rung_t *g = &out->rungs[out->nrungs];
        if (r->name)
            snprintf(g->name, sizeof(g->name), "%s", r->name);
        if (r->profile)
            snprintf(g->profile, sizeof(g->profile), "%s", r->profile);
        if (envelope_codec_from_proto(r->codec, &g->codec) < 0)
            return -EINVAL;
        if (r->remux) {
            g->remux = true;
        } else {
            if (!r->width || !r->height)
                return -EINVAL;
            /* A rung's height is the short side; width from the aspect. */
            g->height = (int)(r->width < r->height ? r->width : r->height);
            uint32_t den = r->fps_den ? r->fps_den : 1;
            g->fps = r->fps_num ? (int)((r->fps_num + den - 1) / den) : 30;
            g->bitrate_kbps = r->bitrate_kbps ? (int)r->bitrate_kbps : 1000;
        }
        out->nrungs++;
    }
    return out->nrungs ? 0 : -EINVAL;
}

static const char *rel_path(const char *p)
{
    return p ? p : "";
}

/* ---------------------------------------------------------------- sending */

static void send_env(agent_t *a, Prism__Envelope *env)
{
    int ret = envelope_send(a->sock, NULL, a->cfg.worker_id, env, ZMQ_DONTWAIT);
    if (ret < 0 && ret != -EAGAIN)
        log_warn(MOD, "Cannot send to the coordinator.", "body=%s err=\"%s\"",
                 envelope_body_name(env), zmq_strerror(-ret));
}

static bool sess_live(const sess_t *s)
{
    return s->state == S_STARTING || s->state == S_RUNNING;
}

static void send_register(agent_t *a)
{
    Prism__Register r = PRISM__REGISTER__INIT;
    Prism__Device d[DEVICE_OFFER_MAX], *dp[DEVICE_OFFER_MAX];
    Prism__Codec codecs[DEVICE_OFFER_MAX][3];
    Prism__Codec dec[3] = {PRISM__CODEC__CODEC_H264, PRISM__CODEC__CODEC_HEVC,
                           PRISM__CODEC__CODEC_AV1};
    for (int i = 0; i < a->ndev; i++) {
        const device_offer_t *x = &a->dev[i];
        Prism__Device y = PRISM__DEVICE__INIT;
        y.index = (uint32_t)i;
        y.kind = x->kind;
        y.name = (char *)x->name;
        y.path = (char *)x->path;
        size_t nc = 0;
        for (int c = 0; c < 3; c++)
            if (x->codecs & (1u << c))
                codecs[i][nc++] = envelope_codec_to_proto((ladder_codec_t)c);
        y.n_encode_codecs = nc;
        y.encode_codecs = codecs[i];
        y.n_decode_codecs = 3;
        y.decode_codecs = dec;
        y.hw_decode = x->hw_decode;
        y.hw_encode = x->hw_encode;
        y.max_sessions = x->max_sessions;
        y.encode_budget = x->encode_budget;
        y.decode_budget = x->decode_budget;
        y.memory_bytes = x->memory_bytes;
        y.note = (char *)x->note;
        d[i] = y;
        dp[i] = &d[i];
    }
    int nrun = 0;
    for (int i = 0; i < a->nsess; i++)
        if (a->sess[i] && sess_live(a->sess[i]))
            nrun++;
    Prism__RunningStream *rs = calloc((size_t)nrun + 1, sizeof(*rs));
    Prism__RunningStream **rp = calloc((size_t)nrun + 1, sizeof(*rp));
    char *(*names)[LADDER_MAX_RUNGS] = calloc((size_t)nrun + 1, sizeof(*names));
    if (!rs || !rp || !names)
        goto end;
    int k = 0;
    for (int i = 0; i < a->nsess && k < nrun; i++) {
        sess_t *s = a->sess[i];
        if (!s || !sess_live(s))
            continue;
        Prism__RunningStream x = PRISM__RUNNING_STREAM__INIT;
        x.stream_id = s->stream_id;
        x.generation = s->generation;
        x.device_index = (uint32_t)s->device;
        for (int j = 0; j < s->profile.nrungs; j++)
            names[k][j] = s->profile.rungs[j].name;
        x.n_renditions = (size_t)s->profile.nrungs;
        x.renditions = names[k];
        rs[k] = x;
        rp[k] = &rs[k];
        k++;
    }
    r.worker_id = a->cfg.worker_id;
    r.host = a->cfg.host;
    r.n_devices = (size_t)a->ndev;
    r.devices = dp;
    r.n_running = (size_t)k;
    r.running = rp;
    r.software = (char *)SOFTWARE;
    r.max_host_sessions = (uint32_t)a->cfg.max_host_sessions;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER;
    env.register_ = &r;
    send_env(a, &env);
    log_debug(MOD, "Register sent.", "worker=%s devices=%d running=%d",
              a->cfg.worker_id, a->ndev, k);
end:
    free(rs);
    free(rp);
    free(names);
}

static void send_ack(agent_t *a, const char *stream, uint64_t gen, bool ok,
                     const char *error, Prism__Ack__Of of)
{
    Prism__Ack ack = PRISM__ACK__INIT;
    ack.stream_id = (char *)stream;
    ack.generation = gen;
    ack.ok = ok;
    ack.error = (char *)(error ? error : "");
    ack.of = of;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    send_env(a, &env);
}

/* The LoadReport (load_report.c) of the running sessions. */
static void send_report(agent_t *a)
{
    int nlive = 0;
    for (int i = 0; i < a->nsess; i++)
        if (a->sess[i] && a->sess[i]->state == S_RUNNING)
            nlive++;
    load_report_session_t *ls = calloc((size_t)nlive + 1, sizeof(*ls));
    if (!ls)
        return;
    int k = 0;
    for (int i = 0; i < a->nsess && k < nlive; i++) {
        sess_t *s = a->sess[i];
        if (!s || s->state != S_RUNNING)
            continue;
        load_report_session_t *x = &ls[k++];
        x->stream_id = s->stream_id;
        x->generation = s->generation;
        x->device = s->device;
        x->cost = s->cost;
        pthread_mutex_lock(&s->lock);
        if (s->ts) {
            x->have_stats = true;
            transcode_session_stats(s->ts, &x->st);
            zmq_source_stats(s->src, &x->zs);
        }
        pthread_mutex_unlock(&s->lock);
    }
    host_load_sample_t cpu;
    int64_t now_us = clock_mono_us();
    bool have_cpu = a->host && host_load_sample(a->host, now_us, &cpu) == 0;
    double va[DEVICE_OFFER_MAX];
    for (int i = 0; i < a->ndev; i++)
        if (!a->drm[i] || drm_load_sample(a->drm[i], now_us, &va[i]) < 0)
            va[i] = -1;
    load_report_t *r = load_report_new(a->seq + 1, a->dev, a->ndev, a->nvml,
                                       have_cpu ? &cpu : NULL, va, ls, k);
    if (r) {
        a->seq++;
        send_env(a, load_report_envelope(r));
    }
    load_report_free(&r);
    free(ls);
}

/* ---------------------------------------------------------------- sessions */

static void set_state(sess_t *s, int state, const char *error)
{
    pthread_mutex_lock(&s->lock);
    s->state = state;
    if (error)
        snprintf(s->error, sizeof(s->error), "%s", error);
    pthread_mutex_unlock(&s->lock);
}

static void on_segment(void *opaque, const transcode_segment_t *seg)
{
    sess_t *s = opaque;
    log_debug(MOD, "Segment done.",
              "stream=%s index=%" PRId64 " start_s=%.3f lag_s=%.3f",
              s->stream_id, seg->index, seg->start_s, seg->lag_s);
}

/*
 * How far back a session that takes a stream over asks the ingest to
 * replay: the renditions it continues ended up to a segment apart (the
 * encoded ones lag the remuxed Source), and the latest of them up to a
 * segment, plus the time the failure took to notice, before the ingest's
 * newest packet. Three segments cover both; what was published is decoded
 * again but not written (transcode.c).
 */
static uint32_t takeover_history_ms(int segment_ms)
{
    return 3u * (uint32_t)(segment_ms > 0 ? segment_ms : 2000);
}

static void *sess_main(void *arg)
{
    sess_t *s = arg;
    agent_t *a = s->agent;
    const device_offer_t *d = &a->dev[s->device];

    /* Where the playlists stand: a take-over continues them. */
    uint64_t next = 0;
    bool found = hls_continue_next_sequence(s->output, &s->profile,
                                            &a->origin_access, &next);
    s->start_sequence =
        found && next > s->media_sequence ? next : s->media_sequence;
    bool disc = found || s->discontinuity;
    if (found || s->start_sequence)
        log_info(MOD, "Continuing the stream's playlists.",
                 "stream=%s generation=%" PRIu64 " media_sequence=%" PRIu64
                 " discontinuity=%d",
                 s->stream_id, s->generation, s->start_sequence, disc);

    zmq_source_opts_t zo = {
        .endpoint = s->endpoint,
        .server_key = s->ingest_key[0] ? s->ingest_key : NULL,
        .client_key = a->kp,
        .stream_id = s->stream_id,
        .token = s->token,
        .credit_bytes = (uint64_t)a->cfg.credit_bytes,
        .timeout_ms = (int)a->cfg.subscribe_timeout_ms,
        .idle_ms = (int)a->cfg.source_idle_ms,
        .fps_num = s->fps_num,
        .fps_den = s->fps_den,
        .history_ms = found ? takeover_history_ms(s->segment_ms) : 0,
    };
    packet_source_t *src = zmq_source_open(&zo);
    if (!src) {
        set_state(s, S_FAILED, "cannot subscribe at the ingest");
        return NULL;
    }
    transcode_opts_t o;
    transcode_opts_default(&o);
    snprintf(o.output, sizeof(o.output), "%s", s->output);
    o.backend = d->backend;
    o.devices = &a->hwdev;
    snprintf(o.device, sizeof(o.device), "%s", d->device);
    o.segment_s = s->segment_ms > 0 ? s->segment_ms / 1000.0 : 2.0;
    o.part_s = s->part_ms / 1000.0;
    o.fmp4 = s->part_ms > 0; /* CMAF parts */
    o.list_size = (int)a->cfg.list_size;
    o.preset = a->cfg.preset;
    o.thumbnail_s = a->cfg.thumbnail;
    o.audio_kbps = (int)a->cfg.audio_kbps;
    o.queue_packets = (int)a->cfg.queue_packets;
    o.origin.timeout_ms = (int)a->cfg.origin_timeout_ms;
    o.origin.access = a->origin_access;
    o.origin.queue_files = (int)a->cfg.origin_queue_files;
    o.origin.queue_bytes = (size_t)a->cfg.origin_queue_mb << 20;
    o.origin.fence = &a->fence;
    o.progress = false;
    o.on_segment = on_segment;
    o.opaque = s;
    /* The session reads the playlists again and continues each one: its
     * segments, its sequence numbers and the stream's timeline, so that a
     * take-over, a restart or a publisher reconnect goes on from the last
     * published segment's end. A rendition the old session had not
     * finished a segment of yet publishes that segment's time under its
     * own next number (numbers stay aligned with time across renditions);
     * the coordinator's sequence is a floor. */
    o.start_sequence = (int64_t)s->media_sequence;
    o.discontinuity = disc;
    o.continue_playlists = true;
    o.previous_gone = s->previous_gone;
    o.end_wait_ms = (int)a->cfg.publisher_wait_ms;
    transcode_session_t *ts = transcode_session_new(src, &s->profile, &o);
    if (!ts) {
        set_state(s, S_FAILED, "the transcode session did not start");
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    s->ts = ts;
    s->src = src;
    s->state = S_RUNNING;
    bool stop = atomic_load(&s->stop);
    pthread_mutex_unlock(&s->lock);
    int ret = stop ? 0 : transcode_session_run(ts);
    /* Why it failed, for the coordinator (the Ack's error). */
    transcode_stats_t fst;
    transcode_session_stats(ts, &fst);
    char why[256];
    snprintf(why, sizeof(why), "the transcode session failed: %.200s",
             fst.error[0] ? fst.error : "unknown error");
    pthread_mutex_lock(&s->lock);
    s->ts = NULL;
    s->src = NULL;
    pthread_mutex_unlock(&s->lock);
    transcode_session_free(&ts);
    log_info(MOD, "Session ended.",
             "stream=%s generation=%" PRIu64 " failed=%d why=\"%s\"",
             s->stream_id, s->generation, ret < 0, ret < 0 ? why : "");
    set_state(s, ret < 0 ? S_FAILED : S_DONE, ret < 0 ? why : NULL);
    return NULL;
}

static void sess_stop(sess_t *s)
{
    atomic_store(&s->stop, true);
    pthread_mutex_lock(&s->lock);
    if (s->ts)
        transcode_session_stop(s->ts);
    pthread_mutex_unlock(&s->lock);
}

static sess_t *find_sess(agent_t *a, const char *stream_id)
{
    for (int i = 0; i < a->nsess; i++)
        if (a->sess[i] && !a->sess[i]->joined &&
            !strcmp(a->sess[i]->stream_id, stream_id) && sess_live(a->sess[i]))
            return a->sess[i];
    return NULL;
}

static int count_live(agent_t *a)
{
    int n = 0;
    for (int i = 0; i < a->nsess; i++)
        if (a->sess[i] && sess_live(a->sess[i]))
            n++;
    return n;
}

static void on_assign(agent_t *a, const Prism__Assign *m)
{
    const Prism__Ack__Of of = PRISM__ACK__OF__OF_ASSIGN;
    sess_t *old = find_sess(a, m->stream_id);
    if (old && old->generation == m->generation) {
        if (old->acked) /* a re-sent Assign: say it again */
            send_ack(a, m->stream_id, m->generation, true, NULL, of);
        return;
    }
    if (old && old->generation > m->generation) {
        send_ack(a, m->stream_id, m->generation, false,
                 "a newer generation runs here", of);
        return;
    }
    if (m->device_index >= (uint32_t)a->ndev) {
        send_ack(a, m->stream_id, m->generation, false, "no such device", of);
        return;
    }
    if (count_live(a) >= a->cfg.max_streams || a->nsess >= MAX_SESSIONS) {
        send_ack(a, m->stream_id, m->generation, false,
                 "worker full: max_streams", of);
        return;
    }
    sess_t *s = calloc(1, sizeof(*s));
    if (!s) {
        send_ack(a, m->stream_id, m->generation, false, "out of memory", of);
        return;
    }
    if (agent_profile_from_assign(m, &s->profile) < 0) {
        free(s);
        log_error(MOD, "An Assign has an unusable ladder.",
                  "stream=%s renditions=%zu", m->stream_id, m->n_renditions);
        send_ack(a, m->stream_id, m->generation, false, "unusable ladder", of);
        return;
    }
    if (old) {
        log_info(MOD, "A newer generation replaces the running one.",
                 "stream=%s old=%" PRIu64 " new=%" PRIu64, m->stream_id,
                 old->generation, m->generation);
        sess_stop(old);
    }
    pthread_mutex_init(&s->lock, NULL);
    s->agent = a;
    s->state = S_STARTING;
    snprintf(s->stream_id, sizeof(s->stream_id), "%s", m->stream_id);
    snprintf(s->channel, sizeof(s->channel), "%s", rel_path(m->channel));
    s->generation = m->generation;
    s->device = (int)m->device_index;
    s->priority = (int)m->priority;
    snprintf(s->endpoint, sizeof(s->endpoint), "%s",
             rel_path(m->ingest_endpoint));
    if (m->ingest_public_key.len == 32)
        zmq_z85_encode(s->ingest_key, m->ingest_public_key.data, 32);
    snprintf(s->token, sizeof(s->token), "%s", rel_path(m->subscribe_token));
    const char *base =
        a->cfg.output_url[0] ? a->cfg.output_url : rel_path(m->output_url);
    size_t bl = strlen(base);
    snprintf(s->output, sizeof(s->output), "%.*s/%s",
             (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base,
             s->channel[0] ? s->channel : s->stream_id);
    s->segment_ms = (int)m->segment_ms;
    s->part_ms = (int)m->part_ms;
    s->media_sequence = m->media_sequence;
    s->discontinuity = m->discontinuity;
    s->previous_gone = m->previous_gone;
    /* The cost as the coordinator counts it, for the load reports. */
    ladder_source_t ls = {0};
    if (m->source) {
        s->fps_num = (int)m->source->fps_num;
        s->fps_den = (int)m->source->fps_den;
        ls.width = (int)m->source->width;
        ls.height = (int)m->source->height;
        ls.fps_num = s->fps_num;
        ls.fps_den = s->fps_den;
    }
    ladder_t lad;
    if (ladder_apply(&s->profile, &ls, &lad) == 0) {
        ladder_cost(&lad, &ls, &s->cost);
        /* Rung names as the session will make them, for Register. */
        for (int i = 0; i < lad.n && i < s->profile.nrungs; i++)
            if (!s->profile.rungs[i].name[0])
                snprintf(s->profile.rungs[i].name,
                         sizeof(s->profile.rungs[i].name), "%s", lad.r[i].name);
    }
    if (!s->endpoint[0] || !s->token[0] || !base[0]) {
        log_error(MOD, "An Assign lacks the ingest or output.",
                  "stream=%s endpoint=\"%s\" output=\"%s\"", s->stream_id,
                  s->endpoint, base);
        send_ack(a, m->stream_id, m->generation, false,
                 "assign lacks ingest endpoint, token or output", of);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return;
    }
    if (pthread_create(&s->thread, NULL, sess_main, s) != 0) {
        send_ack(a, m->stream_id, m->generation, false, "thread", of);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return;
    }
    log_info(MOD, "Stream assigned.",
             "stream=%s generation=%" PRIu64 " channel=%s device=%d "
             "renditions=%d ingest=%s output=\"%s\"",
             s->stream_id, s->generation, s->channel, s->device,
             s->profile.nrungs, s->endpoint, s->output);
    a->sess[a->nsess++] = s;
}

static void on_release(agent_t *a, const Prism__Release *m)
{
    for (int i = 0; i < a->nsess; i++) {
        sess_t *s = a->sess[i];
        if (!s || strcmp(s->stream_id, m->stream_id) ||
            s->generation > m->generation || atomic_load(&s->stop) ||
            s->stop_by_ms)
            continue;
        log_info(MOD, "Stream released.",
                 "stream=%s generation=%" PRIu64 " reason=%d at_keyframe=%d",
                 s->stream_id, s->generation, (int)m->reason,
                 (int)m->at_keyframe);
        bool fenced = fence_is_up(&a->fence);
        if (fenced ||
            m->reason == PRISM__RELEASE_REASON__RELEASE_REASON_MOVED ||
            m->reason == PRISM__RELEASE_REASON__RELEASE_REASON_SUPERSEDED) {
            /* Another worker continues the playlists: do not end them;
             * fenced, it has been writing them since: send nothing more. */
            pthread_mutex_lock(&s->lock);
            if (s->ts && fenced)
                transcode_session_abandon(s->ts);
            else if (s->ts)
                transcode_session_continues_elsewhere(s->ts);
            pthread_mutex_unlock(&s->lock);
        }
        bool later = false;
        if (m->at_keyframe) {
            /* The input ends at the next keyframe; a stream without one
             * soon is stopped anyway (tend_sessions). */
            pthread_mutex_lock(&s->lock);
            if (s->src) {
                zmq_source_end_at_keyframe(s->src);
                int seg = s->segment_ms > 0 ? s->segment_ms : 2000;
                s->stop_by_ms = clock_mono_ms() + 3 * seg;
                later = true;
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (!later)
            sess_stop(s);
    }
    send_ack(a, m->stream_id, m->generation, true, NULL,
             PRISM__ACK__OF__OF_RELEASE);
}

/* Acks sessions that came up or failed; joins ended threads. */
static void tend_sessions(agent_t *a)
{
    for (int i = 0; i < a->nsess; i++) {
        sess_t *s = a->sess[i];
        pthread_mutex_lock(&s->lock);
        int st = s->state;
        char err[256];
        snprintf(err, sizeof(err), "%s", s->error);
        pthread_mutex_unlock(&s->lock);
        if (!s->acked && st != S_STARTING) {
            bool ok = st == S_RUNNING || st == S_DONE;
            if (!atomic_load(&s->stop) || ok)
                send_ack(a, s->stream_id, s->generation, ok, ok ? NULL : err,
                         PRISM__ACK__OF__OF_ASSIGN);
            s->acked = true;
        } else if (s->acked && st == S_FAILED && !atomic_load(&s->stop) &&
                   !s->stop_by_ms) {
            /* It ran and failed on its own: a late Ack ok = false makes
             * the coordinator place the stream again. */
            log_warn(MOD, "A running session failed; telling the coordinator.",
                     "stream=%s generation=%" PRIu64 " error=\"%s\"",
                     s->stream_id, s->generation, err);
            send_ack(a, s->stream_id, s->generation, false, err,
                     PRISM__ACK__OF__OF_ASSIGN);
        }
        if (s->stop_by_ms && clock_mono_ms() > s->stop_by_ms &&
            !atomic_load(&s->stop)) {
            log_warn(MOD,
                     "The session did not reach its stop in time (no "
                     "keyframe, or a backlog to work through); stopping "
                     "now.",
                     "stream=%s generation=%" PRIu64, s->stream_id,
                     s->generation);
            sess_stop(s);
        }
        if (st == S_FAILED || st == S_DONE) {
            pthread_join(s->thread, NULL);
            pthread_mutex_destroy(&s->lock);
            free(s);
            a->sess[i] = a->sess[--a->nsess];
            a->sess[a->nsess] = NULL;
            i--;
        }
    }
}

/* ---------------------------------------------------------------- loop */

static void handle(agent_t *a)
{
    for (;;) {
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(a->sock, ZMQ_DONTWAIT, NULL, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        int64_t now = clock_mono_ms();
        a->last_heard_ms = now;
        switch (env->body_case) {
        case PRISM__ENVELOPE__BODY_REGISTER_ACK: {
            const Prism__RegisterAck *r = env->register_ack;
            if (r->accepted) {
                if (!a->registered)
                    log_info(MOD, "Registered with the coordinator.",
                             "worker=%s coordinator=%s report_ms=%u",
                             a->cfg.worker_id, rel_path(r->coordinator_id),
                             r->report_interval_ms);
                a->registered = true;
                a->fence_acked = fence_is_up(&a->fence);
                if (r->report_interval_ms >= 50)
                    a->report_ms = (int)r->report_interval_ms;
                fence_set_limit(&a->fence,
                                fence_limit(r->dead_after_ms, a->report_ms));
                a->next_report_ms = now;
            } else {
                log_warn(MOD, "The coordinator refused the registration.",
                         "worker=%s reason=\"%s\"", a->cfg.worker_id,
                         rel_path(r->reason));
                a->registered = false;
                /* "not registered: send Register" after its restart. */
                a->next_register_ms =
                    strstr(rel_path(r->reason), "not registered")
                        ? now
                        : now + a->cfg.register_retry_ms;
            }
            break;
        }
        case PRISM__ENVELOPE__BODY_ASSIGN:
            on_assign(a, env->assign);
            break;
        case PRISM__ENVELOPE__BODY_RELEASE:
            on_release(a, env->release);
            break;
        case PRISM__ENVELOPE__BODY_HEARTBEAT:
            /* After the RegisterAck and the Releases it was sent before. */
            if (a->fence_acked && fence_is_up(&a->fence)) {
                a->fence_acked = false;
                fence_lower(&a->fence);
                log_info(MOD,
                         "The coordinator answered after the freeze; "
                         "uploads go on.",
                         "worker=%s", a->cfg.worker_id);
            }
            break;
        default:
            break;
        }
        envelope_free(&env);
    }
}

/*
 * (Re)creates the control DEALER and connects it to every coordinator.
 * A CURVE handshake that the coordinator's ZAP handler refused (a key
 * allowed only later) is not retried by libzmq, so the loop calls this
 * again when registering gets no answer for coordinator_lost_ms.
 */
static int agent_connect(agent_t *a)
{
    zsock_close(&a->sock);
    a->connected_ms = clock_mono_ms();
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    o.max_msg_size = ENVELOPE_MAX_BYTES + 1024;
    a->sock = zsock_new(ZMQ_DEALER, &o);
    if (!a->sock)
        return -ENOMEM;
    int one = 1, ivl = 200;
    zmq_setsockopt(a->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    if (a->coord_pub[0] && zsock_curve_client(a->sock, a->kp, a->coord_pub) < 0)
        return -EINVAL;
    if (zsock_connect_list(a->sock, a->cfg.coordinators) < 0) {
        log_error(MOD, "Cannot connect to the coordinators.",
                  "coordinators=\"%s\"", a->cfg.coordinators);
        return -EINVAL;
    }
    return 0;
}

/*
 * The loop did not run for FROZEN ms (SIGSTOP, a hung host): the
 * coordinator may have declared this worker dead and placed its streams
 * elsewhere. The fence is up (uploads wait); what the old socket holds
 * was sent before the coordinator knew, so a fresh socket registers
 * again, and the first Heartbeat after its RegisterAck lowers the fence,
 * once the Releases of moved streams have come (they abandon those).
 */
static int on_frozen(agent_t *a, int64_t frozen)
{
    log_warn(MOD,
             "This worker was frozen; its uploads wait until the "
             "coordinator has answered (it may have moved the streams).",
             "worker=%s frozen_ms=%" PRId64 " sessions=%d", a->cfg.worker_id,
             frozen, a->nsess);
    a->fence_acked = false;
    a->registered = false;
    a->next_register_ms = clock_mono_ms();
    a->last_heard_ms = a->next_register_ms;
    return agent_connect(a);
}

int agent_run(agent_t *a)
{
    log_info(MOD, "Worker running.", "worker=%s coordinators=\"%s\" devices=%d",
             a->cfg.worker_id, a->cfg.coordinators, a->ndev);
    a->next_register_ms = 0;
    a->last_heard_ms = clock_mono_ms();
    while (!atomic_load(&a->stop)) {
        zmq_pollitem_t pi = {a->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&pi, 1, POLL_MS);
        if (n < 0 && zmq_errno() != EINTR) {
            log_error(MOD, "Polling the control socket failed.",
                      "call=zmq_poll err=\"%s\"", zmq_strerror(zmq_errno()));
            break;
        }
        int64_t frozen = fence_beat(&a->fence, clock_mono_ms());
        if (frozen && on_frozen(a, frozen) < 0)
            break;
        if (n > 0)
            handle(a);
        tend_sessions(a);
        int64_t now = clock_mono_ms();
        if (a->registered &&
            now - a->last_heard_ms > a->cfg.coordinator_lost_ms) {
            log_warn(MOD, "The coordinator is silent; registering again.",
                     "worker=%s silent_ms=%" PRId64, a->cfg.worker_id,
                     now - a->last_heard_ms);
            a->registered = false;
            a->next_register_ms = now;
        }
        if (!a->registered &&
            now - a->last_heard_ms > a->cfg.coordinator_lost_ms &&
            now - a->connected_ms > a->cfg.coordinator_lost_ms) {
            log_warn(MOD, "No answer from the coordinator; reconnecting.",
                     "worker=%s coordinators=\"%s\"", a->cfg.worker_id,
                     a->cfg.coordinators);
            if (agent_connect(a) < 0)
                break;
        }
        if (!a->registered && now >= a->next_register_ms) {
            send_register(a);
            a->next_register_ms = now + a->cfg.register_retry_ms;
        }
        if (a->registered && now >= a->next_report_ms) {
            send_report(a);
            a->next_report_ms = now + a->report_ms;
        }
    }
    /* The worker goes away, not its streams: the coordinator places them
     * again, and their playlists stay open (no EXT-X-ENDLIST, no final
     * master) for the worker that continues them. */
    for (int i = 0; i < a->nsess; i++) {
        sess_t *s = a->sess[i];
        pthread_mutex_lock(&s->lock);
        if (s->ts)
            transcode_session_leave_open(s->ts);
        pthread_mutex_unlock(&s->lock);
        sess_stop(s);
    }
    for (int i = 0; i < a->nsess; i++) {
        pthread_join(a->sess[i]->thread, NULL);
        pthread_mutex_destroy(&a->sess[i]->lock);
        free(a->sess[i]);
        a->sess[i] = NULL;
    }
    a->nsess = 0;
    return 0;
}

void agent_stop(agent_t *a)
{
    atomic_store(&a->stop, true);
}

agent_t *agent_new(const worker_config_t *cfg, const probe_t *probe)
{
    agent_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cfg = *cfg;
    a->origin_access = (origin_access_t){
        a->cfg.origin_token, a->cfg.origin_ca_file, !a->cfg.origin_tls_verify};
    a->report_ms = (int)cfg->report_ms;
    fence_init(&a->fence, fence_limit(0, a->report_ms));
    if (probe)
        a->probe = *probe;
    else
        probe_run(&a->probe);
    probe_devices(&a->probe, &a->hwdev);
    host_load_mode_t hm = HOST_LOAD_AUTO;
    host_load_mode_parse(cfg->cpu_measure, &hm); /* checked at parse */
    if (hm != HOST_LOAD_OFF)
        a->host = host_load_new(hm);
    a->probe.cpu_limit_cores = host_load_limit_cores(a->host);
    a->ndev = device_offer_list(&a->probe, cfg, a->dev, DEVICE_OFFER_MAX);
    for (int i = 0; i < a->ndev; i++)
        log_info(MOD, "Device offered.",
                 "index=%d path=%s name=\"%s\" codecs=0x%x max_sessions=%u "
                 "encode_budget=%" PRIu64 " decode_budget=%" PRIu64,
                 i, a->dev[i].path, a->dev[i].name, a->dev[i].codecs,
                 a->dev[i].max_sessions, a->dev[i].encode_budget,
                 a->dev[i].decode_budget);
    if (cfg->nvml)
        for (int i = 0; i < a->ndev && !a->nvml; i++)
            if (a->dev[i].cuda_index >= 0)
                a->nvml = nvml_open();
    for (int i = 0; i < a->ndev; i++)
        if (a->dev[i].kind == PRISM__DEVICE_KIND__DEVICE_KIND_VAAPI)
            a->drm[i] = drm_load_new(a->dev[i].path);
    if (cfg->key_file[0] && curve_keys_load_secret(cfg->key_file, &a->kp) < 0)
        goto err;
    if (cfg->coordinator_key[0] &&
        curve_keys_load_public(cfg->coordinator_key, a->coord_pub) < 0)
        goto err;
    if (a->coord_pub[0] && !a->kp) {
        log_error(MOD, "coordinator_key needs key_file too.", NULL);
        goto err;
    }
    if (agent_connect(a) < 0)
        goto err;
    return a;
err:
    agent_free(&a);
    return NULL;
}

void agent_free(agent_t **ap)
{
    agent_t *a = ap ? *ap : NULL;
    if (!a)
        return;
    zsock_close(&a->sock);
    curve_keypair_free(&a->kp);
    nvml_close(&a->nvml);
    host_load_free(&a->host);
    for (int i = 0; i < DEVICE_OFFER_MAX; i++)
        drm_load_free(&a->drm[i]);
    free(a);
    *ap = NULL;
}
