/* prism-origin's HTTP server: uploads in, LL-HLS answers out. */
#include "origin_http.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "log.h"
#include "netaddr.h"
#include "origin_metrics.h"
#include "origin_playlist.h"
#include "origin_reports.h"
#include "origin_skip.h"
#include "origin_spill.h"
#include "origin_store.h"

/*
 * How this works: libmicrohttpd runs each connection on its own thread
 * (MHD_USE_THREAD_PER_CONNECTION), bounded by max_connections. The store
 * and a "stopping" flag sit behind one mutex; every PUT and DELETE
 * broadcasts one condition variable. A request that must wait (a blocking
 * playlist reload, a preload-hinted part not there yet) sleeps on that
 * condition on its connection's thread, with a deadline (CLOCK_MONOTONIC),
 * re-checking the store each time it wakes: so it is answered within a
 * scheduling delay of the PUT that satisfies it, and never later than its
 * deadline. Answers send the stored bytes by reference (origin_blob_t), so
 * nothing is copied under the lock and a replaced file stays valid while
 * it is being sent.
 */

#define MOD        "origin"
#define IMMUTABLE  "public, max-age=31536000, immutable"
#define NO_CACHE   "no-cache"
#define SHORT      "public, max-age=1"
#define EXPOSE     "ETag, Age, Content-Length, Date"
#define ALLOW      "GET, HEAD, OPTIONS, PUT, DELETE"
#define CORS_ALLOW "GET, HEAD, OPTIONS"
#define CORS_HDRS  "Range, If-None-Match, If-Modified-Since, Cache-Control"

struct origin_http {
    struct MHD_Daemon *d;
    origin_config_t cfg;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;         /* under mu */
    origin_store_t *store; /* under mu */
    origin_metrics_t m;
};

typedef struct {
    bool started;
    origin_method_t method;
    char *body;
    size_t len, cap;
    bool too_big;
} req_t;

/* What one answer carries. The body is a blob (taken), a malloc'd text
 * (taken) or a static text. */
typedef struct {
    unsigned status;
    const char *ctype;
    const char *cache;
    char etag[24];
    origin_blob_t *blob;
    char *owned;
    const char *text;
    size_t len;
} answer_t;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps on h->cv (mu held) until woken or until deadline_ms. */
static void wait_until(origin_http_t *h, int64_t deadline_ms)
{
    struct timespec ts = {(time_t)(deadline_ms / 1000),
                          (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&h->cv, &h->mu, &ts);
}

static void free_blob_data(void *data)
{
    origin_blob_t *b = origin_blob_of_data(data);
    origin_blob_unref(&b);
}

/* Whether the If-None-Match header names etag (or is "*"). */
static bool etag_matches(struct MHD_Connection *conn, const char *etag)
{
    const char *inm =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    if (!inm || !etag[0])
        return false;
    if (!strcmp(inm, "*"))
        return true;
    /* A list of tags, weak ones ("W/...") compared weakly. */
    return strstr(inm, etag) != NULL;
}

static void cors(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", EXPOSE);
}

/* Queues a, releasing what it holds, and counts it. */
static enum MHD_Result send_answer(origin_http_t *h,
                                   struct MHD_Connection *conn, req_t *req,
                                   answer_t *a)
{
    struct MHD_Response *r = NULL;
    if (a->status == 200 && etag_matches(conn, a->etag)) {
        a->status = 304;
        origin_blob_unref(&a->blob);
        free(a->owned);
        a->owned = NULL;
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else if (a->blob) {
        r = MHD_create_response_from_buffer_with_free_callback(
            a->blob->len, a->blob->data, free_blob_data);
        if (r)
            a->blob = NULL; /* the response owns the reference now */
    } else if (a->owned) {
        r = MHD_create_response_from_buffer(a->len, a->owned,
                                            MHD_RESPMEM_MUST_FREE);
        if (r)
            a->owned = NULL;
    } else {
        const char *t = a->text ? a->text : "";
        r = MHD_create_response_from_buffer(strlen(t), (void *)t,
                                            MHD_RESPMEM_PERSISTENT);
    }
    origin_blob_unref(&a->blob);
    free(a->owned);
    if (!r)
        return MHD_NO;
    if (a->status != 304 && a->ctype)
        MHD_add_response_header(r, "Content-Type", a->ctype);
    MHD_add_response_header(r, "Cache-Control", a->cache ? a->cache : NO_CACHE);
    if (a->etag[0])
        MHD_add_response_header(r, "ETag", a->etag);
    cors(r);
    if (a->status == 405)
        MHD_add_response_header(r, "Allow", ALLOW);
    if (a->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, a->status, r);
    MHD_destroy_response(r);
    origin_metrics_request(&h->m, req->method, a->status);
    return ret;
}

static enum MHD_Result send_text(origin_http_t *h, struct MHD_Connection *conn,
                                 req_t *req, unsigned status, const char *text)
{
    answer_t a = {.status = status,
                  .ctype = "text/plain; charset=utf-8",
                  .cache = NO_CACHE,
                  .text = text};
    return send_answer(h, conn, req, &a);
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr)
        netaddr_str(ci->client_addr, out, len);
    else
        snprintf(out, len, "?");
}

/* Logs and counts a refused upload, then answers it. */
static enum MHD_Result refuse(origin_http_t *h, struct MHD_Connection *conn,
                              req_t *req, const char *method, const char *url,
                              unsigned status, origin_reject_t why,
                              const char *text)
{
    char peer[128];
    peer_of(conn, peer, sizeof(peer));
    log_warn(MOD, "Upload refused.",
             "method=%s path=\"%.200s\" peer=%s status=%u why=\"%.*s\"", method,
             url, peer, status, (int)strcspn(text, "\n"), text);
    origin_metrics_add(&h->m.rejected[why], 1);
    return send_text(h, conn, req, status, text);
}

/* Equal strings, in time that depends on b's length only. */
static bool ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < lb; i++)
        d |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return d == 0;
}

