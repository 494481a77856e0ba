/* prism-bench sched: placement latency, packing and failover re-placement. */

/*
 * What it does (all in-process, on the coordinator's placement core,
 * coordinator/placement.h, the same code prism-coordinator runs):
 *  1. builds W simulated workers with a mix of device kinds: GeForce-style
 *     NVENC hosts (8 sessions per host), data-centre NVENC hosts with two
 *     cards, VAAPI hosts and CPU-only hosts;
 *  2. places S streams with the default ladder profile fitted to a mix of
 *     sources (1080p60, 1080p30, 720p60, 720p30, 480p30), with churn: after
 *     every tenth placement a random running stream ends and is released;
 *     every pick is timed, and the farm's utilisation (farm_utilisation:
 *     per device the resource that binds first) is recorded with which
 *     event it was the first time a whole ladder fits nowhere (partial or
 *     refused);
 *  3. fails 10% of the workers at once and re-places every stream they ran
 *     in one batch (priority order), as the coordinator's loop does in the
 *     pass after it detects them dead; that batch is timed.
 * It prints the figures, writes them as JSON with --json, and a CSV of the
 * latency distribution (and a PNG through gnuplot when present) with --csv.
 * The figures are the placement core's: no sockets or database are in the
 * timed path (the coordinator's integration tests cover those).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "http_client.h"
#include "ladder.h"
#include "placement.h"
#include "zsock.h"

#define M 1000000ull

typedef struct {
    long worker, device;
    ladder_cost_t cost;
    int src; /* index into the source mix */
    uint32_t priority;
    bool live;
} bstream_t;

/*
 * The coordinator's own work for each stream it places besides the pick
 * (coordinator/coord.c, assign_placed through placement_place_batch): the
 * reservation; an Assign envelope with the kept renditions, packed for the
 * worker's socket; the streams upsert and the assignment insert queued for
 * the database thread (text parameters, source and renditions as JSON);
 * the stream.replaced event (JSON detail) queued for the database and
 * formatted as a log line. The in-process run does the same with the same
 * libraries into a bounded queue of copies that nothing drains (the
 * coordinator's database queue is bounded too); the socket send and the
 * database round trips are not in it (the socket run has them).
 */
#define APPLY_QUEUE 4096

typedef struct {
    placement_farm_t *farm;
    char *queue[APPLY_QUEUE]; /* oldest overwritten: bounded */
    size_t nqueued;
    uint64_t assign_bytes;
    long applied;
} bench_apply_t;

static void apply_queue(bench_apply_t *b, char *job)
{
    char **slot = &b->queue[b->nqueued++ % APPLY_QUEUE];
    free(*slot);
    *slot = job;
}

static char *join_params(const char *sql, const char *const *p, int n)
{
    size_t len = strlen(sql) + 1;
    for (int i = 0; i < n; i++)
        len += (p[i] ? strlen(p[i]) : 0) + 1;
    char *job = malloc(len), *w = job;
    if (!job)
        return NULL;
    w += sprintf(w, "%s", sql);
    for (int i = 0; i < n; i++)
        w += sprintf(w, "%c%s", 0x1f, p[i] ? p[i] : "");
    return job;
}

static void bench_apply(void *ctx, placement_item_t *it)
{
    bench_apply_t *b = ctx;
    if (it->rc != 0)
        return;
    bstream_t *s = it->user;
    placement_reserve(&b->farm->devices[it->result.device], &it->result.cost,
                      +1, true);
    b->applied++;
    const ladder_t *lad = it->req.ladder;
    const ladder_source_t *src = it->req.source;
    char id[40], gen[24], dev[16], wid[24];
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012lx",
             (unsigned long)b->applied);
    snprintf(gen, sizeof(gen), "%ld", 2L);
    snprintf(dev, sizeof(dev), "%ld", it->result.device);
    snprintf(wid, sizeof(wid), "worker-%ld", it->result.worker);

    /* Assign. */
    Prism__Assign a = PRISM__ASSIGN__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Rendition rs[LADDER_MAX_RUNGS];
    Prism__Rendition *rp[LADDER_MAX_RUNGS];
    Prism__SourceInfo si = PRISM__SOURCE_INFO__INIT;
    size_t n = 0;
    for (int i = 0; i < lad->n; i++) {
        if (!(it->result.kept & (1u << i)))
            continue;
        const ladder_rendition_t *r = &lad->r[i];
        Prism__Rendition x = PRISM__RENDITION__INIT;
        x.name = (char *)r->name;
        x.width = (uint32_t)r->width;
        x.height = (uint32_t)r->height;
        x.fps_num = (uint32_t)r->fps_num;
        x.fps_den = (uint32_t)r->fps_den;
        x.bitrate_kbps = (uint32_t)r->bitrate_kbps;
        x.codec = envelope_codec_to_proto(r->codec);
        x.remux = r->remux;
        rs[n] = x;
        rp[n] = &rs[n];
        n++;
    }
    si.width = (uint32_t)src->width;
    si.height = (uint32_t)src->height;
    a.stream_id = id;
    a.generation = 2;
    a.channel = (char *)"bench";
    a.device_index = (uint32_t)it->result.device;
    a.ingest_endpoint = (char *)"tcp://127.0.0.1:9000";
    a.subscribe_token = id;
    a.n_renditions = n;
    a.renditions = rp;
    a.source = &si;
    a.output_url = (char *)"http://127.0.0.1/live";
    a.discontinuity = true;
    a.segment_ms = 2000;
    a.priority = s->priority;
    env.body_case = PRISM__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    size_t len = prism__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(len + 1);
    if (buf) {
        prism__envelope__pack(&env, buf);
        b->assign_bytes += len;
        apply_queue(b, (char *)buf);
    }

    /* Database: the streams upsert and the assignment insert. */
    json_t *sj = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:s}", "codec", "h264", "width",
        src->width, "height", src->height, "fps_num", src->fps_num, "fps_den",
        src->fps_den, "bitrate_kbps", src->bitrate_kbps, "audio_codec", "aac");
    json_t *rj = json_array();
    for (int i = 0; i < lad->n; i++)
        if (it->result.kept & (1u << i))
            json_array_append_new(
                rj, json_pack("{s:s, s:b, s:i, s:i, s:f, s:i, s:s}", "name",
                              lad->r[i].name, "remux", lad->r[i].remux, "width",
                              lad->r[i].width, "height", lad->r[i].height,
                              "fps", ladder_rendition_fps(&lad->r[i]),
                              "bitrate_kbps", lad->r[i].bitrate_kbps, "codec",
                              ladder_codec_name(lad->r[i].codec)));
    char *srcs = json_dumps(sj, JSON_COMPACT);
    char *rens = json_dumps(rj, JSON_COMPACT);
    const char *up[14] = {id,        "1",  "assigning", "ingest-1", "rtmp",
                          "default", wid,  dev,         gen,        id,
                          srcs,      rens, "0",         NULL};
    apply_queue(b, join_params("streams upsert", up, 14));
    const char *as[5] = {id, gen, wid, dev, rens};
    apply_queue(b, join_params("assignment insert", as, 5));

    /* Event: queued for the database and logged. */
    json_t *ev = json_pack("{s:s, s:i, s:I, s:i, s:b, s:f}", "reason",
                           "worker dead", "device", (int)it->result.device,
                           "generation", (json_int_t)2, "renditions", (int)n,
                           "partial", it->result.partial, "load", 0.5);
    char *d = json_dumps(ev, JSON_COMPACT);
    const char *ep[5] = {"stream.replaced", wid, id, "coord-0", d};
    apply_queue(b, join_params("event", ep, 5));
    char line[1024];
    snprintf(line, sizeof(line),
             "level=info mod=coord msg=\"Event.\" kind=%s worker=%s "
             "stream=%s detail=%s",
             "stream.replaced", wid, id, d ? d : "{}");
    apply_queue(b, strdup(line));
    free(d);
    free(srcs);
    free(rens);
    json_decref(ev);
    json_decref(sj);
    json_decref(rj);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of this thread: placement cost without the time the scheduler
 * gave other processes (the wall figure includes it). */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

