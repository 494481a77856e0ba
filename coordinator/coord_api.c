/* The operator API: requests from the HTTP thread, routed by a table to
 * their handlers (here: workers, streams, webhooks; coord_api_channels.c:
 * channels and profiles; coord_metrics.c: /metrics), answered on the loop
 * thread. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "coord_api_int.h"
#include "farm.h"
#include "log.h"
#include "ops.h"
#include "rows.h"
#include "webhook.h"

#define MOD "api"

/*
 * Requests answered in one call before the loop goes back to its other
 * sockets and timers. The HTTP thread asks one request at a time, so
 * several wait only when the loop fell behind and the thread gave up on
 * some (coord_http.c waits 5 s); the bound keeps such a backlog from
 * holding up the control socket.
 */
#define API_BATCH_MAX 100

void api_req_free(api_req_t *r)
{
    zmq_msg_close(&r->rid);
    json_decref(r->body);
    free(r);
}

void api_reply_raw(api_req_t *r, int status, const char *ctype,
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

void api_reply_json(api_req_t *r, int status, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (!s) {
        api_reply_raw(r, 500, "application/json",
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
    api_reply_raw(r, status, "application/json", s, n);
    free(s);
}

void api_reply_error(api_req_t *r, int status, const char *code,
                     const char *msg)
{
    api_reply_json(
        r, status,
        json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* ---------------------------------------------------------------- views */

static json_t *worker_json(coord_t *c, long wi)
{
    const coord_worker_t *w = farm_worker(c, wi);
    const placement_worker_t *pw = farm_pworker(c, wi);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:i, s:i, s:o}", "id",
        w->id, "host", w->host, "software", w->software, "state",
        farm_worker_state_name(c, wi), "draining", pw->draining, "overloaded",
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
    if (j) {
        json_object_set_new(j, "failure", failure_json(c, s));
        const char *why = ops_waiting_for(c, s);
        json_object_set_new(j, "waiting_for",
                            why ? json_string(why) : json_null());
    }
    /* The last 10 s of the session as its worker reports it, the load
     * control loop's view (slow since, last moved for being slow), and the
     * session's frames out of order and gap copies. */
    if (j)
        json_object_set_new(
            j, "session",
            json_pack("{s:f, s:f, s:f, s:i, s:i, s:I, s:I, s:I, s:I}",
                      "speed_10s", s->speed_10s, "fps_in", s->fps_in, "fps_out",
                      s->fps_out, "encode_latency_ms",
                      (int)s->encode_latency_ms, "queue_depth",
                      (int)s->queue_depth, "slow_ms",
                      (json_int_t)(s->lctl.slow_since_ms
                                       ? clock_mono_ms() - s->lctl.slow_since_ms
                                       : 0),
                      "slow_moved_ms_ago",
                      (json_int_t)(s->lctl.moved_ms
                                       ? clock_mono_ms() - s->lctl.moved_ms
                                       : -1),
                      "frames_unordered", (json_int_t)s->frames_unordered,
                      "frames_filled", (json_int_t)s->frames_filled));
    /* The ingest's view of the publisher (docs/api.md). */
    json_t *in = rows_source_json(s);
    if (in) {
        json_object_set_new(in, "input_kbps", json_real(s->in_kbps));
        json_object_set_new(in, "input_fps", json_real(s->in_fps));
        json_object_set_new(in, "keyframe_interval_s",
                            json_real(s->in_keyframe_s));
        json_object_set_new(in, "dropped_packets",
                            json_integer((json_int_t)s->in_dropped));
        json_object_set_new(in, "reconnects", json_integer(s->reconnects));
        json_object_set_new(in, "protocol", json_string(s->protocol));
    }
    if (j)
        json_object_set_new(j, "ingest_health", in ? in : json_null());
    char url[1200];
    if (j)
        json_object_set_new(
            j, "master_url",
            farm_playback_url(c, s, "master.m3u8", url, sizeof(url))
                ? json_string(url)
                : json_null());
    if (j)
        json_object_set_new(
            j, "thumbnail_url",
            farm_playback_url(c, s, "thumb.jpg", url, sizeof(url))
                ? json_string(url)
                : json_null());
    /* While the publisher is away: how long ago it left (the stream ends
     * when reconnect_grace_ms has passed); null while it is there. */
    if (j)
        json_object_set_new(j, "publisher_left_ms",
                            s->left_ms
                                ? json_integer(clock_mono_ms() - s->left_ms)
                                : json_null());
    return j;
}

/* ---------------------------------------------------------------- workers */

static bool workers_list(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                         const char *const *params, const char *query)
{
    (void)loop, (void)params, (void)query;
    json_t *a = json_array();
    for (size_t i = 0; i < farm_worker_count(c); i++)
        json_array_append_new(a, worker_json(c, (long)i));
    api_reply_json(r, 200, a);
    return false;
}

/* The worker PARAMS[0] names in *wi; false (answered 404) when none. */
static bool find_worker(coord_t *c, api_req_t *r, const char *const *params,
                        long *wi)
{
    if (farm_find_worker(c, params[0], wi))
        return true;
    api_reply_error(r, 404, "not_found", "no such worker");
    return false;
}

static bool worker_get(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                       const char *const *params, const char *query)
{
    (void)loop, (void)query;
    long wi;
    if (find_worker(c, r, params, &wi))
        api_reply_json(r, 200, worker_json(c, wi));
    return false;
}

static bool worker_drain(coord_t *c, api_req_t *r, bool drain,
                         const char *const *params, const char *query)
{
    long wi;
    if (!find_worker(c, r, params, &wi))
        return false;
    bool move = !strcmp(query, "move=true") || !strcmp(query, "move=1") ||
                json_is_true(json_object_get(r->body, "move"));
    int moved = ops_drain(c, wi, drain, move);
    json_t *j = worker_json(c, wi);
    json_object_set_new(j, "moved", json_integer(moved));
    api_reply_json(r, 200, j);
    return false;
}

static bool worker_drain_on(coord_t *c, api_req_t *r,
                            const coord_api_loop_t *loop,
                            const char *const *params, const char *query)
{
    (void)loop;
    return worker_drain(c, r, true, params, query);
}

static bool worker_drain_off(coord_t *c, api_req_t *r,
                             const coord_api_loop_t *loop,
                             const char *const *params, const char *query)
{
    (void)loop;
    return worker_drain(c, r, false, params, query);
}

/* ---------------------------------------------------------------- streams */

static bool streams_list(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                         const char *const *params, const char *query)
{
    (void)loop, (void)params, (void)query;
    json_t *a = json_array();
    for (size_t i = 0; i < farm_stream_slots(c); i++) {
        const coord_stream_t *s = farm_stream_at(c, i);
        if (s)
            json_array_append_new(a, stream_json(c, s));
    }
    api_reply_json(r, 200, a);
    return false;
}

static bool stream_get(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                       const char *const *params, const char *query)
{
    (void)loop, (void)query;
    const coord_stream_t *s = farm_find_stream(c, params[0]);
    if (s)
        api_reply_json(r, 200, stream_json(c, s));
    else
        api_reply_error(r, 404, "not_found", "no such stream");
    return false;
}

static bool stream_stop(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                        const char *const *params, const char *query)
{
    (void)loop, (void)query;
    coord_stream_t *s = farm_find_stream(c, params[0]);
    if (!s) {
        api_reply_error(r, 404, "not_found", "no such stream");
        return false;
    }
    json_t *j = stream_json(c, s);
    ops_stop_stream(c, s, "operator");
    json_object_set_new(j, "state", json_string("ended"));
    api_reply_json(r, 200, j);
    return false;
}

static bool webhooks_list(coord_t *c, api_req_t *r,
                          const coord_api_loop_t *loop,
                          const char *const *params, const char *query)
{
    (void)c, (void)params, (void)query;
    api_reply_json(r, 200, webhooks_json(loop->hooks));
    return false;
}

static bool whoami(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                   const char *const *params, const char *query)
{
    (void)c, (void)loop, (void)params, (void)query;
    api_reply_json(r, 200, json_pack("{s:s}", "role", r->role));
    return false;
}

/* ---------------------------------------------------------------- events */

/* The value of query argument KEY in BUF (at most LEN - 1 bytes), or NULL
 * when the query has none. */
static const char *query_arg(const char *query, const char *key, char *buf,
                             size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;
         p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, kl) || p[kl] != '=')
            continue;
        size_t n = strcspn(p + kl + 1, "&");
        if (n >= len)
            n = len - 1;
        memcpy(buf, p + kl + 1, n);
        buf[n] = '\0';
        return buf;
    }
    return NULL;
}

static bool uuid_text(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23
                ? s[i] != '-'
                : !isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static void events_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        api_reply_error(r, 503, "db_unavailable",
                        err ? "database query failed" : "database unavailable");
        api_req_free(r);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *detail = json_loads(PQgetvalue(res, i, 6), 0, NULL);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "id",
                         (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
                         "at", PQgetvalue(res, i, 1), "kind",
                         PQgetvalue(res, i, 2), "stream_id",
                         PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
                         "worker_id",
                         PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
                         "coordinator",
                         PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5),
                         "detail", detail ? detail : json_object()));
    }
    api_reply_json(r, 200, a);
    api_req_free(r);
}