static bool authorized(origin_http_t *h, struct MHD_Connection *conn)
{
    if (!h->cfg.upload_token[0])
        return true;
    const char *a =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return false;
    return ct_equal(a + 7, h->cfg.upload_token);
}

/* An absolute path without empty, "." or ".." segments or odd bytes. */
static bool path_ok(const char *url)
{
    size_t n = strlen(url);
    if (n < 2 || n > 1000 || url[0] != '/' || url[n - 1] == '/')
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '\\')
            return false;
    return !strstr(url, "//") && !strstr(url, "/./") && !strstr(url, "/../") &&
           !(n >= 2 && !strcmp(url + n - 2, "/.")) &&
           !(n >= 3 && !strcmp(url + n - 3, "/.."));
}

static const char *arg(struct MHD_Connection *conn, const char *key)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* The outcome of holding a blocking playlist request. */
typedef enum { HOLD_READY, HOLD_GONE, HOLD_TIMEOUT } hold_t;

/*
 * Holds (mu held) until the playlist at url answers q, goes, or the hold
 * ends. *bp and *p follow the latest version.
 */
static hold_t hold_playlist(origin_http_t *h, const char *url,
                            const origin_query_t *q, origin_blob_t **bp,
                            origin_playlist_t *p)
{
    if (origin_playlist_ready(p, q->msn, q->part)) {
        origin_metrics_add(&h->m.block_immediate, 1);
        return HOLD_READY;
    }
    int64_t deadline =
        mono_ms() + origin_playlist_hold_ms(p, h->cfg.hold_limit_ms);
    hold_t out = HOLD_READY;
    origin_metrics_gauge(&h->m.blocked_now, 1);
    for (;;) {
        if (h->stopping || mono_ms() >= deadline) {
            out = HOLD_TIMEOUT;
            break;
        }
        wait_until(h, deadline);
        *bp = origin_store_get(h->store, url, NULL);
        if (!*bp) {
            out = HOLD_GONE;
            break;
        }
        /* A version that does not parse is answered as it is. */
        if (origin_playlist_parse((char *)(*bp)->data, (*bp)->len, p) < 0 ||
            origin_playlist_ready(p, q->msn, q->part))
            break;
    }
    origin_metrics_gauge(&h->m.blocked_now, -1);
    origin_metrics_add(
        out == HOLD_READY ? &h->m.block_answered : &h->m.block_timeouts, 1);
    return out;
}