/* Encode pixels in use over usable encode budget, whole farm: the figure
 * reported before binding resources were counted (sessions are not). */
static double farm_encode_utilisation(const placement_farm_t *farm,
                                      double headroom)
{
    double used = 0, total = 0;
    for (size_t i = 0; i < farm->ndevices; i++) {
        const placement_device_t *d = &farm->devices[i];
        if (!d->enc_budget)
            continue;
        placement_load_t u;
        placement_device_used(d, &u);
        used += (double)u.encode_pixels;
        total += (double)d->enc_budget * (1.0 - headroom);
    }
    return total > 0 ? used / total : 0;
}

/* The stream mix's mean ladder cost: the unit device sizes are counted in. */
typedef struct {
    double sessions, enc, dec;
} mean_cost_t;

static double ratio(double used, double limit)
{
    return limit > 0 ? used / limit : 0;
}

/*
 * The farm's utilisation, counting on each device whichever resource binds
 * first. A device's use is the largest of its encoder sessions over its
 * limit (its own max_sessions; its host's sessions over max_host_sessions)
 * and its encode and decode pixel rates over their budgets less the
 * headroom (the limits placement_pick holds it to). Its size is how many
 * mean ladders of the mix it holds by the same binding resource: the
 * smallest of session limit / mean sessions (a host limit shared evenly by
 * its devices), usable encode / mean encode and usable decode / mean
 * decode. The farm's figure is the size-weighted mean of the devices' use:
 * the share of the farm's ladder capacity in use. A GeForce host full at 8
 * sessions counts as full, though its encoder is mostly idle.
 */
static double farm_utilisation(const placement_farm_t *farm, double headroom,
                               const mean_cost_t *mc)
{
    double used = 0, total = 0, hf = 1.0 - headroom;
    for (size_t wi = 0; wi < farm->nworkers; wi++) {
        const placement_worker_t *w = &farm->workers[wi];
        if (!w->live || w->ndevices == 0)
            continue;
        double host_use =
            ratio(placement_worker_sessions(farm, wi), w->max_host_sessions);
        for (size_t k = 0; k < w->ndevices; k++) {
            const placement_device_t *d = &farm->devices[w->first_device + k];
            placement_load_t u;
            placement_device_used(d, &u);
            double enc = (double)d->enc_budget * hf;
            double dec = (double)d->dec_budget * hf;
            double size = ratio(enc, mc->enc);
            if (d->dec_budget)
                size = fmin(size, ratio(dec, mc->dec));
            if (d->max_sessions > 0)
                size = fmin(size, ratio(d->max_sessions, mc->sessions));
            if (w->max_host_sessions > 0)
                size = fmin(size, ratio((double)w->max_host_sessions /
                                            (double)w->ndevices,
                                        mc->sessions));
            double use = fmax(host_use, ratio(u.encode_pixels, enc));
            use = fmax(use, ratio(u.decode_pixels, dec));
            use = fmax(use, ratio(u.sessions, d->max_sessions));
            used += use * size;
            total += size;
        }
    }
    return total > 0 ? used / total : 0;
}

static void add_device(placement_farm_t *f, placement_kind_t kind,
                       unsigned codecs, int max_sessions, uint64_t enc,
                       uint64_t dec)
{
    placement_device_t *d = &f->devices[f->ndevices++];
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->hw_encode = kind != PLACEMENT_KIND_CPU;
    d->enc_codecs = codecs;
    d->max_sessions = max_sessions;
    d->enc_budget = enc;
    d->dec_budget = dec;
}

