/* GET /metrics: the Prometheus text, computed on the loop thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_api_int.h"
#include "farm.h"
#include "log.h"
#include "ops.h"
#include "placement.h"
#include "publish_hook.h"
#include "release.h"
#include "rows.h"
#include "webhook.h"

#define MOD "api"

/*
 * The /metrics page is a fixed set of series (a few per device kind, one
 * per counter), a few KiB whatever the size of the farm; it starts in a
 * buffer with room to spare and doubles only if new series outgrow it.
 */
#define METRICS_START_BYTES 16384

/*
 * The /metrics text as it is written: a buffer that doubles when an
 * append does not fit. An append that cannot grow it sets err and leaves
 * the text as it was; every later append does nothing, so the caller
 * writes the whole page and checks err once at the end.
 */
typedef struct {
    char *b;
    size_t len, cap;
    int err; /* 0, or the negative code of the first failed append */
} text_t;

static void text_printf(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(text_t *t, const char *fmt, ...)
{
    if (t->err)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->b + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            int e = errno ? errno : EINVAL;
            t->err = -e;
            log_error(MOD, "Cannot format a line of /metrics.",
                      "call=vsnprintf format=\"%.40s\" err=\"%s\"", fmt,
                      strerror(e));
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        char *nb = realloc(t->b, t->cap * 2);
        if (!nb) {
            t->err = -ENOMEM;
            log_error(MOD, "Cannot grow the /metrics text.",
                      "call=realloc bytes=%zu err=\"%s\"", t->cap * 2,
                      strerror(ENOMEM));
            return;
        }
        t->b = nb;
        t->cap *= 2;
    }
}

/* One line per device kind and direction (encode, decode) of metric NAME. */
static void kind_dir_lines(text_t *t, const char *name, const double *enc,
                           const double *dec)
{
    for (int k = 0; k < PLACEMENT_KIND_COUNT; k++) {
        const char *kn = placement_kind_name((placement_kind_t)k);
        text_printf(t, "%s{kind=\"%s\",dir=\"encode\"} %.0f\n", name, kn,
                    enc[k]);
        text_printf(t, "%s{kind=\"%s\",dir=\"decode\"} %.0f\n", name, kn,
                    dec[k]);
    }
}

/* Per live worker and device: the encode pixels reserved by placements and
 * the effective measured load beside it (load_ctl.h), and the smoothed
 * measured use as a fraction. */
static void metrics_device_load(text_t *t, const coord_t *c)
{
    static const char *const help[3][2] = {
        {"prism_device_reserved_encode_pixels",
         "Encode luma pixels/s reserved by placements on the device."},
        {"prism_device_measured_encode_pixels",
         "Encode luma pixels/s placement counts as measured: the larger of "
         "the worker's reported cost and the smoothed use times the "
         "budget."},
        {"prism_device_measured_use",
         "Smoothed measured use of the device, 0..1 (absent while unknown)."},
    };
    for (int m = 0; m < 3; m++) {
        text_printf(t, "# HELP %s %s\n# TYPE %s gauge\n", help[m][0],
                    help[m][1], help[m][0]);
        for (size_t i = 0; i < farm_worker_count(c); i++) {
            const coord_worker_t *w = farm_worker(c, (long)i);
            if (w->state != WORKER_LIVE)
                continue;
            for (size_t d = 0; d < farm_pworker(c, (long)i)->ndevices; d++) {
                const placement_device_t *pd = farm_device(c, (long)i, d);
                const coord_device_info_t *di = &w->dev[d];
                double v = m == 0   ? (double)pd->reserved.encode_pixels
                           : m == 1 ? (double)pd->measured.encode_pixels
                                    : di->use.use;
                if (m == 2 && !di->use.have)
                    continue;
                text_printf(
                    t, "%s{worker=\"%s\",device=\"%zu\",kind=\"%s\"} %.*f\n",
                    help[m][0], w->id, d, placement_kind_name(pd->kind),
                    m == 2 ? 3 : 0, v);
            }
        }
    }
}

