/* PostgreSQL from the event loop: libpq's asynchronous API, a bounded queue,
 * reconnect with backoff. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "log.h"

typedef struct {
    const char *sql;
    int nparams;
    char **params; /* one allocation: pointer array, then the strings */
    int flags;
    store_cb_t cb;
    void *ud;
} item_t;

typedef enum { ST_DOWN, ST_CONNECTING, ST_UP } state_t;

typedef struct {
    item_t *v;
    size_t head, count;
} ring_t;

struct store {
    char *url;
    store_config_t cfg;
    PGconn *conn;
    state_t state;
    PostgresPollingStatusType poll; /* while connecting */
    int64_t connect_started;
    bool ever_up;
    int64_t retry_at;
    int64_t backoff;
    /* Two FIFO rings: reads are served before writes, so a publish's key
     * check or an API read does not wait behind a backlog of log writes;
     * writes keep their order among themselves. */
    ring_t rd, wr;
    size_t cap;
    /* the query in flight */
    bool busy;
    bool flushing;
    item_t cur;
    PGresult *last;
    store_stats_t st;
};

static void item_free(item_t *it)
{
    free(it->params);
    it->params = NULL;
}

static int item_make(item_t *it, const char *sql, int n,
                     const char *const *params, int flags, store_cb_t cb,
                     void *ud)
{
    size_t total = (size_t)n * sizeof(char *);
    for (int i = 0; i < n; i++)
        total += params[i] ? strlen(params[i]) + 1 : 0;
    it->sql = sql;
    it->nparams = n;
    it->flags = flags;
    it->cb = cb;
    it->ud = ud;
    it->params = NULL;
    if (n == 0)
        return 0;
    it->params = malloc(total);
    if (!it->params)
        return -ENOMEM;
    char *p = (char *)(it->params + n);
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            it->params[i] = NULL;
            continue;
        }
        size_t l = strlen(params[i]) + 1;
        memcpy(p, params[i], l);
        it->params[i] = p;
        p += l;
    }
    return 0;
}

/* Gives up a connection attempt (refused, failed, or, from store_tick,
 * neither done nor failed in time: libpq's connect_timeout only covers its
 * blocking calls) and schedules the next one with a doubling backoff. */
static void connect_failed(store_t *s, const char *why, int64_t now_ms)
{
    log_warn("store", "PostgreSQL connect failed.", "err=\"%s\" retry_ms=%lld",
             why, (long long)s->backoff);
    PQfinish(s->conn);
    s->conn = NULL;
    s->state = ST_DOWN;
    s->retry_at = now_ms + s->backoff;
    s->backoff *= 2;
    if (s->backoff > s->cfg.backoff_max_ms)
        s->backoff = s->cfg.backoff_max_ms;
}

static void start_connect(store_t *s, int64_t now)
{
    s->conn = PQconnectStart(s->url);
    if (!s->conn || PQstatus(s->conn) == CONNECTION_BAD) {
        connect_failed(s, s->conn ? PQerrorMessage(s->conn) : "out of memory",
                       now);
        return;
    }
    PQsetnonblocking(s->conn, 1);
    s->state = ST_CONNECTING;
    s->connect_started = now;
    s->poll = PGRES_POLLING_WRITING;
}

store_t *store_new(const store_config_t *cfg)
{
    store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->url = strdup(cfg->url ? cfg->url : "");
    s->cap = cfg->queue_max ? cfg->queue_max : 1;
    s->rd.v = calloc(s->cap, sizeof(item_t));
    s->wr.v = calloc(s->cap, sizeof(item_t));
    if (!s->url || !s->rd.v || !s->wr.v) {
        free(s->url);
        free(s->rd.v);
        free(s->wr.v);
        free(s);
        return NULL;
    }
    s->st.queue_max = s->cap;
    s->backoff = cfg->backoff_min_ms;
    start_connect(s, clock_mono_ms());
    return s;
}

static bool pop(store_t *s, ring_t *r, item_t *out)
{
    if (!r->count)
        return false;
    *out = r->v[r->head];
    r->head = (r->head + 1) % s->cap;
    r->count--;
    return true;
}

static void fail_item(item_t *it, const char *err)
{
    if (it->cb)
        it->cb(it->ud, NULL, err);
    item_free(it);
}