/* The report of the playlist stored at path, noted when it was put (mu
 * held). */
static bool report_lookup(void *ctx, const char *path, origin_report_t *out)
{
    origin_http_t *h = ctx;
    return origin_store_report(h->store, path, out);
}

/* A GET or HEAD of a playlist: blocking reload, rendition reports as they
 * are now, and delta updates. */
static enum MHD_Result get_playlist(origin_http_t *h,
                                    struct MHD_Connection *conn, req_t *req,
                                    const char *url)
{
    const char *smsn = arg(conn, "_HLS_msn"), *spart = arg(conn, "_HLS_part"),
               *sskip = arg(conn, "_HLS_skip");
    origin_query_t q;
    int qrc = origin_query_parse(smsn, spart, sskip, &q);
    answer_t a = {.status = 200, .ctype = origin_content_type(url)};
    pthread_mutex_lock(&h->mu);
    origin_blob_t *b = origin_store_get(h->store, url, NULL);
    if (!b) {
        pthread_mutex_unlock(&h->mu);
        return send_text(h, conn, req, 404, "not found\n");
    }
    origin_playlist_t p;
    bool ll = origin_playlist_parse((char *)b->data, b->len, &p) == 0;
    bool blocking = ll && p.can_block_reload && (smsn || spart);
    if (qrc < 0 && ll && (p.can_block_reload || (sskip && p.can_skip_until))) {
        pthread_mutex_unlock(&h->mu);
        return send_text(h, conn, req, 400, "bad _HLS_ query\n");
    }
    if (blocking && origin_playlist_too_far(&p, q.msn, q.part)) {
        pthread_mutex_unlock(&h->mu);
        return send_text(h, conn, req, 400,
                         "_HLS_msn/_HLS_part too far ahead\n");
    }
    if (blocking) {
        hold_t hr = hold_playlist(h, url, &q, &b, &p);
        if (hr != HOLD_READY) {
            pthread_mutex_unlock(&h->mu);
            return hr == HOLD_GONE
                       ? send_text(h, conn, req, 404, "not found\n")
                       : send_text(h, conn, req, 503,
                                   "the playlist did not reach the requested "
                                   "segment or part in time\n");
        }
    }
    /* The reports name the other renditions as they are now. */
    if (!ll || p.part_target <= 0 ||
        origin_reports_rewrite(url, (char *)b->data, b->len, report_lookup, h,
                               &a.owned, &a.len) < 0 ||
        !a.owned) {
        a.owned = NULL;
        a.blob = origin_blob_ref(b);
        a.len = b->len;
    }
    pthread_mutex_unlock(&h->mu);
    const char *text = a.owned ? a.owned : (char *)a.blob->data;
    char *delta = NULL;
    size_t dlen;
    int skipped = 0;
    if (ll && q.skip && p.can_skip_until > 0 && qrc == 0 &&
        origin_skip_rewrite(text, a.len, q.skip == 2, &delta, &dlen,
                            &skipped) == 0 &&
        delta) {
        origin_blob_unref(&a.blob);
        free(a.owned);
        a.owned = delta;
        a.len = dlen;
        origin_metrics_add(&h->m.delta_answers, 1);
    }
    if (a.owned)
        origin_etag(a.owned, a.len, a.etag);
    else
        snprintf(a.etag, sizeof(a.etag), "%s", a.blob->etag);
    char cache[64] = NO_CACHE;
    int64_t age = (int64_t)(p.target_duration * h->cfg.blocked_max_age_tds);
    if (blocking && age > 0)
        snprintf(cache, sizeof(cache), "public, max-age=%" PRId64, age);
    a.cache = cache;
    return send_answer(h, conn, req, &a);
}

