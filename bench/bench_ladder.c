/* prism-bench ladder: how many real-time ladders this host carries. */

/*
 * For each session count N asked for, a child process runs N transcode
 * sessions of the same input at once, each paced at real time (a live
 * feed), with the ladder and backend given. The parent measures the child
 * (CPU seconds and peak RSS from wait4) and the child reports, per N:
 *  - realtime share: segments whose output was complete within one segment
 *    duration of their last input packet arriving (the livepeer_bench
 *    "real-time segment ratio"), over the segments every session should
 *    have finished (the input's segment boundaries times N): a segment
 *    late, lost with a dropped GOP, or never finished (a session that
 *    failed or ended early) is a miss, so three sessions that finished 19
 *    of 30 segments do not look better than they are;
 *  - transcode ratio: total session wall time over total media duration
 *    (1.0 means it kept up; paced input cannot go below 1.0);
 *  - packets dropped by the live input queues.
 * The first line says which backend ran (the one the sessions chose, auto
 * resolved by the probe) and on which devices.
 * A CSV row per N goes to OUT/bench-ladder.csv and, for a range of N, a
 * gnuplot PNG of the figures against N to OUT/bench-ladder.png. The
 * sessions' HLS output goes to a scratch directory removed at the end.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/time.h>

#include "ladder.h"
#include "log.h"
#include "probe.h"
#include "transcode.h"

#define MAX_N 64

typedef struct {
    transcode_session_t *s;
    int64_t segments, realtime;
    double wall_s, media_s;
    int64_t dropped, frames;
    hwplan_backend_t backend;
    int ret;
} sess_t;

/* What a child sends back through its pipe. */
typedef struct {
    int n;
    int failed;
    int64_t segments, realtime, dropped;
    int64_t frames; /* video frames decoded, all sessions */
    double wall_s, media_s, elapsed_s;
    hwplan_backend_t backend; /* what the sessions ran on */
    char devices[192];        /* the devices the probe found */
} result_t;

typedef struct {
    result_t r;
    double cpu_s;
    long rss_kb;
} row_t;

static void on_segment(void *opaque, const transcode_segment_t *seg)
{
    sess_t *x = opaque;
    x->segments++;
    if (seg->lag_s <= seg->duration_s)
        x->realtime++;
}

static void *run_session(void *arg)
{
    sess_t *x = arg;
    x->ret = transcode_session_run(x->s);
    transcode_stats_t st;
    transcode_session_stats(x->s, &st);
    x->wall_s = st.wall_s;
    x->media_s = st.media_s;
    x->dropped = st.dropped_packets;
    x->frames = st.frames_decoded;
    x->backend = st.backend;
    return NULL;
}

typedef struct {
    char input[1024], out[1024], backend[16], preset[32];
    char hls[64]; /* scratch directory for the sessions' HLS output */
    const ladder_profile_t *profile;
} cfg_t;

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* "cuda:0 NVIDIA H200 (nvdec yes, nvenc absent), /dev/dri/renderD128" */
static void describe_devices(const probe_t *p, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < p->ncuda && at < len; i++) {
        int w =
            snprintf(out + at, len - at, "%scuda:%d %s (nvdec %s, nvenc %s)",
                     at ? ", " : "", p->cuda[i].index, p->cuda[i].name,
                     p->cuda[i].nvdec_h264 ? "yes" : "no",
                     probe_nvenc_name(p->cuda[i].nvenc_h264));
        at += w > 0 ? (size_t)w : 0;
    }
    for (int i = 0; i < p->nvaapi && at < len; i++) {
        if (!p->vaapi[i].ok)
            continue;
        int w = snprintf(out + at, len - at, "%s%s", at ? ", " : "",
                         p->vaapi[i].path);
        at += w > 0 ? (size_t)w : 0;
    }
    if (at < len)
        snprintf(out + at, len - at, "%scpu (%d cores)", at ? ", " : "",
                 p->cpu_cores);
}