/* GET /api/events?stream=ID&worker=ID&kind=PREFIX&limit=N (N <= 500,
 * default 100): newest first. */
static bool events_list(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                        const char *const *params, const char *query)
{
    (void)loop, (void)params;
    char sb[64], wb[COORD_ID_MAX + 1], kb[64], lb[16];
    const char *stream = query_arg(query, "stream", sb, sizeof(sb));
    const char *worker = query_arg(query, "worker", wb, sizeof(wb));
    const char *kind = query_arg(query, "kind", kb, sizeof(kb));
    const char *lim = query_arg(query, "limit", lb, sizeof(lb));
    int limit = lim ? atoi(lim) : 100;
    if ((stream && !uuid_text(stream)) || limit < 1 || limit > 500) {
        api_reply_error(r, 400, "bad_request",
                        "stream is a stream id, limit 1..500");
        return false;
    }
    if (rows_events(c, stream, worker && worker[0] ? worker : NULL,
                    kind && kind[0] ? kind : NULL, limit, events_cb, r) == 0)
        return true;
    api_reply_error(r, 503, "db_unavailable", "database unavailable");
    return false;
}

/* ---------------------------------------------------------------- routing */

/* Every route, as docs/openapi.json lists them (test_coord_api checks the
 * two agree); {x} matches one path segment. HEAD is answered as GET. */