/* Workers by state, devices by kind, and their capacity, used and total. */
static void metrics_farm(text_t *t, const coord_t *c)
{
    int by_state[4] = {0}; /* live, draining, overloaded, dead */
    int dev_kind[PLACEMENT_KIND_COUNT] = {0};
    double used_enc[PLACEMENT_KIND_COUNT] = {0},
           tot_enc[PLACEMENT_KIND_COUNT] = {0};
    double used_dec[PLACEMENT_KIND_COUNT] = {0},
           tot_dec[PLACEMENT_KIND_COUNT] = {0};
    int used_ses[PLACEMENT_KIND_COUNT] = {0};
    for (size_t i = 0; i < farm_worker_count(c); i++) {
        const char *st = farm_worker_state_name(c, (long)i);
        int k = !strcmp(st, "live")         ? 0
                : !strcmp(st, "draining")   ? 1
                : !strcmp(st, "overloaded") ? 2
                                            : 3;
        by_state[k]++;
        if (farm_worker(c, (long)i)->state != WORKER_LIVE)
            continue;
        for (size_t d = 0; d < farm_pworker(c, (long)i)->ndevices; d++) {
            const placement_device_t *pd = farm_device(c, (long)i, d);
            placement_load_t u;
            placement_device_used(pd, &u);
            dev_kind[pd->kind]++;
            used_enc[pd->kind] += (double)u.encode_pixels;
            tot_enc[pd->kind] += (double)pd->enc_budget;
            used_dec[pd->kind] += (double)u.decode_pixels;
            tot_dec[pd->kind] += (double)pd->dec_budget;
            used_ses[pd->kind] += u.sessions;
        }
    }
    static const char *wst[4] = {"live", "draining", "overloaded", "dead"};
    text_printf(
        t, "# HELP prism_workers Workers known to the coordinator, by state.\n"
           "# TYPE prism_workers gauge\n");
    for (int i = 0; i < 4; i++)
        text_printf(t, "prism_workers{state=\"%s\"} %d\n", wst[i], by_state[i]);
    text_printf(t, "# HELP prism_devices Devices of live workers, by kind.\n"
                   "# TYPE prism_devices gauge\n");
    for (int k = 0; k < PLACEMENT_KIND_COUNT; k++)
        text_printf(t, "prism_devices{kind=\"%s\"} %d\n",
                    placement_kind_name((placement_kind_t)k), dev_kind[k]);
    text_printf(
        t, "# HELP prism_encoder_sessions Encoder sessions in use, by device "
           "kind.\n# TYPE prism_encoder_sessions gauge\n");
    for (int k = 0; k < PLACEMENT_KIND_COUNT; k++)
        text_printf(t, "prism_encoder_sessions{kind=\"%s\"} %d\n",
                    placement_kind_name((placement_kind_t)k), used_ses[k]);
    text_printf(
        t, "# HELP prism_capacity_used_pixels_per_second Luma pixels/s in use, "
           "by device kind and direction.\n"
           "# TYPE prism_capacity_used_pixels_per_second gauge\n");
    kind_dir_lines(t, "prism_capacity_used_pixels_per_second", used_enc,
                   used_dec);
    text_printf(
        t, "# HELP prism_capacity_total_pixels_per_second Luma pixels/s budget "
           "of live devices, by kind and direction.\n"
           "# TYPE prism_capacity_total_pixels_per_second gauge\n");
    kind_dir_lines(t, "prism_capacity_total_pixels_per_second", tot_enc,
                   tot_dec);
    metrics_device_load(t, c);
}

/* Streams by state. */
static void metrics_streams(text_t *t, const coord_t *c)
{
    int sst[STREAM_FAILED + 1] = {0};
    for (size_t i = 0; i < farm_stream_slots(c); i++) {
        const coord_stream_t *s = farm_stream_at(c, i);
        sst[s ? s->state : STREAM_FREE]++;
    }
    text_printf(t, "# HELP prism_streams Streams, by state.\n"
                   "# TYPE prism_streams gauge\n");
    for (int s = STREAM_PENDING; s <= STREAM_FAILED; s++)
        text_printf(t, "prism_streams{state=\"%s\"} %d\n",
                    farm_stream_state_name((stream_state_t)s), sst[s]);
    text_printf(
        t,
        "# HELP prism_pending_streams Streams waiting for capacity.\n"
        "# TYPE prism_pending_streams gauge\nprism_pending_streams %d\n",
        sst[STREAM_PENDING]);
}