void store_free(store_t **sp)
{
    store_t *s = *sp;
    if (!s)
        return;
    if (s->busy) {
        s->busy = false;
        fail_item(&s->cur, "shutting down");
    }
    item_t it;
    while (pop(s, &s->rd, &it) || pop(s, &s->wr, &it))
        fail_item(&it, "shutting down");
    PQclear(s->last);
    PQfinish(s->conn);
    free(s->rd.v);
    free(s->wr.v);
    free(s->url);
    free(s);
    *sp = NULL;
}

static int push(store_t *s, ring_t *r, item_t *it, bool front)
{
    if (r->count == s->cap) {
        s->st.dropped++;
        return -ENOSPC;
    }
    if (front) {
        r->head = (r->head + s->cap - 1) % s->cap;
        r->v[r->head] = *it;
    } else {
        r->v[(r->head + r->count) % s->cap] = *it;
    }
    r->count++;
    return 0;
}

static void go_down(store_t *s, const char *why, int64_t now)
{
    bool was_up = s->state == ST_UP;
    if (s->state != ST_DOWN)
        log_warn("store", "PostgreSQL connection lost; reconnecting.",
                 "err=\"%s\" retry_ms=%lld", why, (long long)s->backoff);
    PQclear(s->last);
    s->last = NULL;
    if (s->busy) {
        s->busy = false;
        if (s->cur.flags & STORE_WRITE) {
            if (push(s, &s->wr, &s->cur, true) < 0)
                fail_item(&s->cur, "queue full");
        } else {
            s->st.failed++;
            fail_item(&s->cur, why);
        }
    }
    /* Reads waiting cannot be answered in time: fail them. Writes stay. */
    item_t it;
    while (pop(s, &s->rd, &it))
        fail_item(&it, "database unavailable");
    PQfinish(s->conn);
    s->conn = NULL;
    s->state = ST_DOWN;
    s->retry_at = now + s->backoff;
    s->backoff *= 2;
    if (s->backoff > s->cfg.backoff_max_ms)
        s->backoff = s->cfg.backoff_max_ms;
    if (was_up && s->cfg.on_down)
        s->cfg.on_down(s->cfg.ud, why);
}

void store_disconnect(store_t *s, const char *why, int64_t now_ms)
{
    if (s->state != ST_DOWN)
        go_down(s, why, now_ms);
}

int store_query(store_t *s, const char *sql, int nparams,
                const char *const *params, int flags, store_cb_t cb, void *ud)
{
    if (s->state != ST_UP && !(flags & STORE_WRITE))
        return -ENOTCONN;
    ring_t *r = (flags & STORE_WRITE) ? &s->wr : &s->rd;
    if (r->count == s->cap) {
        s->st.dropped++;
        return -ENOSPC;
    }
    item_t it;
    if (item_make(&it, sql, nparams, params, flags, cb, ud) < 0)
        return -ENOMEM;
    return push(s, r, &it, flags & STORE_FRONT);
}

static void send_next(store_t *s, int64_t now)
{
    while (s->state == ST_UP && !s->busy &&
           (pop(s, &s->rd, &s->cur) || pop(s, &s->wr, &s->cur))) {
        if (!PQsendQueryParams(s->conn, s->cur.sql, s->cur.nparams, NULL,
                               (const char *const *)s->cur.params, NULL, NULL,
                               0)) {
            char why[256];
            snprintf(why, sizeof(why), "%s", PQerrorMessage(s->conn));
            s->busy = true;
            go_down(s, why, now);
            return;
        }
        s->busy = true;
        s->flushing = true;
    }
}

int store_fd(const store_t *s)
{
    return s->conn && s->state != ST_DOWN ? PQsocket(s->conn) : -1;
}

short store_events(const store_t *s)
{
    if (s->state == ST_CONNECTING)
        return s->poll == PGRES_POLLING_READING ? ZMQ_POLLIN : ZMQ_POLLOUT;
    if (s->state == ST_UP)
        return ZMQ_POLLIN | (s->flushing ? ZMQ_POLLOUT : 0);
    return 0;
}

