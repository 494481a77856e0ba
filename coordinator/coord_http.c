/* The HTTP API thread: libmicrohttpd in, the loop's inproc socket out. */
#include "coord_http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <zmq.h>

#include "console_files.h"
#include "log.h"
#include "netaddr.h"
#include "streamkey.h"
#include "zsock.h"

#define MOD          "http"
#define BODY_MAX     (64 * 1024)
#define LOOP_WAIT_MS 5000

struct coord_http {
    struct MHD_Daemon *d;
    char token[256];      /* admin: every call */
    char read_token[256]; /* viewer: GETs only; "" = GETs are open */
    char endpoint[128];
    void *sock; /* DEALER; created and used on the MHD thread only */
    uint64_t next_id;
};

typedef struct {
    char *body;
    size_t len;
    bool too_big;
} req_t;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *ctype, const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error(struct MHD_Connection *conn, unsigned status,
                             const char *code, const char *msg)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code,
                     msg);
    return respond(conn, status, "application/json", buf, (size_t)n);
}

/* Whether the request's "Authorization: Bearer T" carries TOKEN (never
 * for an empty one), compared in constant time. */
static bool bearer_is(struct MHD_Connection *conn, const char *token)
{
    const char *a =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t tl = strlen(token);
    if (!a || tl == 0 || strncmp(a, "Bearer ", 7) != 0)
        return false;
    a += 7;
    if (strlen(a) != tl)
        return false;
    return streamkey_equal(a, token, tl);
}

/* "admin" (api_token), "viewer" (api_read_token) or "anonymous". */
static const char *role_of(coord_http_t *h, struct MHD_Connection *conn)
{
    if (bearer_is(conn, h->token))
        return "admin";
    if (bearer_is(conn, h->read_token))
        return "viewer";
    return "anonymous";
}

/* A console file built into the binary (console_files.h), or NULL. */
static const console_file_t *console_file(const char *url)
{
    for (const console_file_t *f = console_files; f->url; f++)
        if (!strcmp(f->url, url))
            return f;
    return NULL;
}

typedef struct {
    char *q;
    size_t len, cap;
} query_t;

/* Appends one query argument, "k=v" joined with '&' (values decoded by
 * libmicrohttpd; the handlers take names and ids). */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    (void)kind;
    query_t *q = cls;
    int n = snprintf(q->q + q->len, q->cap - q->len, "%s%s=%s",
                     q->len ? "&" : "", key, value ? value : "");
    if (n > 0 && (size_t)n < q->cap - q->len)
        q->len += (size_t)n;
    else
        q->q[q->len] = '\0'; /* too long: the rest is left out */
    return MHD_YES;
}

