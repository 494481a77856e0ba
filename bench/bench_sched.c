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
 *     every pick is timed, and the farm's encode utilisation is recorded the
 *     first time a whole ladder fits nowhere (partial or refused);
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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ladder.h"
#include "placement.h"

#define M 1000000ull

typedef struct {
    long worker, device;
    ladder_cost_t cost;
    int src; /* index into the source mix */
    uint32_t priority;
    bool live;
} bstream_t;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* Encode pixels in use over usable encode budget, whole farm. */
static double farm_utilisation(const placement_farm_t *farm, double headroom)
{
    double used = 0, total = 0;
    for (size_t i = 0; i < farm->ndevices; i++) {
        const placement_device_t *d = &farm->devices[i];
        if (!farm->workers || !d->enc_budget)
            continue;
        placement_load_t u;
        placement_device_used(d, &u);
        used += (double)u.encode_pixels;
        total += (double)d->enc_budget * (1.0 - headroom);
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
            "  Places S streams on W simulated workers with churn, then fails "
            "10%% of the\n  workers at once and re-places their streams "
            "(in-process placement core).\n");
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
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "w:s:jc:p:r:h", lopts, NULL)) != -1) {
        switch (o) {
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
    int64_t *lat = NULL;
    placement_item_t *items = NULL;
    farm.workers = calloc((size_t)nworkers, sizeof(*farm.workers));
    farm.devices = calloc((size_t)nworkers * 2, sizeof(*farm.devices));
    streams = calloc((size_t)nstreams, sizeof(*streams));
    lat = calloc((size_t)nstreams, sizeof(*lat));
    if (!farm.workers || !farm.devices || !streams || !lat) {
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

    /* Phase 1: place with churn. */
    long running = 0, placed = 0, partial = 0, refused = 0, ended = 0;
    double util_first_reject = -1;
    long *live_idx = calloc((size_t)nstreams, sizeof(long));
    if (!live_idx)
        goto end;
    for (long i = 0; i < nstreams; i++) {
        bstream_t *s = &streams[i];
        s->src = (int)(rng() % NSRC);
        s->priority = (uint32_t)(rng() % 3);
        placement_request_t req = {&ladders[s->src], &srcs[s->src], true};
        placement_result_t res;
        int64_t t0 = now_ns();
        int r = placement_pick(&cfg, &farm, &req, &res);
        if (r == 0)
            placement_reserve(&farm.devices[res.device], &res.cost, +1, false);
        lat[i] = now_ns() - t0;
        if (r != 0 || res.partial) {
            if (util_first_reject < 0)
                util_first_reject = farm_utilisation(&farm, cfg.headroom);
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
    double util_end = farm_utilisation(&farm, cfg.headroom);
    qsort(lat, (size_t)nstreams, sizeof(*lat), cmp_i64);
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
    placement_place_batch(&cfg, &farm, items, (size_t)affected);
    int64_t replace_ns = now_ns() - t0;
    for (long k = 0; k < affected; k++) {
        if (items[k].rc == 0) {
            replaced++;
            replaced_part += items[k].result.partial;
        }
    }
    free(live_idx);
    long rss = rss_kb();
    double replace_ms = replace_ns / 1e6;

    if (json) {
        printf("{\"workers\": %ld, \"streams\": %ld, \"policy\": \"%s\", "
               "\"headroom\": %.2f, \"mode\": \"in-process placement core\", "
               "\"placement_p50_us\": %.2f, \"placement_p99_us\": %.2f, "
               "\"placement_max_us\": %.2f, "
               "\"utilisation_at_first_reject\": %.4f, "
               "\"utilisation_end\": %.4f, \"placed\": %ld, "
               "\"partial\": %ld, \"refused\": %ld, \"ended\": %ld, "
               "\"running\": %ld, \"failed_workers\": %ld, "
               "\"affected_streams\": %ld, \"replaced\": %ld, "
               "\"replaced_partial\": %ld, \"replace_all_ms\": %.3f, "
               "\"replace_passes\": 1, \"rss_kb\": %ld}\n",
               nworkers, nstreams, placement_policy_name(cfg.policy),
               cfg.headroom, p50, p99, pmax,
               util_first_reject < 0 ? util_end : util_first_reject, util_end,
               placed, partial, refused, ended, running, nfail, affected,
               replaced, replaced_part, replace_ms, rss);
    } else {
        printf("sched: %ld workers, %ld streams, policy %s, headroom %.0f%% "
               "(in-process placement core)\n",
               nworkers, nstreams, placement_policy_name(cfg.policy),
               cfg.headroom * 100);
        printf("  placement latency      p50 %.2f us  p99 %.2f us  max %.2f "
               "us\n",
               p50, p99, pmax);
        if (util_first_reject < 0)
            printf("  first refusal          none (utilisation at end "
                   "%.1f%%)\n",
                   util_end * 100);
        else
            printf("  utilisation at first partial/refused ladder %.1f%%\n",
                   util_first_reject * 100);
        printf("  placed %ld (partial %ld), refused %ld, ended %ld, running "
               "%ld\n",
               placed, partial, refused, ended, running);
        printf("  %ld workers failed: %ld streams affected, %ld re-placed "
               "(%ld partial) in one pass, %.3f ms\n",
               nfail, affected, replaced, replaced_part, replace_ms);
        printf("  peak RSS %ld kB\n", rss);
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
    free(lat);
    free(streams);
    free(farm.devices);
    free(farm.workers);
    return rc;
}