static void build_farm(placement_farm_t *f, size_t nworkers)
{
    unsigned h264 = 1u << LADDER_CODEC_H264, hevc = 1u << LADDER_CODEC_HEVC;
    for (size_t i = 0; i < nworkers; i++) {
        placement_worker_t *w = &f->workers[f->nworkers++];
        memset(w, 0, sizeof(*w));
        w->live = true;
        w->first_device = f->ndevices;
        switch (i % 10) {
        case 0:
        case 1:
        case 2:
        case 3: /* GeForce host: 8 sessions */
            w->max_host_sessions = 8;
            add_device(f, PLACEMENT_KIND_NVENC, h264 | hevc, 0, 1200 * M,
                       2000 * M);
            break;
        case 4:
        case 5: /* data-centre host, two cards */
            add_device(f, PLACEMENT_KIND_NVENC, h264 | hevc, 0, 1600 * M,
                       2500 * M);
            add_device(f, PLACEMENT_KIND_NVENC, h264 | hevc, 0, 1600 * M,
                       2500 * M);
            break;
        case 6:
        case 7: /* VAAPI host */
            add_device(f, PLACEMENT_KIND_VAAPI, h264 | hevc, 0, 700 * M,
                       1200 * M);
            break;
        default: /* CPU only */
            add_device(f, PLACEMENT_KIND_CPU, h264, 0, 250 * M, 0);
            break;
        }
        w->ndevices = f->ndevices - w->first_device;
    }
}

/* ------------------------------------------------------------------------
 * The smaller run through the real sockets: a prism-coordinator process, a
 * PostgreSQL database (--pg-url), simulated workers and one simulated ingest
 * in this process speaking the real protocol over CURVE tcp on 127.0.0.1.
 * Figures: publish latency (PublishRequest to PublishReply, which includes
 * the key check in PostgreSQL and the placement), time to re-place every
 * stream of 10% of the workers killed at once (from the kill, so it includes
 * the 3 missed report intervals of detection, and from the first re-placed
 * stream, the loop pass itself), and the coordinator process's peak RSS.
 * ------------------------------------------------------------------------ */

#define SK_REPORT_MS 200
#define SK_MAXSESS   64

typedef struct {
    char id[40];
    uint64_t gen;
} sk_sess_t;

typedef struct {
    char id[32];
    void *sock;
    bool alive, registered;
    int64_t next_ms;
    int nsess;
    sk_sess_t sess[SK_MAXSESS];
    uint64_t seq;
} sk_node_t;

typedef struct {
    char dir[256];
    char coord_pub[CURVE_KEY_Z85_SIZE];
    int http_port, control_port;
    pid_t pid;
} sk_env_t;

static int sk_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int sk_key(sk_env_t *e, const char *name, bool allow, char *pub)
{
    curve_keypair_t *kp = curve_keypair_generate();
    char keys[512], kp_path[1024], pp[1024];
    if (!kp)
        return -1;
    snprintf(keys, sizeof(keys), "%s/keys", e->dir);
    int rc = curve_keys_write(kp, keys, name, true, kp_path, pp, sizeof(pp));
    if (rc == 0 && allow) {
        char dst[1024];
        snprintf(dst, sizeof(dst), "%s/allow/%s.pub", e->dir, name);
        FILE *f = fopen(dst, "w");
        if (f) {
            fprintf(f, "public_key = %s\n", kp->public_z85);
            fclose(f);
        } else {
            rc = -1;
        }
    }
    if (pub)
        snprintf(pub, CURVE_KEY_Z85_SIZE, "%s", kp->public_z85);
    curve_keypair_free(&kp);
    return rc;
}

/* One HTTP request to the coordinator's API; returns the status. */
static int sk_http(sk_env_t *e, const char *method, const char *path,
                   const char *body, char *out, size_t outlen)
{
    http_client_opts_t o = {.bearer_token = "bench-token", .body_max = 65535};
    char url[1024], err[256], *b = NULL;
    int status = -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", e->http_port, path);
    if (http_client_once(&o, method, url, body, body ? strlen(body) : 0,
                         &status, &b, err, sizeof(err)) < 0)
        return -1;
    if (out)
        snprintf(out, outlen, "%s", b);
    free(b);
    return status;
}

static void *sk_connect(sk_env_t *e, const char *name)
{
    char path[1024];
    curve_keypair_t *kp = NULL;
    snprintf(path, sizeof(path), "%s/keys/%s.key", e->dir, name);
    if (curve_keys_load_secret(path, &kp) < 0)
        return NULL;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    void *s = zsock_new(ZMQ_DEALER, &o);
    char ep[64];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", e->control_port);
    if (!s || zsock_curve_client(s, kp, e->coord_pub) < 0 ||
        zsock_connect(s, ep) < 0)
        zsock_close(&s);
    curve_keypair_free(&kp);
    return s;
}

static void sk_register(sk_node_t *n, bool ingest)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    if (ingest) {
        Prism__Hello h = PRISM__HELLO__INIT;
        h.role = PRISM__NODE_ROLE__NODE_ROLE_INGEST;
        h.node_id = n->id;
        h.media_endpoint = (char *)"tcp://127.0.0.1:1";
        env.body_case = PRISM__ENVELOPE__BODY_HELLO;
        env.hello = &h;
        envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
        return;
    }
    static Prism__Codec codecs[1] = {PRISM__CODEC__CODEC_H264};
    Prism__Device d = PRISM__DEVICE__INIT, *dp[1] = {&d};
    Prism__Register r = PRISM__REGISTER__INIT;
    d.kind = PRISM__DEVICE_KIND__DEVICE_KIND_NVENC;
    d.hw_encode = true;
    d.n_encode_codecs = 1;
    d.encode_codecs = codecs;
    d.encode_budget = 3000 * M;
    d.decode_budget = 3000 * M;
    r.worker_id = n->id;
    r.n_devices = 1;
    r.devices = dp;
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER;
    env.register_ = &r;
    envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
}