static int child(const cfg_t *c, int n, int fd)
{
    sess_t x[MAX_N] = {{0}};
    pthread_t th[MAX_N];
    result_t r = {.n = n};
    transcode_opts_t o;
    hwplan_devices_t devs = {0};
    probe_t *probe = NULL;

    transcode_opts_default(&o);
    if (hwplan_backend_parse(c->backend, &o.backend) < 0)
        return 2;
    if (o.backend != HWPLAN_SOFTWARE) {
        probe = calloc(1, sizeof(*probe));
        if (!probe)
            return 1;
        probe_run(probe);
        probe_devices(probe, &devs);
        describe_devices(probe, r.devices, sizeof(r.devices));
        free(probe);
    } else {
        snprintf(r.devices, sizeof(r.devices), "cpu");
    }
    o.devices = &devs;
    o.preset = c->preset;
    o.thumbnail_s = 0;
    o.on_segment = on_segment;
    int64_t t0 = av_gettime_relative();
    for (int i = 0; i < n; i++) {
        packet_source_t *src = packet_source_open_url(c->input, true);
        if (!src)
            return 1;
        if (snprintf(o.output, sizeof(o.output), "%s/n%d-s%d", c->hls, n, i) >=
            (int)sizeof(o.output)) {
            fprintf(stderr, "prism-bench ladder: output path too long\n");
            return 1;
        }
        o.opaque = &x[i];
        x[i].s = transcode_session_new(src, c->profile, &o);
        if (!x[i].s)
            return 1;
    }
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, run_session, &x[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        r.failed += x[i].ret < 0;
        r.segments += x[i].segments;
        r.realtime += x[i].realtime;
        r.wall_s += x[i].wall_s;
        r.media_s += x[i].media_s;
        r.dropped += x[i].dropped;
        r.frames += x[i].frames;
        if (x[i].ret >= 0)
            r.backend = x[i].backend;
        transcode_session_free(&x[i].s);
    }
    if (r.failed == n)
        r.backend = o.backend; /* none ran: what was asked for */
    r.elapsed_s = (av_gettime_relative() - t0) / 1e6;
    ssize_t w = write(fd, &r, sizeof(r));
    return w == (ssize_t)sizeof(r) ? 0 : 1;
}

static int measure(const cfg_t *c, int n, row_t *row)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(fds[0]);
        _exit(child(c, n, fds[1]));
    }
    close(fds[1]);
    memset(row, 0, sizeof(*row));
    ssize_t got = read(fds[0], &row->r, sizeof(row->r));
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        return -errno;
    if (got != (ssize_t)sizeof(row->r) || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        log_error("bench", "A benchmark run failed.", "sessions=%d status=%d",
                  n, status);
        return -EIO;
    }
    row->cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    row->rss_kb = ru.ru_maxrss;
    return 0;
}

/* "4", "1-4" or "1,2,4" into a list of counts. */
static int parse_sessions(const char *s, int *out, int max)
{
    int n = 0, a, b;
    char *end;
    while (*s && n < max) {
        a = (int)strtol(s, &end, 10);
        if (end == s || a < 1 || a > MAX_N)
            return -EINVAL;
        b = a;
        if (*end == '-') {
            s = end + 1;
            b = (int)strtol(s, &end, 10);
            if (end == s || b < a || b > MAX_N)
                return -EINVAL;
        }
        for (int k = a; k <= b && n < max; k++)
            out[n++] = k;
        if (*end == ',')
            end++;
        else if (*end)
            return -EINVAL;
        s = end;
    }
    return n ? n : -EINVAL;
}

static void plot(const char *out, int nrows)
{
    char gp[1100], cmd[1200];
    snprintf(gp, sizeof(gp), "%s/bench-ladder.gp", out);
    FILE *f = fopen(gp, "w");
    if (!f)
        return;
    fprintf(f,
            "set terminal pngcairo size 900,540\n"
            "set output '%s/bench-ladder.png'\n"
            "set datafile separator ','\n"
            "set title 'prism-bench ladder: concurrent real-time ladders'\n"
            "set xlabel 'concurrent sessions'\n"
            "set ylabel 'share / ratio'\n"
            "set y2label 'CPU seconds'\n"
            "set ytics nomirror\nset y2tics\nset key left top\n"
            "set xtics 1\nset grid\n"
            "plot '%s/bench-ladder.csv' skip 1 using 1:2 with linespoints "
            "title 'real-time segment share', "
            "'' skip 1 using 1:3 with linespoints "
            "title 'transcode time / duration', "
            "'' skip 1 using 1:4 axes x1y2 with linespoints "
            "title 'CPU seconds'\n",
            out, out);
    fclose(f);
    if (nrows < 2)
        return;
    snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", gp);
    if (system(cmd) != 0)
        log_warn("bench", "gnuplot failed; the CSV is still there.",
                 "script=\"%s\"", gp);
}