/* A GET or HEAD of a file the store spilled to disk. */
static enum MHD_Result get_spilled(origin_http_t *h,
                                   struct MHD_Connection *conn, req_t *req,
                                   const char *url, uint64_t id, size_t len)
{
    int err;
    answer_t a = {.status = 200, .ctype = origin_content_type(url)};
    if (!(a.blob = origin_spill_read(h->cfg.spill_dir, id, len, &err))) {
        if (err == -ENOENT) /* deleted or dropped since it was looked up */
            return send_text(h, conn, req, 404, "not found\n");
        origin_metrics_add(&h->m.spill_read_failures, 1);
        log_error(MOD, "Reading a spilled file failed.",
                  "path=\"%.200s\" dir=\"%s\" err=\"%s\"", url,
                  h->cfg.spill_dir, strerror(-err));
        return send_text(h, conn, req, 500, "the spilled file is unreadable\n");
    }
    origin_metrics_add(&h->m.spill_reads, 1);
    snprintf(a.etag, sizeof(a.etag), "%s", a.blob->etag);
    a.cache = origin_path_is_immutable(url) ? IMMUTABLE : SHORT;
    return send_answer(h, conn, req, &a);
}

/* A GET or HEAD of any other file; a preload-hinted one is waited for. */
static enum MHD_Result get_file(origin_http_t *h, struct MHD_Connection *conn,
                                req_t *req, const char *url)
{
    answer_t a = {.status = 200, .ctype = origin_content_type(url)};
    pthread_mutex_lock(&h->mu);
    origin_blob_t *b = origin_store_get(h->store, url, NULL);
    int64_t hold_ms;
    uint64_t id;
    size_t len;
    if (!b && origin_store_on_disk(h->store, url, &id, &len)) {
        pthread_mutex_unlock(&h->mu);
        return get_spilled(h, conn, req, url, id, len);
    }
    if (!b && origin_store_hinted(h->store, url, &hold_ms)) {
        if (hold_ms > h->cfg.hold_limit_ms || hold_ms <= 0)
            hold_ms = h->cfg.hold_limit_ms;
        int64_t deadline = mono_ms() + hold_ms;
        atomic_uint_fast64_t *outcome = &h->m.hint_timeouts;
        origin_metrics_gauge(&h->m.hint_held_now, 1);
        while (!h->stopping && mono_ms() < deadline) {
            wait_until(h, deadline);
            if ((b = origin_store_get(h->store, url, NULL))) {
                outcome = &h->m.hint_answered;
                break;
            }
            if (!origin_store_hinted(h->store, url, NULL)) {
                outcome = &h->m.hint_gone; /* a take-over skipped it */
                break;
            }
        }
        origin_metrics_gauge(&h->m.hint_held_now, -1);
        origin_metrics_add(outcome, 1);
    }
    if (!b) {
        pthread_mutex_unlock(&h->mu);
        return send_text(h, conn, req, 404, "not found\n");
    }
    a.blob = origin_blob_ref(b);
    pthread_mutex_unlock(&h->mu);
    snprintf(a.etag, sizeof(a.etag), "%s", a.blob->etag);
    a.cache = origin_path_is_immutable(url) ? IMMUTABLE : SHORT;
    return send_answer(h, conn, req, &a);
}

static enum MHD_Result put_file(origin_http_t *h, struct MHD_Connection *conn,
                                req_t *req, const char *url)
{
    char hint[1024] = "";
    int64_t hold_ms = 0;
    bool media_playlist = false;
    origin_playlist_t p;
    if (origin_path_is_playlist(url)) {
        media_playlist = origin_playlist_parse(req->body ? req->body : "",
                                               req->len, &p) == 0;
        if (media_playlist && p.preload_hint[0] &&
            origin_resolve_uri(url, p.preload_hint, hint, sizeof(hint)) < 0)
            hint[0] = '\0';
        hold_ms = origin_playlist_hold_ms(&p, h->cfg.hold_limit_ms);
    }
    origin_blob_t *b = origin_blob_new(req->body, req->len);
    free(req->body);
    req->body = NULL;
    if (!b)
        return send_text(h, conn, req, 500, "out of memory\n");
    size_t len = b->len;
    pthread_mutex_lock(&h->mu);
    int rc = origin_store_put(h->store, url, b, wall_ms(), hint, hold_ms);
    if (rc >= 0 && media_playlist) /* for the other renditions' reports */
        origin_store_set_report(h->store, url, origin_report_of(&p));
    pthread_cond_broadcast(&h->cv);
    origin_spill_run(h->store, &h->mu, h->cfg.spill_dir);
    pthread_mutex_unlock(&h->mu);
    if (rc == -EFBIG)
        return refuse(h, conn, req, "PUT", url, 413, ORIGIN_REJ_TOO_LARGE,
                      "body larger than the store (max_bytes)\n");
    if (rc < 0) {
        log_error(MOD, "Storing an upload failed.", "path=\"%.200s\" err=%d",
                  url, rc);
        return send_text(h, conn, req, 500, "out of memory\n");
    }
    origin_metrics_add(&h->m.put_bytes, len);
    log_debug(MOD, "Stored.", "path=\"%.200s\" bytes=%zu", url, len);
    return send_text(h, conn, req, rc == 0 ? 201 : 204, rc == 0 ? "" : NULL);
}

