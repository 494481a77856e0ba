/* prism-bench latency: how late each rendition's media is on the origin. */

/*
 * Given a live master playlist on an origin, one client per rendition
 * measures, for every new part (Low-Latency HLS) or segment (plain HLS),
 * how long after the ingest received the media's last frame it could be
 * had. The media's date is the playlist's EXT-X-PROGRAM-DATE-TIME (the
 * wall clock at which the ingest received the segment's first frame)
 * plus the durations before it, so the figures are glass-to-origin
 * minus the publisher's own delay, on one clock (the farm's hosts share
 * it through NTP; on one machine it is exact).
 *
 * LL-HLS (the playlist has EXT-X-PART-INF), as a player does it:
 *   1. GET the preload-hinted part (the origin holds it until it exists),
 *      noting when its last byte arrived;
 *   2. GET the playlist blocking for that part (_HLS_msn, _HLS_part),
 *      which dates it: part end date = segment date + durations so far.
 *   available  = (2)'s answer time - part end date (the playlist says it)
 *   1st frame  = available + the part's duration: from its first frame
 *   loaded     = (1)'s last byte   - part end date
 *   player     = loaded + PART-HOLD-BACK: a player holding PART-HOLD-BACK
 *                behind the newest part it has shows that frame late by it
 * Plain HLS: the playlist polled every 100 ms; a new segment is
 *   available = when first seen - segment end date (within the poll),
 *   1st frame = available + the segment's duration, and
 *   player    = available + 3 target durations (hls.js's default hold).
 *
 * Prints per rendition p50/p95/max of each, one line each or (--json) one
 * JSON object.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "http_client.h"
#include "log.h"

#define MAX_RENDS   16
#define MAX_SAMPLES 20000
#define URL_MAX     1024
#define BODY_MAX    (1 << 20)

typedef struct {
    double v[MAX_SAMPLES];
    int n;
} series_t;

typedef struct {
    char name[64];
    char url[URL_MAX]; /* the media playlist */
    double seconds;
    bool ll;
    double hold_s; /* PART-HOLD-BACK, or 3 target durations */
    series_t avail, first, loaded, player;
    int errors;
    char err[200];
} rend_t;

/* The newest part (or segment) of a media playlist, dated. */
typedef struct {
    long long msn;
    int part;        /* -1: a segment (plain HLS) */
    double end_unix; /* its end's date, seconds; 0: undated */
    double dur;      /* its duration */
    char hint[256];  /* LL: the preload hint's URI */
    double part_hold, target;
    bool ll;
} edge_t;

static void add(series_t *s, double v)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = v;
}

static double unix_now(void)
{
    return clock_wall_us() / 1e6;
}

/* "2026-12-03T19:00:00.123Z" -> Unix seconds; 0 when unreadable. */
static double parse_date(const char *s)
{
    struct tm tm = {0};
    double frac = 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return 0;
    if (*p == '.')
        frac = strtod(p, NULL);
    return (double)timegm(&tm) + frac;
}

static double attr_num(const char *line, const char *name)
{
    const char *p = strstr(line, name);
    return p ? strtod(p + strlen(name), NULL) : 0;
}

/* Reads the newest part or segment of TEXT into E. */
static void parse_edge(const char *text, edge_t *e)
{
    memset(e, 0, sizeof(*e));
    e->msn = -1;
    long long msn = 0;
    double date = 0, off = 0;
    int k = 0;
    for (const char *l = text; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(n < 511 ? n : 511), l);
        if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) {
            msn = strtoll(line + 22, NULL, 10);
        } else if (!strncmp(line, "#EXT-X-TARGETDURATION:", 22)) {
            e->target = strtod(line + 22, NULL);
        } else if (!strncmp(line, "#EXT-X-PART-INF:", 16)) {
            e->ll = true;
        } else if (!strncmp(line, "#EXT-X-SERVER-CONTROL:", 22)) {
            e->part_hold = attr_num(line, "PART-HOLD-BACK=");
        } else if (!strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25)) {
            date = parse_date(line + 25);
            off = 0;
            k = 0;
        } else if (!strncmp(line, "#EXT-X-PART:", 12)) {
            e->dur = attr_num(line, "DURATION=");
            off += e->dur;
            e->msn = msn;
            e->part = k++;
            e->end_unix = date > 0 ? date + off : 0;
        } else if (!strncmp(line, "#EXTINF:", 8)) {
            double d = strtod(line + 8, NULL);
            if (!e->ll) { /* plain: the segment is the edge */
                e->msn = msn;
                e->part = -1;
                e->end_unix = date > 0 ? date + d : 0;
                e->dur = d;
            }
            date = date > 0 ? date + d : 0;
            off = 0;
            k = 0;
        } else if (!strncmp(line, "#EXT-X-PRELOAD-HINT:", 20)) {
            const char *u = strstr(line, "URI=\"");
            if (u)
                snprintf(e->hint, sizeof(e->hint), "%.*s",
                         (int)strcspn(u + 5, "\""), u + 5);
        } else if (line[0] && line[0] != '#') {
            msn++;
        }
        l = end ? end + 1 : NULL;
    }
}