/*
 * The segment boundaries one session of INPUT completes: its duration cut
 * every segment_s, less the last segment (no boundary after it); 0 when
 * the duration is unknown (then only what the sessions finished counts).
 */
static int64_t expected_segments(const char *input, double segment_s)
{
    AVFormatContext *ic = NULL;
    int64_t n = 0;
    if (avformat_open_input(&ic, input, NULL, NULL) < 0)
        return 0;
    int v = avformat_find_stream_info(ic, NULL) >= 0
                ? av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)
                : -1;
    if (v >= 0 && segment_s > 0) {
        /* A boundary is a video frame at k * segment_s: up to the last
         * frame, one frame before the end of the video. */
        const AVStream *st = ic->streams[v];
        double dur = st->duration > 0   ? st->duration * av_q2d(st->time_base)
                     : ic->duration > 0 ? ic->duration / (double)AV_TIME_BASE
                                        : 0;
        double frame =
            st->avg_frame_rate.num > 0 ? 1 / av_q2d(st->avg_frame_rate) : 0;
        n = (int64_t)floor((dur - frame) / segment_s + 1e-6);
    }
    avformat_close_input(&ic);
    return n > 0 ? n : 0;
}

/*
 * One row: to the CSV, and as text (the backend and devices line and the
 * header before the first) or a JSON object. A session should finish
 * per_session segments; what it did not finish in time is a miss.
 */
static void print_row(FILE *csv, bool json, const row_t *row,
                      int64_t per_session, bool first, bool more)
{
    const result_t *r = &row->r;
    int64_t want = per_session * r->n;
    if (want < r->segments)
        want = r->segments;
    int64_t missed = want - r->realtime;
    double share = want ? (double)r->realtime / (double)want : 0;
    double ratio = r->media_s > 0 ? r->wall_s / r->media_s : 0;
    const char *backend = hwplan_backend_name(r->backend);
    fprintf(csv, "%d,%.4f,%.4f,%.2f,%ld,%lld,%lld,%.2f,%lld,%lld,%d,%s\n", r->n,
            share, ratio, row->cpu_s, row->rss_kb, (long long)r->segments,
            (long long)r->dropped, r->elapsed_s, (long long)want,
            (long long)missed, r->failed, backend);
    fflush(csv);
    if (json) {
        printf("  {\"sessions\": %d, \"backend\": \"%s\", \"devices\": "
               "\"%s\", \"realtime_share\": %.4f, \"transcode_ratio\": "
               "%.4f, \"cpu_s\": %.2f, \"peak_rss_kb\": %ld, "
               "\"segments\": %lld, \"expected_segments\": %lld, "
               "\"missed_segments\": %lld, \"dropped_packets\": %lld, "
               "\"failed_sessions\": %d, \"elapsed_s\": %.2f, "
               "\"decoded_fps\": %.1f}%s\n",
               r->n, backend, r->devices, share, ratio, row->cpu_s, row->rss_kb,
               (long long)r->segments, (long long)want, (long long)missed,
               (long long)r->dropped, r->failed, r->elapsed_s,
               r->elapsed_s > 0 ? (double)r->frames / r->elapsed_s : 0,
               more ? "," : "");
    } else {
        if (first)
            printf("backend %s on %s\n%8s %14s %16s %8s %12s %9s %8s %8s "
                   "%7s\n",
                   backend, r->devices, "sessions", "realtime_share",
                   "transcode_ratio", "cpu_s", "peak_rss_kb", "segments",
                   "missed", "dropped", "failed");
        printf("%8d %14.3f %16.3f %8.2f %12ld %9lld %8lld %8lld %7d\n", r->n,
               share, ratio, row->cpu_s, row->rss_kb, (long long)r->segments,
               (long long)missed, (long long)r->dropped, r->failed);
    }
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prism-bench ladder --input FILE [--sessions N|A-B|A,B,..] "
            "[--json]\n"
            "       [--backend auto|software|nvenc|vaapi|hybrid] [--preset P] "
            "[--ladder default|FILE] [--out DIR]\n"
            "Runs N concurrent transcode sessions of FILE paced at real time "
            "and reports\nthe share of the input's segments (times N) finished "
            "within their own\nduration (late, dropped and unfinished "
            "segments are misses), transcode time\nover duration, CPU "
            "seconds and peak RSS; writes DIR/bench-ladder.csv and,\nfor a "
            "range of N, DIR/bench-ladder.png.\n");
}