static void sk_report(sk_node_t *n)
{
    Prism__LoadReport r = PRISM__LOAD_REPORT__INIT;
    Prism__SessionLoad sl[SK_MAXSESS], *slp[SK_MAXSESS];
    for (int i = 0; i < n->nsess; i++) {
        Prism__SessionLoad x = PRISM__SESSION_LOAD__INIT;
        x.stream_id = n->sess[i].id;
        x.generation = n->sess[i].gen;
        x.speed = 1.0;
        x.fps = 30;
        x.last_output_pts_ms = (int64_t)n->seq * SK_REPORT_MS;
        x.last_input_pts_ms = x.last_output_pts_ms;
        sl[i] = x;
        slp[i] = &sl[i];
    }
    r.seq = ++n->seq;
    r.n_sessions = (size_t)n->nsess;
    r.sessions = slp;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_LOAD_REPORT;
    env.load_report = &r;
    envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
}

typedef struct {
    sk_node_t *nodes; /* workers, then the ingest last */
    int n;
    bool got_reply;
    bool reply_ok;
    char reply_stream[40];
    int64_t last_assign_ms;
    long assigns;
    /* the streams of the killed workers, and which were placed again */
    char (*watch)[40];
    bool *seen;
    long nwatch, nseen;
} sk_sim_t;