/* URL of REL next to the playlist at BASE (everything up to its last
 * '/'); OUT gets URL_MAX bytes. */
static void resolve(const char *base, const char *rel, char *out)
{
    const char *q = strchr(base, '?');
    size_t n = q ? (size_t)(q - base) : strlen(base);
    while (n && base[n - 1] != '/')
        n--;
    snprintf(out, URL_MAX, "%.*s%s", (int)n, base, rel);
}

static int get(http_client_t *c, const char *url, rend_t *r)
{
    int status = 0;
    char err[200];
    int ret =
        http_client_request(c, "GET", url, NULL, 0, &status, err, sizeof(err));
    if (ret == 0 && status == 200)
        return 0;
    r->errors++;
    if (!ret)
        snprintf(err, sizeof(err), "status %d", status);
    snprintf(r->err, sizeof(r->err), "GET %.80s: %.100s", url, err);
    return -EIO;
}

/* LL-HLS: hinted part, then the playlist that dates it. */
static void measure_ll(rend_t *r, http_client_t *c, edge_t *e, double stop)
{
    char url[URL_MAX + 64];
    while (unix_now() < stop && r->errors < 20) {
        if (!e->hint[0]) {
            r->errors++;
            snprintf(r->err, sizeof(r->err), "no preload hint");
            return;
        }
        long long want_msn = e->msn;
        int want_part = e->part + 1;
        resolve(r->url, e->hint, url);
        if (get(c, url, r) < 0) {
            /* A hint that will not come (the stream moved on or
             * restarted): the playlist again, a moment later. */
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (get(c, r->url, r) == 0)
                parse_edge(http_client_body(c, NULL), e);
            continue;
        }
        double loaded = unix_now();
        /* The hinted part is the next one: of this segment, or the first
         * of the next when this one ended (then _HLS_part past its last
         * asks for the next segment's first). */
        snprintf(url, sizeof(url), "%s?_HLS_msn=%lld&_HLS_part=%d", r->url,
                 want_msn, want_part);
        if (get(c, url, r) < 0)
            continue;
        double avail = unix_now();
        edge_t next;
        parse_edge(http_client_body(c, NULL), &next);
        if (next.end_unix > 0 && (next.msn != e->msn || next.part != e->part)) {
            add(&r->avail, avail - next.end_unix);
            add(&r->first, avail - next.end_unix + next.dur);
            add(&r->loaded, loaded - next.end_unix);
            add(&r->player, loaded - next.end_unix + r->hold_s);
        }
        *e = next;
    }
}

/* Plain HLS: the playlist polled every 100 ms. */
static void measure_plain(rend_t *r, http_client_t *c, edge_t *e, double stop)
{
    while (unix_now() < stop && r->errors < 20) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (get(c, r->url, r) < 0)
            continue;
        double seen = unix_now();
        edge_t next;
        parse_edge(http_client_body(c, NULL), &next);
        if (next.msn > e->msn && next.end_unix > 0) {
            add(&r->avail, seen - next.end_unix);
            add(&r->first, seen - next.end_unix + next.dur);
            add(&r->player, seen - next.end_unix + r->hold_s);
        }
        *e = next;
    }
}

