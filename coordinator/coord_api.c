/* The operator API's answers, computed on the loop thread from farm state. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "coord_api.h"
#include "farm.h"
#include "log.h"
#include "ops.h"
#include "release.h"
#include "rows.h"
#include "publish_hook.h"
#include "streamkey.h"
#include "webhook.h"

#define MOD "api"

/*
 * The /metrics page is a fixed set of series (a few per device kind, one
 * per counter), a few KiB whatever the size of the farm; it starts in a
 * buffer with room to spare and doubles only if new series outgrow it.
 */
#define METRICS_START_BYTES 16384

/*
 * Requests answered in one call before the loop goes back to its other
 * sockets and timers. The HTTP thread asks one request at a time, so
 * several wait only when the loop fell behind and the thread gave up on
 * some (coord_http.c waits 5 s); the bound keeps such a backlog from
 * holding up the control socket.
 */
#define API_BATCH_MAX 100

/* Channel names and profile names are 1..63 characters (docs/api.md); the
 * buffers hold the NUL as well. */
#define CHANNEL_NAME_MAX 64

/* A channel's priority is 0..100, 50 when the request gives none; the
 * channels table checks the same range. */
#define CHANNEL_PRIORITY_MAX     100
#define CHANNEL_PRIORITY_DEFAULT 50

/* A request the loop answers, possibly after a database round trip. */
typedef struct {
    coord_t *c;
    void *sock; /* the loop's inproc ROUTER, where the answer goes */
    zmq_msg_t rid;
    uint64_t reqid;
    json_t *body; /* parsed request body, or NULL */
    char name[CHANNEL_NAME_MAX];
    char profile[CHANNEL_NAME_MAX];
    int priority;
    int64_t id;
} api_req_t;

static void api_req_free(api_req_t *r)
{
    zmq_msg_close(&r->rid);
    json_decref(r->body);
    free(r);
}