int bench_ladder_main(int argc, char **argv)
{
    cfg_t c = {.backend = "software", .preset = "veryfast", .out = "."};
    const char *sessions = "1", *ladder = "default";
    bool json = false;
    int counts[MAX_N];
    ladder_profile_t profile;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--input") || !strcmp(a, "-i"))
            snprintf(c.input, sizeof(c.input), "%s", v);
        else if (!strcmp(a, "--sessions"))
            sessions = v;
        else if (!strcmp(a, "--backend"))
            snprintf(c.backend, sizeof(c.backend), "%s", v);
        else if (!strcmp(a, "--preset"))
            snprintf(c.preset, sizeof(c.preset), "%s", v);
        else if (!strcmp(a, "--ladder"))
            ladder = v;
        else if (!strcmp(a, "--out"))
            snprintf(c.out, sizeof(c.out), "%s", v);
        else {
            usage(stderr);
            return 2;
        }
    }
    int ncounts = parse_sessions(sessions, counts, MAX_N);
    if (!c.input[0] || ncounts < 0) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(ladder, "default")
            ? ladder_profile_default(&profile) < 0
            : ladder_profile_load(ladder, &profile, err, sizeof(err)) < 0) {
        fprintf(stderr, "prism-bench ladder: cannot load ladder %s\n", ladder);
        return 1;
    }
    c.profile = &profile;
    mkdir(c.out, 0755);
    snprintf(c.hls, sizeof(c.hls), "/tmp/prism-bench-ladder-XXXXXX");
    if (!mkdtemp(c.hls)) {
        fprintf(stderr, "prism-bench ladder: cannot make a scratch dir\n");
        return 1;
    }
    av_log_set_level(AV_LOG_QUIET);
    log_set_level(LOG_LEVEL_WARN);

    char csv[1100];
    snprintf(csv, sizeof(csv), "%s/bench-ladder.csv", c.out);
    FILE *f = fopen(csv, "w");
    if (!f) {
        fprintf(stderr, "prism-bench ladder: cannot write %s\n", csv);
        return 1;
    }
    fprintf(f, "sessions,realtime_share,transcode_ratio,cpu_s,peak_rss_kb,"
               "segments,dropped_packets,elapsed_s,expected_segments,"
               "missed_segments,failed_sessions,backend\n");
    transcode_opts_t defaults;
    transcode_opts_default(&defaults);
    int64_t per_session = expected_segments(c.input, defaults.segment_s);
    if (json)
        printf("[\n");
    int rc = 0, rows = 0;
    for (int i = 0; i < ncounts; i++) {
        row_t row;
        if (measure(&c, counts[i], &row) < 0) {
            rc = 1;
            break;
        }
        print_row(f, json, &row, per_session, rows == 0, i + 1 < ncounts);
        rows++;
        if (row.r.failed == row.r.n) {
            fprintf(stderr,
                    "prism-bench ladder: every session failed with "
                    "%d sessions (the log says why)\n",
                    row.r.n);
            rc = 1;
            break;
        }
    }
    if (json)
        printf("]\n");
    fclose(f);
    plot(c.out, rows);
    nftw(c.hls, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