static void *rend_main(void *arg)
{
    rend_t *r = arg;
    http_client_opts_t o = {.connect_timeout_ms = 3000,
                            .timeout_ms = 15000,
                            .body_max = BODY_MAX,
                            .user_agent = "prism-bench latency"};
    http_client_t *c = http_client_new(&o);
    if (!c)
        return NULL;
    double stop = unix_now() + r->seconds;
    if (get(c, r->url, r) == 0) {
        edge_t e;
        parse_edge(http_client_body(c, NULL), &e);
        r->ll = e.ll;
        r->hold_s = e.ll ? e.part_hold : 3 * e.target;
        if (e.ll)
            measure_ll(r, c, &e, stop);
        else
            measure_plain(r, c, &e, stop);
    }
    http_client_free(&c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50, p95, max in milliseconds (NAN when empty). */
static void figures(series_t *s, double out[3])
{
    if (!s->n) {
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    qsort(s->v, (size_t)s->n, sizeof(double), cmp_double);
    out[0] = s->v[s->n / 2] * 1000;
    out[1] =
        s->v[(int)(s->n * 0.95) < s->n ? (int)(s->n * 0.95) : s->n - 1] * 1000;
    out[2] = s->v[s->n - 1] * 1000;
}

static void print_series(const char *name, series_t *s, bool json, bool last)
{
    double f[3];
    figures(s, f);
    if (json)
        printf("\"%s\": {\"n\": %d, \"p50_ms\": %.1f, \"p95_ms\": %.1f, "
               "\"max_ms\": %.1f}%s",
               name, s->n, isnan(f[0]) ? -1 : f[0], isnan(f[1]) ? -1 : f[1],
               isnan(f[2]) ? -1 : f[2], last ? "" : ", ");
    else
        printf("  %-9s n=%-5d p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms\n", name,
               s->n, f[0], f[1], f[2]);
}

/* The variants of the master at URL into R; returns how many. */
static int read_master(const char *url, rend_t *r, int max)
{
    http_client_opts_t o = {.timeout_ms = 5000, .body_max = BODY_MAX};
    char *text = NULL, err[200];
    int status = 0, n = 0;
    if (http_client_once(&o, "GET", url, NULL, 0, &status, &text, err,
                         sizeof(err)) < 0 ||
        status != 200) {
        fprintf(stderr, "prism-bench latency: GET %s: %s\n", url,
                status ? "not 200" : err);
        free(text);
        return -1;
    }
    bool next_is_variant = false;
    for (char *l = strtok(text, "\r\n"); l && n < max;
         l = strtok(NULL, "\r\n")) {
        if (!strncmp(l, "#EXT-X-STREAM-INF:", 18)) {
            next_is_variant = true;
        } else if (l[0] != '#' && next_is_variant) {
            next_is_variant = false;
            memset(&r[n], 0, sizeof(r[n]));
            resolve(url, l, r[n].url);
            snprintf(r[n].name, sizeof(r[n].name), "%.*s", (int)strcspn(l, "/"),
                     l);
            n++;
        }
    }
    free(text);
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: prism-bench latency MASTER_URL [--seconds S] [--json]\n"
               "  Per rendition of a live stream on an origin: how long after\n"
               "  the ingest received it each part (LL-HLS) or segment is\n"
               "  available, loaded, and shown by a player at the playlist's\n"
               "  hold-back (docs/benchmarks.md).\n");
}

int bench_latency_main(int argc, char **argv)
{
    const char *master = NULL;
    double seconds = 30;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !master)
            master = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!master || !(seconds > 0)) {
        usage(stderr);
        return 2;
    }
    log_set_level(LOG_LEVEL_WARN);
    static rend_t r[MAX_RENDS];
    int n = read_master(master, r, MAX_RENDS);
    if (n <= 0)
        return 1;
    pthread_t th[MAX_RENDS];
    for (int i = 0; i < n; i++) {
        r[i].seconds = seconds;
        pthread_create(&th[i], NULL, rend_main, &r[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    int bad = 0;
    if (json)
        printf("{\"master\": \"%s\", \"seconds\": %.0f, \"renditions\": [",
               master, seconds);
    for (int i = 0; i < n; i++) {
        bad += r[i].avail.n == 0;
        if (json) {
            printf("%s{\"name\": \"%s\", \"mode\": \"%s\", \"hold_back_s\": "
                   "%.3f, \"errors\": %d, \"last_error\": \"%s\", ",
                   i ? ", " : "", r[i].name, r[i].ll ? "llhls" : "hls",
                   r[i].hold_s, r[i].errors, r[i].err);
            print_series("available", &r[i].avail, true, false);
            print_series("from_first_frame", &r[i].first, true, false);
            print_series("loaded", &r[i].loaded, true, false);
            print_series("player", &r[i].player, true, true);
            printf("}");
        } else {
            printf("%s (%s, hold-back %.3f s, %d errors%s%s)\n", r[i].name,
                   r[i].ll ? "LL-HLS parts" : "HLS segments", r[i].hold_s,
                   r[i].errors, r[i].errors ? ": " : "", r[i].err);
            print_series("available", &r[i].avail, false, false);
            print_series("1st frame", &r[i].first, false, false);
            if (r[i].ll)
                print_series("loaded", &r[i].loaded, false, false);
            print_series("player", &r[i].player, false, false);
        }
    }
    if (json)
        printf("]}\n");
    return bad ? 1 : 0;
}