static void reply_raw(api_req_t *r, int status, const char *ctype,
                      const char *body, size_t len)
{
    char st[8];
    snprintf(st, sizeof(st), "%d", status);
    zmq_msg_t rid;
    zmq_msg_init(&rid);
    zmq_msg_copy(&rid, &r->rid);
    if (zmq_msg_send(&rid, r->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return;
    }
    zmq_send(r->sock, &r->reqid, sizeof(r->reqid), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(r->sock, st, strlen(st), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(r->sock, ctype, strlen(ctype), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(r->sock, body, len, ZMQ_DONTWAIT);
}

/* Sends j (taken) as the JSON answer. */
static void reply_json(api_req_t *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (!s) {
        reply_raw(r, 500, "application/json",
                  "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                  "memory\"}}",
                  57);
        return;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t) {
        s = t;
        s[n++] = '\n';
        s[n] = '\0';
    }
    reply_raw(r, status, "application/json", s, n);
    free(s);
}

static void reply_error(api_req_t *r, int status, const char *code,
                        const char *msg)
{
    reply_json(
        r, status,
        json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* ---------------------------------------------------------------- views */

static const char *worker_state(const coord_t *c, long wi)
{
    const placement_worker_t *pw = farm_pworker(c, wi);
    if (farm_worker(c, wi)->state == WORKER_DEAD)
        return "dead";
    if (pw->draining)
        return "draining";
    if (pw->overloaded)
        return "overloaded";
    return "live";
}

static json_t *worker_json(coord_t *c, long wi)
{
    const coord_worker_t *w = farm_worker(c, wi);
    const placement_worker_t *pw = farm_pworker(c, wi);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:i, s:i, s:o}", "id",
        w->id, "host", w->host, "software", w->software, "state",
        worker_state(c, wi), "draining", pw->draining, "overloaded",
        pw->overloaded, "last_seen_ms_ago",
        (json_int_t)(clock_mono_ms() - w->last_seen_ms), "registered_at_ms",
        (json_int_t)w->registered_wall_ms, "reports", (json_int_t)w->reports,
        "streams", farm_worker_streams(c, wi), "max_host_sessions",
        pw->max_host_sessions, "devices", rows_devices_json(c, wi));
}

/* The session failure policy's view of a stream (see docs/api.md). */
static json_t *failure_json(const coord_t *c, const coord_stream_t *s)
{
    int64_t now = clock_mono_ms();
    int recent = ops_recent_failures(c, s, now);
    bool waiting = s->state == STREAM_PENDING || s->state == STREAM_FAILED;
    json_t *rf = json_array();
    for (int i = 0; i < s->nrfail && s->rfail_generation == s->generation; i++)
        json_array_append_new(rf,
                              json_pack("{s:s, s:s}", "name", s->rfail[i].name,
                                        "error", s->rfail[i].error));
    return json_pack(
        "{s:b, s:I, s:i, s:s?, s:I, s:I, s:o}", "failed", s->failed, "failures",
        (json_int_t)s->failures, "recent", recent, "last_error",
        s->last_error[0] ? s->last_error : NULL, "backoff_ms",
        (json_int_t)s->backoff_ms, "retry_in_ms",
        (json_int_t)(waiting && s->retry_at_ms > now ? s->retry_at_ms - now
                                                     : 0),
        "failed_renditions", rf);
}

static json_t *stream_json(const coord_t *c, const coord_stream_t *s)
{
    json_t *ren = rows_renditions_json(s);
    int dev = farm_device_index(c, s);
    json_t *j = json_pack(
        "{s:s, s:I, s:s, s:i, s:s, s:s, s:s?, s:i, s:I, s:I, s:b, s:o, "
        "s:{s:i, s:i, s:i, s:i}, s:I, s:f, s:f, s:f, s:f, s:I, "
        "s:{s:I, s:I, s:I, s:I, s:I}}",
        "id", s->id, "channel_id", (json_int_t)s->channel_id, "channel",
        s->channel, "priority", (int)s->priority, "state",
        farm_stream_state_name(s->state), "ingest", s->ingest, "worker",
        s->worker >= 0 ? farm_worker_id(c, s->worker) : NULL, "device", dev,
        "generation", (json_int_t)s->generation, "placements",
        (json_int_t)s->placements, "partial",
        s->kept != 0 && s->ladder.n > 0 && s->kept != farm_full_mask(s),
        "renditions", ren, "source", "width", s->source.width, "height",
        s->source.height, "fps_num", s->source.fps_num, "fps_den",
        s->source.fps_den, "started_at_ms", (json_int_t)s->started_wall_ms,
        "speed", s->speed, "fps", s->fps, "input_kbps", s->in_kbps, "input_fps",
        s->in_fps, "dropped_packets", (json_int_t)s->dropped, "origin", "puts",
        (json_int_t)s->origin_puts, "put_failed",
        (json_int_t)s->origin_put_failed, "deletes",
        (json_int_t)s->origin_deletes, "delete_failed",
        (json_int_t)s->origin_delete_failed, "upload_dropped",
        (json_int_t)s->origin_dropped);
    if (j)
        json_object_set_new(j, "failure", failure_json(c, s));
    /* The last 10 s of the session as its worker reports it, and the load
     * control loop's view (slow since, last moved for being slow). */
    if (j)
        json_object_set_new(
            j, "session",
            json_pack("{s:f, s:f, s:f, s:i, s:i, s:I, s:I}", "speed_10s",
                      s->speed_10s, "fps_in", s->fps_in, "fps_out", s->fps_out,
                      "encode_latency_ms", (int)s->encode_latency_ms,
                      "queue_depth", (int)s->queue_depth, "slow_ms",
                      (json_int_t)(s->lctl.slow_since_ms
                                       ? clock_mono_ms() - s->lctl.slow_since_ms
                                       : 0),
                      "slow_moved_ms_ago",
                      (json_int_t)(s->lctl.moved_ms
                                       ? clock_mono_ms() - s->lctl.moved_ms
                                       : -1)));
    /* While the publisher is away: how long ago it left (the stream ends
     * when reconnect_grace_ms has passed); null while it is there. */
    if (j)
        json_object_set_new(j, "publisher_left_ms",
                            s->left_ms
                                ? json_integer(clock_mono_ms() - s->left_ms)
                                : json_null());
    return j;
}

/* ---------------------------------------------------------------- metrics */

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
        const char *st = worker_state(c, (long)i);
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

static void metrics(coord_t *c, api_req_t *r, const coord_api_loop_t *loop)
{
    text_t t = {malloc(METRICS_START_BYTES), 0, METRICS_START_BYTES, 0};
    if (!t.b) {
        log_error(MOD, "Cannot start the /metrics text.",
                  "call=malloc bytes=%d err=\"%s\"", METRICS_START_BYTES,
                  strerror(ENOMEM));
        return;
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
        reply_raw(r, 200, "text/plain; version=0.0.4", t.b, t.len);
    free(t.b);
}

/* ---------------------------------------------------------------- channels */

static void channels_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        reply_error(r, 503, "db_unavailable",
                    err ? "database query failed" : "database unavailable");
        api_req_free(r);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:i, s:s, s:s, s:s?, s:b}", "id",
                         (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
                         "name", PQgetvalue(res, i, 1), "priority",
                         atoi(PQgetvalue(res, i, 2)), "profile",
                         PQgetvalue(res, i, 3), "created_at",
                         PQgetvalue(res, i, 4), "stream",
                         PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
                         "live", !PQgetisnull(res, i, 5)));
    reply_json(r, 200, a);
    api_req_free(r);
}

static void channel_insert_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    coord_t *c = r->c;
    /* The key was computed before the insert; it travels in r->body. */
    const char *key = json_string_value(json_object_get(r->body, "_key"));
    if (!res) {
        bool dup = err && strstr(err, "duplicate");
        bool fk = err && strstr(err, "foreign key");
        if (dup)
            reply_error(r, 409, "exists", "a channel with this name exists");
        else if (fk)
            reply_error(r, 400, "unknown_profile",
                        "no ladder profile of that name");
        else
            reply_error(r, 503, "db_error",
                        "database unavailable or refused the insert");
    } else {
        rows_event(
            c, "channel.created", NULL, NULL,
            json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", r->name));
        reply_json(r, 201,
                   json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:s}", "id",
                             (json_int_t)r->id, "name", r->name, "priority",
                             r->priority, "profile", r->profile, "created_at",
                             PQgetvalue(res, 0, 0), "stream_key",
                             key ? key : "", "note",
                             "the stream key is shown only once; store it"));
    }
    /* Wipe the key from memory. */
    json_t *k = json_object_get(r->body, "_key");
    if (k) {
        char *s = (char *)json_string_value(k);
        memset(s, 0, strlen(s));
    }
    api_req_free(r);
}