static const struct {
    const char *method, *path;
    api_handler_t fn;
} routes[] = {
    {"GET", "/metrics", coord_api_metrics},
    {"GET", "/api/workers", workers_list},
    {"GET", "/api/workers/{id}", worker_get},
    {"POST", "/api/workers/{id}/drain", worker_drain_on},
    {"POST", "/api/workers/{id}/undrain", worker_drain_off},
    {"GET", "/api/streams", streams_list},
    {"GET", "/api/streams/{id}", stream_get},
    {"DELETE", "/api/streams/{id}", stream_stop},
    {"GET", "/api/channels", coord_api_channels_list},
    {"POST", "/api/channels", coord_api_channel_create},
    {"GET", "/api/channels/{name}", coord_api_channel_get},
    {"PATCH", "/api/channels/{name}", coord_api_channel_patch},
    {"DELETE", "/api/channels/{name}", coord_api_channel_delete},
    {"POST", "/api/channels/{name}/key", coord_api_channel_key},
    {"GET", "/api/profiles", coord_api_profiles_list},
    {"GET", "/api/profiles/{name}", coord_api_profile_get},
    {"PUT", "/api/profiles/{name}", coord_api_profile_put},
    {"DELETE", "/api/profiles/{name}", coord_api_profile_delete},
    {"GET", "/api/webhooks", webhooks_list},
    {"GET", "/api/events", events_list},
    {"GET", "/api/whoami", whoami},
};
#define NROUTES    (sizeof(routes) / sizeof(routes[0]))
#define PARAMS_MAX 2