static enum MHD_Result delete_file(origin_http_t *h,
                                   struct MHD_Connection *conn, req_t *req,
                                   const char *url)
{
    pthread_mutex_lock(&h->mu);
    int rc = origin_store_delete(h->store, url);
    pthread_cond_broadcast(&h->cv);
    origin_spill_run(h->store, &h->mu, h->cfg.spill_dir);
    pthread_mutex_unlock(&h->mu);
    return send_text(h, conn, req, rc == 0 ? 204 : 404,
                     rc == 0 ? NULL : "not found\n");
}

static enum MHD_Result options(origin_http_t *h, struct MHD_Connection *conn,
                               req_t *req)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    cors(r);
    MHD_add_response_header(r, "Access-Control-Allow-Methods", CORS_ALLOW);
    MHD_add_response_header(r, "Access-Control-Allow-Headers", CORS_HDRS);
    MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
    MHD_add_response_header(r, "Allow", ALLOW);
    enum MHD_Result ret = MHD_queue_response(conn, 204, r);
    MHD_destroy_response(r);
    origin_metrics_request(&h->m, req->method, 204);
    return ret;
}

static enum MHD_Result metrics(origin_http_t *h, struct MHD_Connection *conn,
                               req_t *req)
{
    origin_store_stats_t st;
    pthread_mutex_lock(&h->mu);
    origin_store_stats(h->store, &st);
    pthread_mutex_unlock(&h->mu);
    answer_t a = {.status = 200,
                  .ctype = "text/plain; version=0.0.4; charset=utf-8",
                  .cache = "no-store"};
    a.owned = origin_metrics_render(&h->m, &st, &a.len);
    if (!a.owned)
        return send_text(h, conn, req, 500, "out of memory\n");
    return send_answer(h, conn, req, &a);
}

/* The first call, headers only: uploads are checked before their body. */
static enum MHD_Result first_call(origin_http_t *h, struct MHD_Connection *conn,
                                  req_t *req, const char *url,
                                  const char *method)
{
    req->started = true;
    req->method = origin_method_of(method);
    if (req->method != ORIGIN_M_PUT && req->method != ORIGIN_M_DELETE)
        return MHD_YES;
    if (!path_ok(url) || !strcmp(url, "/healthz") || !strcmp(url, "/metrics"))
        return refuse(h, conn, req, method, url, 400, ORIGIN_REJ_BAD_PATH,
                      "bad path\n");
    if (!authorized(h, conn))
        return refuse(h, conn, req, method, url, 401, ORIGIN_REJ_UNAUTHORIZED,
                      "this needs Authorization: Bearer <upload token>\n");
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (req->method == ORIGIN_M_PUT && cl &&
        strtoull(cl, NULL, 10) > (unsigned long long)h->cfg.max_put_bytes)
        return refuse(h, conn, req, method, url, 413, ORIGIN_REJ_TOO_LARGE,
                      "body over max_put_bytes\n");
    return MHD_YES;
}