static void channel_id_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    coord_t *c = r->c;
    (void)err;
    if (!res || PQntuples(res) != 1) {
        reply_error(r, 503, "db_unavailable", "database unavailable");
        api_req_free(r);
        return;
    }
    r->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    char key[STREAMKEY_MAX], salt[STREAMKEY_SALT_HEX + 1],
        hash[STREAMKEY_HASH_HEX + 1];
    if (streamkey_new(r->id, key, salt, hash) < 0) {
        reply_error(r, 500, "internal", "could not make a stream key");
        api_req_free(r);
        return;
    }
    json_object_set_new(r->body, "_key", json_string(key));
    memset(key, 0, sizeof(key));
    if (rows_channel_insert(c, r->id, r->name, r->priority, r->profile, salt,
                            hash, channel_insert_cb, r) < 0) {
        reply_error(r, 503, "db_unavailable", "database unavailable");
        api_req_free(r);
    }
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CHANNEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* Returns true when r was handed to a database callback. */
static bool create_channel(coord_t *c, api_req_t *r)
{
    const char *name = json_string_value(json_object_get(r->body, "name"));
    json_t *pj = json_object_get(r->body, "priority");
    const char *prof = json_string_value(json_object_get(r->body, "profile"));
    if (!name || !valid_name(name)) {
        reply_error(r, 400, "bad_request",
                    "body needs \"name\": 1-63 letters, digits, _ - .");
        return false;
    }
    if (pj && (!json_is_integer(pj) || json_integer_value(pj) < 0 ||
               json_integer_value(pj) > CHANNEL_PRIORITY_MAX)) {
        reply_error(r, 400, "bad_request",
                    "\"priority\" must be an integer 0..100");
        return false;
    }
    if (prof && !valid_name(prof)) {
        reply_error(r, 400, "bad_request", "bad \"profile\" name");
        return false;
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->profile, sizeof(r->profile), "%s", prof ? prof : "default");
    r->priority = pj ? (int)json_integer_value(pj) : CHANNEL_PRIORITY_DEFAULT;
    if (rows_channel_next_id(c, channel_id_cb, r) < 0) {
        reply_error(r, 503, "db_unavailable",
                    "database unavailable, try again");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- routing */

static char *frame_str(zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, zmq_msg_data(m), n);
        s[n] = '\0';
    }
    return s;
}

