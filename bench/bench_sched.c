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
 * These figures are the placement core's: no sockets or database are in
 * the timed path. With a database (--pg-url or PRISM_TEST_PGURL) it also
 * drives a real prism-coordinator process over its sockets
 * (sched_socket.h): 50 workers and 500 streams, or --socket-workers N and
 * --streams (or --socket-streams) streams.
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
#include "proc_stat.h"
#include "sched_socket.h"
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: prism-bench sched [--workers W] [--streams S] [--json] "
            "[--csv FILE] [--policy least-loaded|best-fit] [--headroom F]\n"
            "       [--pg-url URL] [--socket-workers N] [--socket-streams N] "
            "[--coordinator PATH]\n"
            "       [--report-ms MS] [--steady-s S] [--stats-ms MS]\n"
            "  Places S streams on W simulated workers with churn, then fails "
            "10%% of the\n  workers at once and re-places their streams "
            "(in-process placement core).\n"
            "  With --pg-url (or PRISM_TEST_PGURL), it also runs a farm "
            "through a real\n  prism-coordinator and its sockets (fields "
            "socket_*): 50 workers, 500 streams;\n  with --socket-workers N, "
            "N workers and S streams (--socket-streams to set\n  them "
            "apart), each worker reporting every --report-ms (500), steady "
            "for\n  --steady-s (10), then 10%% of the workers killed at "
            "once; the ingest sends each\n  stream's stats every --stats-ms "
            "(5000, as an ingest does; 0: none).\n");
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
        {"report-ms", required_argument, 0, 'R'},
        {"steady-s", required_argument, 0, 'T'},
        {"stats-ms", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *pg_url = getenv("PRISM_TEST_PGURL");
    long sk_workers = -1, sk_streams = -1, report_ms = 500, steady_s = 10,
         stats_ms = 5000;
    char coord_bin[1024] = "";
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "w:s:jc:p:r:hg:W:S:C:R:T:A:", lopts,
                            NULL)) != -1) {
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
        case 'R':
            report_ms = strtol(optarg, NULL, 10);
            break;
        case 'T':
            steady_s = strtol(optarg, NULL, 10);
            break;
        case 'A':
            stats_ms = strtol(optarg, NULL, 10);
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
    long rss = proc_status_kb(0, "VmHWM:");
    double replace_ms = replace_ns / 1e6;

    /* The run through the real coordinator and its sockets. */
    sk_result_t sk = {0};
    bool sk_done = false;
    sk_opts_t so = {.coord_bin = coord_bin,
                    .pg_url = pg_url,
                    .report_ms = (int)report_ms,
                    .stats_ms = (int)stats_ms,
                    .steady_s = (int)steady_s};
    if (pg_url && pg_url[0]) {
        if (sk_workers < 0)
            sk_workers = nworkers < 50 ? nworkers : 50;
        else if (sk_streams < 0) /* --socket-workers: --streams streams */
            sk_streams = nstreams;
        if (sk_streams < 0)
            sk_streams = nstreams < 500 ? nstreams : 500;
        if (sk_streams > sk_workers * SK_STREAMS_PER_WORKER)
            sk_streams = sk_workers * SK_STREAMS_PER_WORKER;
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
        so.workers = (int)sk_workers;
        so.streams = (int)sk_streams;
        so.kill = so.workers / 10;
        sk_done = sk_run(&so, &sk) == 0;
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
            sk_print_json(&so, &sk);
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
            sk_print_text(&so, &sk);
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