static void sk_handle(sk_sim_t *sim, sk_node_t *nd)
{
    for (;;) {
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(nd->sock, ZMQ_DONTWAIT, NULL, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_REGISTER_ACK) {
            nd->registered = env->register_ack->accepted;
        } else if (env->body_case == PRISM__ENVELOPE__BODY_ASSIGN) {
            const Prism__Assign *a = env->assign;
            if (nd->nsess < SK_MAXSESS) {
                sk_sess_t *ss = &nd->sess[nd->nsess++];
                snprintf(ss->id, sizeof(ss->id), "%s", a->stream_id);
                ss->gen = a->generation;
            }
            Prism__Ack ack = PRISM__ACK__INIT;
            ack.stream_id = a->stream_id;
            ack.generation = a->generation;
            ack.ok = true;
            ack.of = PRISM__ACK__OF__OF_ASSIGN;
            Prism__Envelope out = PRISM__ENVELOPE__INIT;
            out.body_case = PRISM__ENVELOPE__BODY_ACK;
            out.ack = &ack;
            envelope_send(nd->sock, NULL, nd->id, &out, ZMQ_DONTWAIT);
            sim->assigns++;
            for (long w = 0; w < sim->nwatch; w++) {
                if (!sim->seen[w] && !strcmp(sim->watch[w], a->stream_id)) {
                    sim->seen[w] = true;
                    sim->nseen++;
                    sim->last_assign_ms = clock_mono_ms();
                }
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_PUBLISH_REPLY) {
            sim->got_reply = true;
            sim->reply_ok = env->publish_reply->accepted;
            snprintf(sim->reply_stream, sizeof(sim->reply_stream), "%s",
                     env->publish_reply->stream_id
                         ? env->publish_reply->stream_id
                         : "");
        }
        envelope_free(&env);
    }
}

static void sk_pump(sk_sim_t *sim, int64_t ms, const bool *until)
{
    int64_t end = clock_mono_ms() + ms;
    zmq_pollitem_t *items = calloc((size_t)sim->n, sizeof(*items));
    int *idx = calloc((size_t)sim->n, sizeof(*idx));
    if (!items || !idx)
        goto out;
    while (clock_mono_ms() < end && !(until && *until)) {
        int k = 0;
        for (int i = 0; i < sim->n; i++) {
            if (!sim->nodes[i].alive)
                continue;
            items[k] = (zmq_pollitem_t){sim->nodes[i].sock, 0, ZMQ_POLLIN, 0};
            idx[k++] = i;
        }
        zmq_poll(items, k, 5);
        for (int j = 0; j < k; j++)
            if (items[j].revents & ZMQ_POLLIN)
                sk_handle(sim, &sim->nodes[idx[j]]);
        int64_t now = clock_mono_ms();
        for (int i = 0; i < sim->n; i++) {
            sk_node_t *nd = &sim->nodes[i];
            if (!nd->alive || now < nd->next_ms)
                continue;
            nd->next_ms = now + (nd->registered ? SK_REPORT_MS : 300);
            bool ingest = i == sim->n - 1;
            if (!nd->registered)
                sk_register(nd, ingest);
            else if (!ingest)
                sk_report(nd);
        }
    }
out:
    free(items);
    free(idx);
}

typedef struct {
    double publish_p50_us, publish_p99_us;
    double replace_all_ms, replace_pass_ms;
    long affected, replaced;
    long rss_kb;
} sk_result_t;

static long proc_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int sk_run(const char *coord_bin, const char *pg_url, int nworkers,
                  int nstreams, sk_result_t *res)
{
    sk_env_t e = {.pid = -1};
    sk_sim_t sim = {0};
    int64_t *lat = NULL;
    char(*keys)[128] = NULL;
    int rc = -1;
    char path[512], cfg[4096];
    snprintf(e.dir, sizeof(e.dir), "/tmp/prism-bench-sched-XXXXXX");
    if (!mkdtemp(e.dir))
        return -1;
    snprintf(path, sizeof(path), "%s/keys", e.dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/allow", e.dir);
    mkdir(path, 0700);
    sim.n = nworkers + 1;
    sim.nodes = calloc((size_t)sim.n, sizeof(*sim.nodes));
    lat = calloc((size_t)nstreams, sizeof(*lat));
    if (!sim.nodes || !lat)
        goto end;
    if (sk_key(&e, "coordinator", false, e.coord_pub) < 0)
        goto end;
    for (int i = 0; i < sim.n; i++) {
        sk_node_t *nd = &sim.nodes[i];
        if (i == sim.n - 1)
            snprintf(nd->id, sizeof(nd->id), "ingest");
        else
            snprintf(nd->id, sizeof(nd->id), "w%d", i);
        if (sk_key(&e, nd->id, true, NULL) < 0)
            goto end;
    }
    e.http_port = sk_free_port();
    e.control_port = sk_free_port();
    unsigned lock = (unsigned)getpid();
    snprintf(cfg, sizeof(cfg),
             "id = bench\ncontrol_bind = tcp://127.0.0.1:%d\n"
             "key_file = %s/keys/coordinator.key\nallow_dir = %s/allow\n"
             "http_port = %d\napi_token = bench-token\npg_url = %s\n"
             "report_ms = %d\nheartbeat_ms = 1000\nha_lock_key = %u\n"
             "log_level = warn\n",
             e.control_port, e.dir, e.dir, e.http_port, pg_url, SK_REPORT_MS,
             lock);
    snprintf(path, sizeof(path), "%s/coordinator.ini", e.dir);
    FILE *f = fopen(path, "w");
    if (!f)
        goto end;
    fputs(cfg, f);
    fclose(f);
    e.pid = fork();
    if (e.pid == 0) {
        char logp[600];
        snprintf(logp, sizeof(logp), "%s/coordinator.log", e.dir);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        for (int k = 3; k < 1024; k++)
            close(k);
        execl(coord_bin, coord_bin, "--config", path, (char *)NULL);
        _exit(127);
    }
    if (e.pid < 0)
        goto end;
    int64_t t_end = clock_mono_ms() + 20000;
    while (sk_http(&e, "GET", "/metrics", NULL, NULL, 0) != 200) {
        if (clock_mono_ms() > t_end) {
            fprintf(stderr, "sched: the coordinator did not start; see %s\n",
                    e.dir);
            goto end;
        }
        usleep(50000);
    }
    /* One channel per stream, all made before the workers come so that the
     * blocking HTTP calls do not silence their reports. */
    keys = calloc((size_t)nstreams, sizeof(*keys));
    if (!keys)
        goto end;
    for (int i = 0; i < nstreams; i++) {
        char body[128], out[4096];
        snprintf(body, sizeof(body), "{\"name\": \"bench-%u-%d\"}", lock, i);
        if (sk_http(&e, "POST", "/api/channels", body, out, sizeof(out)) != 201)
            goto end;
        char *k = strstr(out, "\"stream_key\": \"");
        if (!k)
            goto end;
        sscanf(k + 15, "%127[^\"]", keys[i]);
    }
    for (int i = 0; i < sim.n; i++) {
        sim.nodes[i].sock = sk_connect(&e, sim.nodes[i].id);
        if (!sim.nodes[i].sock)
            goto end;
        sim.nodes[i].alive = true;
    }
    sk_pump(&sim, 1500, NULL);
    sk_node_t *ing = &sim.nodes[sim.n - 1];
    for (int i = 0; i < nstreams; i++) {
        char *key = keys[i];
        Prism__PublishRequest p = PRISM__PUBLISH_REQUEST__INIT;
        Prism__SourceInfo si = PRISM__SOURCE_INFO__INIT;
        si.video_codec = PRISM__CODEC__CODEC_H264;
        si.width = 1280;
        si.height = 720;
        si.fps_num = 30;
        si.fps_den = 1;
        p.ingest_id = ing->id;
        p.stream_key = key;
        p.remote_addr = (char *)"127.0.0.1";
        p.source = &si;
        p.request_id = (uint64_t)i;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
        env.publish_request = &p;
        sim.got_reply = false;
        int64_t t0 = now_ns();
        envelope_send(ing->sock, NULL, ing->id, &env, ZMQ_DONTWAIT);
        sk_pump(&sim, 5000, &sim.got_reply);
        lat[i] = now_ns() - t0;
        if (!sim.got_reply || !sim.reply_ok) {
            fprintf(stderr, "sched: publish %d was not accepted\n", i);
            goto end;
        }
    }
    sk_pump(&sim, 3 * SK_REPORT_MS, NULL);
    qsort(lat, (size_t)nstreams, sizeof(*lat), cmp_i64);
    res->publish_p50_us = lat[nstreams / 2] / 1000.0;
    res->publish_p99_us = lat[(int)(nstreams * 0.99)] / 1000.0;
    /* Kill 10% of the workers at once: they stop reporting. */
    long affected = 0;
    int nkill = nworkers / 10 > 0 ? nworkers / 10 : 1;
    sim.watch = calloc((size_t)nkill * SK_MAXSESS, sizeof(*sim.watch));
    sim.seen = calloc((size_t)nkill * SK_MAXSESS, sizeof(*sim.seen));
    if (!sim.watch || !sim.seen)
        goto end;
    for (int i = 0; i < nkill; i++) {
        sk_node_t *nd = &sim.nodes[i];
        for (int k = 0; k < nd->nsess; k++)
            memcpy(sim.watch[sim.nwatch++], nd->sess[k].id, 40);
        affected += nd->nsess;
        nd->alive = false;
        zsock_close(&nd->sock);
    }
    int64_t t_kill = clock_mono_ms();
    int64_t first = -1;
    while (clock_mono_ms() < t_kill + 10000 && sim.nseen < affected) {
        sk_pump(&sim, 5, NULL);
        if (first < 0 && sim.nseen > 0)
            first = sim.last_assign_ms;
    }
    res->affected = affected;
    res->replaced = sim.nseen;
    /* A kill that hit no stream (or none re-placed) has no time: -1, which
     * the output shows as null / "none", never a negative duration. */
    res->replace_all_ms = sim.nseen > 0 && sim.last_assign_ms >= t_kill
                              ? (double)(sim.last_assign_ms - t_kill)
                              : -1;
    res->replace_pass_ms =
        first >= 0 && sim.nseen > 0 ? (double)(sim.last_assign_ms - first) : -1;
    res->rss_kb = proc_hwm_kb(e.pid);
    rc = res->replaced >= affected ? 0 : -1;
end:
    for (int i = 0; sim.nodes && i < sim.n; i++)
        zsock_close(&sim.nodes[i].sock);
    if (e.pid > 0) {
        kill(e.pid, SIGTERM);
        waitpid(e.pid, NULL, 0);
    }
    free(sim.nodes);
    free(sim.watch);
    free(sim.seen);
    free(keys);
    free(lat);
    if (rc == 0) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "sched: could not remove %s\n", e.dir);
    } else {
        fprintf(stderr, "sched: socket run failed; files kept in %s\n", e.dir);
    }
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: prism-bench sched [--workers W] [--streams S] [--json] "
            "[--csv FILE] [--policy least-loaded|best-fit] [--headroom F]\n"
            "       [--pg-url URL] [--socket-workers N] [--socket-streams N] "
            "[--coordinator PATH]\n"
            "  Places S streams on W simulated workers with churn, then fails "
            "10%% of the\n  workers at once and re-places their streams "
            "(in-process placement core).\n"
            "  With --pg-url (or PRISM_TEST_PGURL), it also runs a smaller "
            "farm through a real\n  prism-coordinator and its sockets "
            "(fields socket_*).\n");
}