/* Appends one piece of a PUT body; a body over the limit is dropped. */
static enum MHD_Result take_body(origin_http_t *h, req_t *req, const char *data,
                                 size_t n)
{
    if (req->too_big || req->len + n > (size_t)h->cfg.max_put_bytes) {
        req->too_big = true;
        free(req->body);
        req->body = NULL;
        return MHD_YES;
    }
    if (req->len + n > req->cap) {
        size_t cap = req->cap ? req->cap : 65536;
        while (cap < req->len + n)
            cap *= 2;
        char *p = realloc(req->body, cap + 1); /* + NUL: parsed as text */
        if (!p)
            return MHD_NO;
        req->body = p;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    origin_http_t *h = cls;
    (void)version;
    req_t *req = *con_cls;
    if (!req) {
        if (!(req = calloc(1, sizeof(*req))))
            return MHD_NO;
        *con_cls = req;
        return first_call(h, conn, req, url, method);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return req->method == ORIGIN_M_PUT ? take_body(h, req, upload, n)
                                           : MHD_YES;
    }
    switch (req->method) {
    case ORIGIN_M_GET:
    case ORIGIN_M_HEAD:
        if (!strcmp(url, "/healthz"))
            return send_text(h, conn, req, 200, "ok\n");
        if (!strcmp(url, "/metrics"))
            return metrics(h, conn, req);
        if (!path_ok(url))
            return send_text(h, conn, req, 404, "not found\n");
        return origin_path_is_playlist(url) ? get_playlist(h, conn, req, url)
                                            : get_file(h, conn, req, url);
    case ORIGIN_M_PUT:
        if (req->too_big)
            return refuse(h, conn, req, method, url, 413, ORIGIN_REJ_TOO_LARGE,
                          "body over max_put_bytes\n");
        return put_file(h, conn, req, url);
    case ORIGIN_M_DELETE:
        return delete_file(h, conn, req, url);
    case ORIGIN_M_OPTIONS:
        return options(h, conn, req);
    default:
        return send_text(h, conn, req, 405, "method not allowed\n");
    }
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_t *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

origin_http_t *origin_http_start(const origin_config_t *cfg)
{
    origin_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->cfg = *cfg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    h->store = origin_store_new((uint64_t)cfg->max_bytes);
    if (!h->store)
        goto err;
    char err[768];
    if (cfg->spill_dir[0]) {
        if (origin_spill_open(cfg->spill_dir, err, sizeof(err)) < 0) {
            log_error(MOD, "The spill directory is unusable.", "why=\"%s\"",
                      err);
            goto err;
        }
        origin_store_set_spill(h->store, (uint64_t)cfg->spill_max_bytes);
    }
    struct sockaddr_storage sa;
    socklen_t salen;
    if (netaddr_resolve(cfg->listen, SOCK_STREAM, &sa, &salen, err,
                        sizeof(err)) < 0) {
        log_error(MOD, "Bad listen address.", "listen=%s why=\"%s\"",
                  cfg->listen, err);
        goto err;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* A held request is silent for up to hold_limit_ms: the idle timeout
     * starts after that. */
    unsigned timeout =
        (unsigned)(cfg->idle_timeout_s + (cfg->hold_limit_ms + 999) / 1000);
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_conns_per_addr, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)cfg->thread_stack_kib * 1024, MHD_OPTION_END);
    if (!h->d) {
        log_error(MOD, "MHD_start_daemon failed.", "listen=%s", cfg->listen);
        goto err;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : netaddr_port((struct sockaddr *)&sa);
    log_info(MOD, "Origin listening.",
             "listen=%s port=%d max_bytes=%" PRId64 " max_connections=%" PRId64
             " uploads=%s spill_dir=\"%s\" spill_max_bytes=%" PRId64,
             cfg->listen, h->port, cfg->max_bytes, cfg->max_connections,
             cfg->upload_token[0] ? "token" : "open", cfg->spill_dir,
             cfg->spill_dir[0] ? cfg->spill_max_bytes : 0);
    if (!cfg->upload_token[0])
        log_warn(MOD,
                 "No upload token: anyone who reaches the port can PUT "
                 "and DELETE.",
                 NULL);
    return h;
err:
    origin_store_free(&h->store);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
}

int origin_http_port(const origin_http_t *h)
{
    return h->port;
}

void origin_http_stop(origin_http_t **hp)
{
    origin_http_t *h = *hp;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    origin_store_free(&h->store);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    memset(h->cfg.upload_token, 0, sizeof(h->cfg.upload_token));
    free(h);
    *hp = NULL;
}