/* The coordinator's counters and the Releases waiting for an Ack. */
static void metrics_counters(text_t *t, const coord_t *c)
{
    const coord_counters_t *n = farm_counters(c);
    struct {
        const char *name, *help;
        uint64_t v;
    } ctr[] = {
        {"prism_placements_total", "Placements made (first and later).",
         n->placements},
        {"prism_replacements_total",
         "Placements of a stream after its first (failover, drain, hang).",
         n->replacements},
        {"prism_publish_rejections_total", "Publish requests refused.",
         n->rejections},
        {"prism_publishes_total", "Publishes accepted as new streams.",
         n->publishes},
        {"prism_publish_cache_admits_total",
         "Publishes admitted from the channel cache while the database was "
         "away.",
         n->cache_admits},
        {"prism_dead_workers_total", "Workers declared dead.", n->dead_workers},
        {"prism_hung_sessions_total", "Sessions found hung.", n->hung_sessions},
        {"prism_overloads_total", "Times a worker became overloaded.",
         n->overloads},
        {"prism_send_failures_total",
         "Control messages that could not be sent at once (dropped).",
         n->send_failures},
        {"prism_db_writes_dropped_total",
         "Database writes dropped because the queue was full.",
         n->writes_dropped + n->events_dropped},
        {"prism_messages_total", "Control messages received.", n->messages_in},
        {"prism_worker_reports_total", "Load reports taken from workers.",
         n->reports},
        {"prism_worker_report_gaps_total",
         "Load reports that workers numbered but that never arrived.",
         n->report_gaps},
        {"prism_messages_bad_total", "Control messages refused.",
         n->messages_bad},
        {"prism_release_resends_total",
         "Releases sent again because the worker did not acknowledge them.",
         n->release_resends},
        {"prism_releases_untracked_total",
         "Releases sent once, untracked, because the table was full.",
         n->releases_untracked},
        {"prism_ladder_upgrades_total",
         "Partial ladders moved to a worker with room for the whole one.",
         n->upgrades},
        {"prism_session_failures_total",
         "Sessions that failed (the worker's error, a hang, an Assign never "
         "acknowledged); each waits out a backoff before the next placement.",
         n->session_failures},
        {"prism_streams_failed_total",
         "Times a stream was marked failed (fail_limit failures in "
         "fail_window_ms).",
         n->streams_failed},
        {"prism_rendition_failures_total",
         "Renditions workers dropped from running sessions (the others went "
         "on).",
         n->rendition_failures},
        {"prism_slow_moves_total",
         "Streams moved off a worker because their session stayed under "
         "slow_speed for slow_move_ms.",
         n->slow_moves},
        {"prism_slow_stays_total",
         "Slow sessions that found no other worker with room and stayed.",
         n->slow_stays},
        {"prism_frames_unordered_total",
         "Decoded frames stamped no later than the frame before (publishers' "
         "timestamps out of order); each took a time just after it.",
         n->frames_unordered},
        {"prism_frames_filled_total",
         "Copies of frames encoded into gaps of the publishers' frames "
         "(summed over renditions).",
         n->frames_filled},
    };
    for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++)
        text_printf(t, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n",
                    ctr[i].name, ctr[i].help, ctr[i].name, ctr[i].name,
                    ctr[i].v);
    text_printf(
        t,
        "# HELP prism_releases_unacked Releases waiting for the worker's "
        "Ack.\n# TYPE prism_releases_unacked gauge\n"
        "prism_releases_unacked %zu\n",
        release_unacked(c));
}

/* PostgreSQL, the allowlist and leadership. */
static void metrics_loop(text_t *t, const coord_t *c,
                         const coord_api_loop_t *loop)
{
    store_stats_t ss;
    bool up = rows_db_up(c, &ss);
    text_printf(t,
                "# HELP prism_db_up 1 while PostgreSQL is connected.\n"
                "# TYPE prism_db_up gauge\nprism_db_up %d\n",
                up ? 1 : 0);
    text_printf(t,
                "# HELP prism_db_queue Database queries waiting.\n"
                "# TYPE prism_db_queue gauge\nprism_db_queue %zu\n",
                ss.queued);
    text_printf(t,
                "# HELP prism_db_queries_total Database queries completed.\n"
                "# TYPE prism_db_queries_total counter\nprism_db_queries_total "
                "%" PRIu64 "\n",
                ss.queries);
    text_printf(
        t,
        "# HELP prism_db_failures_total Database queries failed.\n"
        "# TYPE prism_db_failures_total counter\nprism_db_failures_total "
        "%" PRIu64 "\n",
        ss.failed);
    text_printf(
        t,
        "# HELP prism_db_reconnects_total Database reconnections.\n"
        "# TYPE prism_db_reconnects_total counter\nprism_db_reconnects_total "
        "%" PRIu64 "\n",
        ss.reconnects);
    text_printf(t,
                "# HELP prism_zap_denied_total Connections refused by the ZAP "
                "allowlist.\n# TYPE prism_zap_denied_total counter\n"
                "prism_zap_denied_total %" PRIu64 "\n",
                loop->zap_denied);
    text_printf(t,
                "# HELP prism_leader 1 while this coordinator holds the lock.\n"
                "# TYPE prism_leader gauge\nprism_leader %d\n",
                loop->leader ? 1 : 0);
}

bool coord_api_metrics(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                       const char *const *params, const char *query)
{
    (void)params;
    (void)query;
    text_t t = {malloc(METRICS_START_BYTES), 0, METRICS_START_BYTES, 0};
    if (!t.b) {
        log_error(MOD, "Cannot start the /metrics text.",
                  "call=malloc bytes=%d err=\"%s\"", METRICS_START_BYTES,
                  strerror(ENOMEM));
        return false;
    }
    metrics_farm(&t, c);
    metrics_streams(&t, c);
    metrics_counters(&t, c);
    metrics_loop(&t, c, loop);
    char *hooks = webhooks_metrics(loop->hooks);
    char *phook = publish_hook_metrics(loop->phook);
    if (!hooks || !phook)
        t.err = -ENOMEM;
    text_printf(&t, "%s%s", hooks ? hooks : "", phook ? phook : "");
    free(hooks);
    free(phook);
    if (t.err == 0) /* else text_printf has logged why; no answer */
        api_reply_raw(r, 200, "text/plain; version=0.0.4", t.b, t.len);
    free(t.b);
    return false;
}