/* Returns true when r is kept for a later answer. */
static bool route(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                  const char *method, const char *url, const char *query)
{
    char id[COORD_ID_MAX + 1] = "";
    char rest[32] = "";
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/metrics") && get) {
        metrics(c, r, loop);
        return false;
    }
    if (!strcmp(url, "/api/workers") && get) {
        json_t *a = json_array();
        for (size_t i = 0; i < farm_worker_count(c); i++)
            json_array_append_new(a, worker_json(c, (long)i));
        reply_json(r, 200, a);
        return false;
    }
    if (!strcmp(url, "/api/streams") && get) {
        json_t *a = json_array();
        for (size_t i = 0; i < farm_stream_slots(c); i++) {
            const coord_stream_t *s = farm_stream_at(c, i);
            if (s)
                json_array_append_new(a, stream_json(c, s));
        }
        reply_json(r, 200, a);
        return false;
    }
    if (!strcmp(url, "/api/webhooks") && get) {
        reply_json(r, 200, webhooks_json(loop->hooks));
        return false;
    }
    if (!strcmp(url, "/api/channels")) {
        if (get) {
            if (rows_channels(c, channels_cb, r) == 0)
                return true;
            reply_error(r, 503, "db_unavailable", "database unavailable");
            return false;
        }
        if (!strcmp(method, "POST"))
            return create_channel(c, r);
    }
    if (sscanf(url, "/api/workers/%64[^/]/%31s", id, rest) >= 1 ||
        sscanf(url, "/api/workers/%64[^/]", id) == 1) {
        long wi;
        if (!farm_find_worker(c, id, &wi)) {
            reply_error(r, 404, "not_found", "no such worker");
            return false;
        }
        if (!rest[0] && get) {
            reply_json(r, 200, worker_json(c, wi));
            return false;
        }
        bool drain = !strcmp(rest, "drain"), undrain = !strcmp(rest, "undrain");
        if ((drain || undrain) && !strcmp(method, "POST")) {
            bool move = !strcmp(query, "move=true") ||
                        !strcmp(query, "move=1") ||
                        json_is_true(json_object_get(r->body, "move"));
            int moved = ops_drain(c, wi, drain, move);
            json_t *j = worker_json(c, wi);
            json_object_set_new(j, "moved", json_integer(moved));
            reply_json(r, 200, j);
            return false;
        }
        reply_error(r, 405, "method_not_allowed",
                    "use GET /api/workers/{id} or POST .../drain|undrain");
        return false;
    }
    if (sscanf(url, "/api/streams/%64[^/]", id) == 1) {
        coord_stream_t *s = farm_find_stream(c, id);
        if (!s) {
            reply_error(r, 404, "not_found", "no such stream");
            return false;
        }
        if (get) {
            reply_json(r, 200, stream_json(c, s));
            return false;
        }
        if (!strcmp(method, "DELETE")) {
            json_t *j = stream_json(c, s);
            ops_stop_stream(c, s, "operator");
            json_object_set_new(j, "state", json_string("ended"));
            reply_json(r, 200, j);
            return false;
        }
        reply_error(r, 405, "method_not_allowed",
                    "use GET or DELETE /api/streams/{id}");
        return false;
    }
    reply_error(r, 404, "not_found", "no such endpoint");
    return false;
}

void coord_api_handle(coord_t *c, const coord_api_loop_t *loop)
{
    for (int round = 0; round < API_BATCH_MAX; round++) {
        zmq_msg_t m[6];
        int nf = 0, more = 1;
        while (more && nf < 6) {
            zmq_msg_init(&m[nf]);
            if (zmq_msg_recv(&m[nf], loop->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m[nf]);
                break;
            }
            more = zmq_msg_more(&m[nf]);
            nf++;
        }
        if (nf == 0)
            return;
        if (nf != 6 || more || zmq_msg_size(&m[1]) != sizeof(uint64_t)) {
            for (int i = 0; i < nf; i++)
                zmq_msg_close(&m[i]);
            continue;
        }
        api_req_t *r = calloc(1, sizeof(*r));
        char *method = frame_str(&m[2]), *url = frame_str(&m[3]),
             *query = frame_str(&m[4]), *body = frame_str(&m[5]);
        if (!r || !method || !url || !query || !body) {
            free(r);
            r = NULL;
        } else {
            r->c = c;
            r->sock = loop->sock;
            zmq_msg_init(&r->rid);
            zmq_msg_copy(&r->rid, &m[0]);
            memcpy(&r->reqid, zmq_msg_data(&m[1]), sizeof(r->reqid));
            if (body[0]) {
                json_error_t je;
                r->body = json_loads(body, 0, &je);
                if (!r->body || !json_is_object(r->body)) {
                    reply_error(r, 400, "bad_json",
                                "the body must be a JSON object");
                    api_req_free(r);
                    r = NULL;
                }
            }
            if (r && !r->body)
                r->body = json_object();
            if (r && !route(c, r, loop, method, url, query))
                api_req_free(r);
        }
        free(method);
        free(url);
        free(query);
        free(body);
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&m[i]);
    }
}