static void connected(store_t *s, int64_t now)
{
    s->state = ST_UP;
    s->backoff = s->cfg.backoff_min_ms;
    if (s->ever_up)
        s->st.reconnects++;
    s->ever_up = true;
    log_info("store", "Connected to PostgreSQL.", "queued=%zu",
             s->rd.count + s->wr.count);
    if (s->cfg.on_up)
        s->cfg.on_up(s->cfg.ud);
    send_next(s, now);
}

static void read_results(store_t *s, int64_t now)
{
    if (!PQconsumeInput(s->conn)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(s->conn));
        go_down(s, why, now);
        return;
    }
    while (s->busy && !PQisBusy(s->conn)) {
        PGresult *r = PQgetResult(s->conn);
        if (r) {
            PQclear(s->last);
            s->last = r;
            continue;
        }
        /* NULL: the query is complete. */
        item_t it = s->cur;
        s->busy = false;
        PGresult *res = s->last;
        s->last = NULL;
        ExecStatusType est = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (est == PGRES_COMMAND_OK || est == PGRES_TUPLES_OK) {
            s->st.queries++;
            if (it.cb)
                it.cb(it.ud, res, NULL);
        } else {
            s->st.failed++;
            const char *e = res ? PQresultErrorMessage(res) : "no result";
            log_warn("store", "Query failed.", "err=\"%.*s\" sql=\"%.60s\"",
                     (int)strcspn(e, "\n"), e, it.sql);
            if (it.cb)
                it.cb(it.ud, NULL, e);
        }
        PQclear(res);
        item_free(&it);
        if (PQstatus(s->conn) == CONNECTION_BAD) {
            go_down(s, "connection closed", now);
            return;
        }
        send_next(s, now);
    }
    /* Notices and a server-side close show up here while idle. */
    if (!s->busy && PQstatus(s->conn) == CONNECTION_BAD)
        go_down(s, "connection closed", now);
}

void store_io(store_t *s, short revents, int64_t now_ms)
{
    if (s->state == ST_CONNECTING) {
        s->poll = PQconnectPoll(s->conn);
        if (s->poll == PGRES_POLLING_FAILED) {
            char why[256];
            snprintf(why, sizeof(why), "%s", PQerrorMessage(s->conn));
            size_t l = strcspn(why, "\n");
            why[l] = '\0';
            log_warn("store", "PostgreSQL connect failed.",
                     "err=\"%s\" retry_ms=%lld", why, (long long)s->backoff);
            PQfinish(s->conn);
            s->conn = NULL;
            s->state = ST_DOWN;
            s->retry_at = now_ms + s->backoff;
            s->backoff *= 2;
            if (s->backoff > s->cfg.backoff_max_ms)
                s->backoff = s->cfg.backoff_max_ms;
        } else if (s->poll == PGRES_POLLING_OK) {
            connected(s, now_ms);
        }
        return;
    }
    if (s->state != ST_UP)
        return;
    if ((revents & ZMQ_POLLOUT) && s->flushing) {
        int f = PQflush(s->conn);
        if (f < 0) {
            go_down(s, PQerrorMessage(s->conn), now_ms);
            return;
        }
        s->flushing = f == 1;
    }
    if (revents & ZMQ_POLLIN)
        read_results(s, now_ms);
}

int64_t store_tick(store_t *s, int64_t now_ms)
{
    if (s->state == ST_CONNECTING && s->cfg.connect_timeout_ms > 0 &&
        now_ms - s->connect_started > s->cfg.connect_timeout_ms)
        connect_failed(s, "connect timed out", now_ms);
    if (s->state == ST_DOWN) {
        if (now_ms >= s->retry_at) {
            start_connect(s, now_ms);
            if (s->state == ST_CONNECTING)
                return 50;
        }
        return s->retry_at - now_ms;
    }
    if (s->state == ST_UP && s->flushing) {
        int f = PQflush(s->conn);
        if (f < 0)
            go_down(s, PQerrorMessage(s->conn), now_ms);
        else
            s->flushing = f == 1;
    }
    if (s->state == ST_UP)
        send_next(s, now_ms);
    return s->state == ST_CONNECTING ? 50 : -1;
}

bool store_up(const store_t *s)
{
    return s->state == ST_UP;
}

void store_get_stats(const store_t *s, store_stats_t *out)
{
    *out = s->st;
    out->queued = s->rd.count + s->wr.count;
}