size_t coord_api_route_count(void)
{
    return NROUTES;
}

void coord_api_route(size_t i, const char **method, const char **path)
{
    *method = routes[i].method;
    *path = routes[i].path;
}

/*
 * Whether URL matches PATTERN segment by segment; each {x} segment of the
 * pattern takes one non-empty segment of the url (at most COORD_ID_MAX
 * bytes) into params (PARAMS_MAX of BUF's slots).
 */
static bool path_match(const char *pattern, const char *url,
                       char buf[PARAMS_MAX][COORD_ID_MAX + 1], int *nparams)
{
    *nparams = 0;
    const char *p = pattern, *u = url;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return false;
        p++, u++;
        size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
        if (p[0] == '{') {
            if (ul == 0 || ul > COORD_ID_MAX || *nparams >= PARAMS_MAX)
                return false;
            memcpy(buf[*nparams], u, ul);
            buf[(*nparams)++][ul] = '\0';
        } else if (pl != ul || strncmp(p, u, pl) != 0) {
            return false;
        }
        p += pl, u += ul;
    }
    return !*p && !*u;
}

/* Returns true when r is kept for a later answer. */
static bool route(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                  const char *method, const char *url, const char *query)
{
    char buf[PARAMS_MAX][COORD_ID_MAX + 1];
    const char *params[PARAMS_MAX] = {buf[0], buf[1]};
    const char *m = strcmp(method, "HEAD") ? method : "GET";
    char allowed[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        int n;
        if (!path_match(routes[i].path, url, buf, &n))
            continue;
        if (!strcmp(routes[i].method, m))
            return routes[i].fn(c, r, loop, params, query);
        size_t len = strlen(allowed);
        snprintf(allowed + len, sizeof(allowed) - len, "%s%s", len ? ", " : "",
                 routes[i].method);
    }
    if (allowed[0]) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s is not allowed here; use %s", method,
                 allowed);
        api_reply_error(r, 405, "method_not_allowed", msg);
    } else {
        api_reply_error(r, 404, "not_found", "no such endpoint");
    }
    return false;
}

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

void coord_api_handle(coord_t *c, const coord_api_loop_t *loop)
{
    for (int round = 0; round < API_BATCH_MAX; round++) {
        zmq_msg_t m[7];
        int nf = 0, more = 1;
        while (more && nf < 7) {
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
        if (nf != 7 || more || zmq_msg_size(&m[1]) != sizeof(uint64_t)) {
            for (int i = 0; i < nf; i++)
                zmq_msg_close(&m[i]);
            continue;
        }
        api_req_t *r = calloc(1, sizeof(*r));
        char *method = frame_str(&m[2]), *url = frame_str(&m[3]),
             *query = frame_str(&m[4]), *role = frame_str(&m[5]),
             *body = frame_str(&m[6]);
        if (!r || !method || !url || !query || !role || !body) {
            free(r);
            r = NULL;
        } else {
            r->c = c;
            r->sock = loop->sock;
            snprintf(r->role, sizeof(r->role), "%s", role);
            zmq_msg_init(&r->rid);
            zmq_msg_copy(&r->rid, &m[0]);
            memcpy(&r->reqid, zmq_msg_data(&m[1]), sizeof(r->reqid));
            if (body[0]) {
                json_error_t je;
                r->body = json_loads(body, 0, &je);
                if (!r->body || !json_is_object(r->body)) {
                    api_reply_error(r, 400, "bad_json",
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
        free(role);
        free(body);
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&m[i]);
    }
}