/* A duration for the JSON output: "null" when there is none (< 0). */
static const char *ms_or_null(double ms, char *buf)
{
    if (ms < 0)
        return "null";
    snprintf(buf, 32, "%.1f", ms);
    return buf;
}

int bench_sched_main(int argc, char **argv)
{
    long nworkers = 1000, nstreams = 10000;
    bool json = false;
    const char *csv = NULL;
    placement_config_t cfg = {PLACEMENT_LEAST_LOADED, 0.15};
    static const struct option lopts[] = {
        {"workers", required_argument, 0, 'w'},
        {"streams", required_argument, 0, 's'},
        {"json", no_argument, 0, 'j'},
        {"csv", required_argument, 0, 'c'},
        {"policy", required_argument, 0, 'p'},
        {"headroom", required_argument, 0, 'r'},
        {"pg-url", required_argument, 0, 'g'},
        {"socket-workers", required_argument, 0, 'W'},
        {"socket-streams", required_argument, 0, 'S'},
        {"coordinator", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *pg_url = getenv("PRISM_TEST_PGURL");
    long sk_workers = -1, sk_streams = -1;
    char coord_bin[1024] = "";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "w:s:jc:p:r:hg:W:S:C:", lopts, NULL)) !=
           -1) {
        switch (o) {
        case 'g':
            pg_url = optarg;
            break;
        case 'W':
            sk_workers = strtol(optarg, NULL, 10);
            break;
        case 'S':
            sk_streams = strtol(optarg, NULL, 10);
            break;
        case 'C':
            snprintf(coord_bin, sizeof(coord_bin), "%s", optarg);
            break;
        case 'w':
            nworkers = strtol(optarg, NULL, 10);
            break;
        case 's':
            nstreams = strtol(optarg, NULL, 10);
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            csv = optarg;
            break;
        case 'p':
            if (placement_policy_parse(optarg, &cfg.policy) < 0) {
                fprintf(stderr, "sched: unknown policy '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            cfg.headroom = strtod(optarg, NULL);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (nworkers < 10 || nstreams < 1 || cfg.headroom < 0 ||
        cfg.headroom >= 1) {
        fprintf(stderr, "sched: need --workers >= 10, --streams >= 1, "
                        "0 <= --headroom < 1\n");
        return 2;
    }

    int rc = 1;
    placement_farm_t farm = {0};
    bstream_t *streams = NULL;
    int64_t *lat = NULL, *cpu = NULL;
    placement_item_t *items = NULL;
    farm.workers = calloc((size_t)nworkers, sizeof(*farm.workers));
    farm.devices = calloc((size_t)nworkers * 2, sizeof(*farm.devices));
    streams = calloc((size_t)nstreams, sizeof(*streams));
    lat = calloc((size_t)nstreams, sizeof(*lat));
    cpu = calloc((size_t)nstreams, sizeof(*cpu));
    if (!farm.workers || !farm.devices || !streams || !lat || !cpu) {
        fprintf(stderr, "sched: out of memory\n");
        goto end;
    }
    build_farm(&farm, (size_t)nworkers);

    /* The source mix and their fitted default ladders. */
    static const ladder_source_t srcs[] = {
        {1920, 1080, 60, 1, 1, 1, 6000}, {1920, 1080, 30, 1, 1, 1, 4500},
        {1280, 720, 60, 1, 1, 1, 4500},  {1280, 720, 30, 1, 1, 1, 3000},
        {854, 480, 30, 1, 1, 1, 1500},
    };
    enum { NSRC = sizeof(srcs) / sizeof(srcs[0]) };
    ladder_profile_t prof;
    ladder_t ladders[NSRC];
    if (ladder_profile_default(&prof) < 0) {
        fprintf(stderr, "sched: the default ladder profile does not load\n");
        goto end;
    }
    for (int i = 0; i < NSRC; i++) {
        if (ladder_apply(&prof, &srcs[i], &ladders[i]) < 0) {
            fprintf(stderr, "sched: ladder_apply failed for source %d\n", i);
            goto end;
        }
    }

    mean_cost_t mc = {0, 0, 0};
    for (int i = 0; i < NSRC; i++) {
        ladder_cost_t c;
        ladder_cost(&ladders[i], &srcs[i], &c);
        mc.sessions += (double)c.sessions / NSRC;
        mc.enc += (double)c.encode_pixels / NSRC;
        mc.dec += (double)c.decode_pixels / NSRC;
    }

    /* Phase 1: place with churn. */
    long running = 0, placed = 0, partial = 0, refused = 0, ended = 0;
    double util_first_reject = -1, enc_first_reject = -1;
    const char *first_event = NULL; /* "partial" or "refused" */
    long first_at = -1;             /* the stream it happened to */
    long *live_idx = calloc((size_t)nstreams, sizeof(long));
    if (!live_idx)
        goto end;
    for (long i = 0; i < nstreams; i++) {
        bstream_t *s = &streams[i];
        s->src = (int)(rng() % NSRC);
        s->priority = (uint32_t)(rng() % 3);
        placement_request_t req = {&ladders[s->src], &srcs[s->src], true};
        placement_result_t res;
        int64_t c0 = cpu_ns();
        int64_t t0 = now_ns();
        int r = placement_pick(&cfg, &farm, &req, &res);
        if (r == 0)
            placement_reserve(&farm.devices[res.device], &res.cost, +1, false);
        lat[i] = now_ns() - t0;
        cpu[i] = cpu_ns() - c0;
        if (r != 0 || res.partial) {
            if (!first_event) {
                first_event = r != 0 ? "refused" : "partial";
                first_at = i;
                util_first_reject = farm_utilisation(&farm, cfg.headroom, &mc);
                enc_first_reject = farm_encode_utilisation(&farm, cfg.headroom);
            }
            if (r != 0)
                refused++;
            else
                partial++;
        }
        if (r == 0) {
            s->worker = res.worker;
            s->device = res.device;
            s->cost = res.cost;
            s->live = true;
            live_idx[running++] = i;
            placed++;
        }
        if (i % 10 == 9 && running > 0) { /* churn: one stream ends */
            long k = (long)(rng() % (uint64_t)running);
            bstream_t *e = &streams[live_idx[k]];
            placement_reserve(&farm.devices[e->device], &e->cost, -1, false);
            e->live = false;
            live_idx[k] = live_idx[--running];
            ended++;
        }
    }
    double util_end = farm_utilisation(&farm, cfg.headroom, &mc);
    double enc_end = farm_encode_utilisation(&farm, cfg.headroom);
    qsort(lat, (size_t)nstreams, sizeof(*lat), cmp_i64);
    qsort(cpu, (size_t)nstreams, sizeof(*cpu), cmp_i64);
    double c50 = cpu[(size_t)nstreams / 2] / 1000.0;
    double c99 = cpu[(size_t)((double)nstreams * 0.99)] / 1000.0;
    double p50 = lat[(size_t)nstreams / 2] / 1000.0;
    double p99 = lat[(size_t)((double)nstreams * 0.99)] / 1000.0;
    double pmax = lat[nstreams - 1] / 1000.0;

    /* Phase 2: 10% of the workers fail at once. */
    long nfail = nworkers / 10, affected = 0, replaced = 0, replaced_part = 0;
    for (long k = 0; k < nfail; k++) /* spread over the kinds */
        farm.workers[(size_t)(k * 10 + k % 10) % (size_t)nworkers].live = false;
    items = calloc((size_t)running + 1, sizeof(*items));
    if (!items) {
        free(live_idx);
        goto end;
    }
    int64_t t0 = now_ns();
    for (long k = 0; k < running; k++) {
        bstream_t *s = &streams[live_idx[k]];
        if (farm.workers[s->worker].live)
            continue;
        placement_reserve(&farm.devices[s->device], &s->cost, -1, false);
        placement_item_t *it = &items[affected++];
        it->req.ladder = &ladders[s->src];
        it->req.source = &srcs[s->src];
        it->req.allow_partial = true;
        it->priority = s->priority;
        it->seq = (uint64_t)live_idx[k];
        it->user = s;
    }
    /* One pass of the coordinator's placement_place_batch with its per
     * stream work (bench_apply), as place_pending runs it when a worker
     * dies. */
    static bench_apply_t ba;
    ba.farm = &farm;
    placement_place_batch(&cfg, &farm, items, (size_t)affected, bench_apply,
                          &ba);
    int64_t replace_ns = now_ns() - t0;
    for (size_t k = 0; k < APPLY_QUEUE; k++)
        free(ba.queue[k]);
    for (long k = 0; k < affected; k++) {
        if (items[k].rc == 0) {
            replaced++;
            replaced_part += items[k].result.partial;
        }
    }
    free(live_idx);
    long rss = rss_kb();
    double replace_ms = replace_ns / 1e6;

    /* The smaller run through the real coordinator and its sockets. */
    sk_result_t sk = {0};
    bool sk_done = false;
    char a[32], b[32];
    if (pg_url && pg_url[0]) {
        if (sk_workers < 0)
            sk_workers = nworkers < 50 ? nworkers : 50;
        if (sk_streams < 0)
            sk_streams = nstreams < 500 ? nstreams : 500;
        if (sk_streams > sk_workers * (SK_MAXSESS / 2))
            sk_streams = sk_workers * (SK_MAXSESS / 2);
        if (!coord_bin[0]) {
            char self[900];
            ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
            self[l > 0 ? l : 0] = '\0';
            char *slash = strrchr(self, '/');
            if (slash)
                *slash = '\0';
            snprintf(coord_bin, sizeof(coord_bin),
                     "%s/../coordinator/prism-coordinator", self);
        }
        sk_done = sk_run(coord_bin, pg_url, (int)sk_workers, (int)sk_streams,
                         &sk) == 0;
    }

    if (json) {
        printf("{\"workers\": %ld, \"streams\": %ld, \"policy\": \"%s\", "
               "\"headroom\": %.2f, \"mode\": \"in-process placement core\", "
               "\"placement_p50_us\": %.2f, \"placement_p99_us\": %.2f, "
               "\"placement_max_us\": %.2f, \"placement_cpu_p50_us\": %.2f, "
               "\"placement_cpu_p99_us\": %.2f, ",
               nworkers, nstreams, placement_policy_name(cfg.policy),
               cfg.headroom, p50, p99, pmax, c50, c99);
        if (first_event)
            printf("\"first_reject_event\": \"%s\", "
                   "\"first_reject_stream\": %ld, "
                   "\"utilisation_at_first_reject\": %.4f, "
                   "\"encode_utilisation_at_first_reject\": %.4f, ",
                   first_event, first_at, util_first_reject, enc_first_reject);
        else
            printf("\"first_reject_event\": null, "
                   "\"first_reject_stream\": null, "
                   "\"utilisation_at_first_reject\": null, "
                   "\"encode_utilisation_at_first_reject\": null, ");
        printf("\"utilisation_method\": \"per device the binding resource "
               "(sessions, "
               "encode or decode pixels, less headroom), weighted by the "
               "device's capacity in mean ladders of the mix\", "
               "\"utilisation_end\": %.4f, "
               "\"encode_utilisation_end\": %.4f, \"placed\": %ld, "
               "\"partial\": %ld, \"refused\": %ld, \"ended\": %ld, "
               "\"running\": %ld, \"failed_workers\": %ld, "
               "\"affected_streams\": %ld, \"replaced\": %ld, "
               "\"replaced_partial\": %ld, \"replace_all_ms\": %.3f, "
               "\"replace_passes\": 1, \"rss_kb\": %ld",
               util_end, enc_end, placed, partial, refused, ended, running,
               nfail, affected, replaced, replaced_part, replace_ms, rss);
        if (sk_done)
            printf(", \"socket_mode\": \"real prism-coordinator, CURVE tcp, "
                   "PostgreSQL\", \"socket_workers\": %ld, "
                   "\"socket_streams\": %ld, \"socket_publish_p50_us\": %.1f, "
                   "\"socket_publish_p99_us\": %.1f, "
                   "\"socket_affected_streams\": %ld, "
                   "\"socket_replaced\": %ld, "
                   "\"socket_replace_all_ms\": %s, "
                   "\"socket_replace_pass_ms\": %s, "
                   "\"socket_report_ms\": %d, "
                   "\"coordinator_rss_kb\": %ld",
                   sk_workers, sk_streams, sk.publish_p50_us, sk.publish_p99_us,
                   sk.affected, sk.replaced, ms_or_null(sk.replace_all_ms, a),
                   ms_or_null(sk.replace_pass_ms, b), SK_REPORT_MS, sk.rss_kb);
        printf("}\n");
    } else {
        printf("sched: %ld workers, %ld streams, policy %s, headroom %.0f%% "
               "(in-process placement core)\n",
               nworkers, nstreams, placement_policy_name(cfg.policy),
               cfg.headroom * 100);
        printf("  placement latency      p50 %.2f us  p99 %.2f us  max %.2f "
               "us (wall)\n",
               p50, p99, pmax);
        printf("  placement CPU time     p50 %.2f us  p99 %.2f us (this "
               "thread only)\n",
               c50, c99);
        if (!first_event)
            printf("  every ladder whole     (utilisation at end "
                   "%.1f%%, encode pixels %.1f%%)\n",
                   util_end * 100, enc_end * 100);
        else
            printf("  utilisation at the first ladder not whole (%s, stream "
                   "%ld) %.1f%% (binding resource per device), encode "
                   "pixels %.1f%%\n",
                   first_event, first_at, util_first_reject * 100,
                   enc_first_reject * 100);
        printf("  placed %ld (partial %ld), refused %ld, ended %ld, running "
               "%ld\n",
               placed, partial, refused, ended, running);
        printf("  %ld workers failed: %ld streams affected, %ld re-placed "
               "(%ld partial) in one pass, %.3f ms\n",
               nfail, affected, replaced, replaced_part, replace_ms);
        printf("  peak RSS %ld kB (this process: the placement core's "
               "state)\n",
               rss);
        if (sk_done) {
            printf("sched: %ld workers, %ld streams through a real "
                   "prism-coordinator (CURVE tcp, PostgreSQL)\n",
                   sk_workers, sk_streams);
            printf("  publish latency        p50 %.1f us  p99 %.1f us "
                   "(request to reply: key check in PostgreSQL + placement)\n",
                   sk.publish_p50_us, sk.publish_p99_us);
            if (sk.replace_all_ms < 0)
                printf("  10%% workers killed: %ld streams on them, %ld "
                       "re-placed: no re-placement time\n",
                       sk.affected, sk.replaced);
            else
                printf("  10%% workers killed: %ld streams, %ld re-placed, "
                       "all %.0f ms after the kill (detection: %d missed "
                       "reports of %d ms), %.1f ms from the first to the "
                       "last\n",
                       sk.affected, sk.replaced, sk.replace_all_ms, 3,
                       SK_REPORT_MS, sk.replace_pass_ms);
            printf("  coordinator peak RSS %ld kB\n", sk.rss_kb);
        } else if (pg_url && pg_url[0]) {
            printf("sched: the socket run failed (see above)\n");
        } else {
            printf("sched: socket run skipped: give --pg-url\n");
        }
    }

    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f) {
            fprintf(stderr, "sched: fopen %s: %s\n", csv, strerror(errno));
            goto end;
        }
        fprintf(f, "percentile,latency_us\n");
        for (int pc = 1; pc <= 100; pc++) {
            size_t k = (size_t)((double)nstreams * pc / 100.0);
            if (k >= (size_t)nstreams)
                k = (size_t)nstreams - 1;
            fprintf(f, "%d,%.3f\n", pc, lat[k] / 1000.0);
        }
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "command -v gnuplot >/dev/null && gnuplot -e \"set term "
                 "png size 800,500; set output '%s.png'; set datafile "
                 "separator ','; set xlabel 'percentile'; set ylabel "
                 "'placement latency (us)'; set logscale y; plot '%s' "
                 "skip 1 using 1:2 with lines title 'W=%ld S=%ld'\"",
                 csv, csv, nworkers, nstreams);
        if (system(cmd) != 0)
            fprintf(stderr, "sched: no plot (gnuplot missing or failed)\n");
    }
    rc = 0;
end:
    free(items);
    free(cpu);
    free(lat);
    free(streams);
    free(farm.devices);
    free(farm.workers);
    return rc;
}