static int send_frame(void *s, const void *p, size_t n, int more)
{
    return zmq_send(s, p, n, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Asks the loop; fills status, ctype and a malloc'd body. */
static int ask_loop(coord_http_t *h, const char *method, const char *url,
                    const char *query, const char *role, const char *body,
                    size_t blen, unsigned *status, char *ctype, size_t clen,
                    char **out, size_t *olen)
{
    if (!h->sock) {
        zsock_opts_t o;
        zsock_opts_default(&o);
        o.sndtimeo_ms = 1000;
        h->sock = zsock_new(ZMQ_DEALER, &o);
        if (!h->sock || zsock_connect(h->sock, h->endpoint) < 0)
            return -EIO;
    }
    uint64_t id = ++h->next_id;
    if (send_frame(h->sock, &id, sizeof(id), 1) < 0 ||
        send_frame(h->sock, method, strlen(method), 1) < 0 ||
        send_frame(h->sock, url, strlen(url), 1) < 0 ||
        send_frame(h->sock, query, strlen(query), 1) < 0 ||
        send_frame(h->sock, role, strlen(role), 1) < 0 ||
        send_frame(h->sock, body ? body : "", blen, 0) < 0)
        return -EIO;
    for (;;) {
        zmq_pollitem_t it = {h->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, LOOP_WAIT_MS);
        if (rc <= 0)
            return -ETIMEDOUT;
        zmq_msg_t m[4];
        int nf = 0;
        int more = 1;
        while (more && nf < 4) {
            zmq_msg_init(&m[nf]);
            if (zmq_msg_recv(&m[nf], h->sock, 0) < 0) {
                zmq_msg_close(&m[nf]);
                break;
            }
            more = zmq_msg_more(&m[nf]);
            nf++;
        }
        bool ok = nf == 4 && zmq_msg_size(&m[0]) == sizeof(id) &&
                  !memcmp(zmq_msg_data(&m[0]), &id, sizeof(id));
        if (ok) {
            char st[8] = "";
            size_t sl = zmq_msg_size(&m[1]) < 7 ? zmq_msg_size(&m[1]) : 7;
            memcpy(st, zmq_msg_data(&m[1]), sl);
            *status = (unsigned)atoi(st);
            size_t cl =
                zmq_msg_size(&m[2]) < clen - 1 ? zmq_msg_size(&m[2]) : clen - 1;
            memcpy(ctype, zmq_msg_data(&m[2]), cl);
            ctype[cl] = '\0';
            *olen = zmq_msg_size(&m[3]);
            *out = malloc(*olen + 1);
            if (*out)
                memcpy(*out, zmq_msg_data(&m[3]), *olen);
        }
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&m[i]);
        while (more) { /* a reply with more frames than expected */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, h->sock, 0) < 0) {
                zmq_msg_close(&x);
                break;
            }
            more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        }
        if (ok)
            return *out ? 0 : -ENOMEM;
        /* A late answer to an earlier, timed-out request: skip it. */
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    coord_http_t *h = cls;
    (void)version;
    req_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size > BODY_MAX) {
            r->too_big = true;
        } else {
            char *b = realloc(r->body, r->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + r->len, upload, *upload_size);
            r->body = b;
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return error(conn, 413, "too_large", "request body over 64 KiB");
    bool mutating = strcmp(method, "GET") && strcmp(method, "HEAD");
    const console_file_t *f = mutating ? NULL : console_file(url);
    if (f)
        return respond(conn, 200, f->ctype, (const char *)f->data, f->len);
    const char *role = role_of(h, conn);
    if (mutating && strcmp(role, "admin")) {
        if (!strcmp(role, "viewer"))
            return error(conn, 403, "forbidden",
                         "a read-only token cannot change anything");
        return error(conn, 401, "unauthorized",
                     "this call needs Authorization: Bearer <api_token>");
    }
    if (!mutating && h->read_token[0] && !strcmp(role, "anonymous") &&
        !strncmp(url, "/api/", 5))
        return error(conn, 401, "unauthorized",
                     "this call needs Authorization: Bearer <api_read_token> "
                     "or <api_token>");
    char qbuf[512] = "";
    query_t q = {qbuf, 0, sizeof(qbuf)};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    const char *query = qbuf;
    unsigned status = 500;
    char ctype[64] = "application/json";
    char *out = NULL;
    size_t olen = 0;
    int rc = ask_loop(h, method, url, query, role, r->body, r->len, &status,
                      ctype, sizeof(ctype), &out, &olen);
    if (rc < 0) {
        log_warn(MOD, "The loop did not answer an API request.",
                 "method=%s url=%s err=\"%s\"", method, url, zmq_strerror(-rc));
        return error(conn, 503, "unavailable",
                     "the coordinator loop did not answer in time");
    }
    enum MHD_Result ret = respond(conn, status, ctype, out, olen);
    free(out);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_t *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

coord_http_t *coord_http_start(const char *bind_addr, int port,
                               const char *token, const char *read_token,
                               const char *loop_endpoint)
{
    coord_http_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    snprintf(h->token, sizeof(h->token), "%s", token);
    snprintf(h->read_token, sizeof(h->read_token), "%s", read_token);
    snprintf(h->endpoint, sizeof(h->endpoint), "%s", loop_endpoint);
    /* http_bind is a host: an IPv4 address, an IPv6 one ("::", dual
     * stack) or a name. */
    char hostport[300], err[256];
    struct sockaddr_storage sa;
    socklen_t salen;
    snprintf(hostport, sizeof(hostport),
             strchr(bind_addr, ':') ? "[%s]:%d" : "%s:%d", bind_addr, port);
    if (netaddr_resolve(hostport, SOCK_STREAM, &sa, &salen, err, sizeof(err)) <
        0) {
        log_error(MOD, "Bad HTTP bind address.", "addr=%s why=\"%s\"",
                  bind_addr, err);
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_DUAL_STACK;
    h->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_END);
    if (!h->d) {
        log_error(MOD, "MHD_start_daemon failed.", "addr=%s port=%d", bind_addr,
                  port);
        free(h);
        return NULL;
    }
    log_info(MOD, "HTTP API listening.", "addr=%s port=%d", bind_addr, port);
    return h;
}

void coord_http_stop(coord_http_t **hp)
{
    coord_http_t *h = *hp;
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    zsock_close(&h->sock);
    memset(h->token, 0, sizeof(h->token));
    free(h);
    *hp = NULL;
}
