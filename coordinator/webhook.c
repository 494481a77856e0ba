/* Webhooks: the farm's stream events POSTed to the platform, signed, at
 * least once and in order, from the events table in PostgreSQL. */
#include "webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "clock.h"
#include "http_client.h"
#include "log.h"

#define MOD "webhook"

#define BATCH         32   /* events read per query */
#define LOCK_RETRY_MS 1000 /* another coordinator delivers: look again */
#define STATE_LEN     32
#define ERROR_LEN     256
#define URL_LEN       1024
#define KINDS_LEN     1024
#define SECRET_LEN    256

/* Internal event kinds and the public names the platform receives. */
static const struct {
    const char *kind, *public;
} kinds[] = {
    {"stream.started", "stream.started"},
    {"stream.live", "stream.live"},
    {"stream.replaced", "stream.moved"},
    {"stream.partial", "stream.partial"},
    {"stream.rendition_failed", "stream.partial"},
    {"stream.upgraded", "stream.upgraded"},
    {"stream.failed", "stream.failed"},
    {"stream.ended", "stream.ended"},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

typedef struct {
    uint64_t delivered; /* events acknowledged with a 2xx */
    uint64_t failures;  /* attempts that were not */
    int last_status;    /* of the last answer, 0 = none */
    char last_error[ERROR_LEN];
    int64_t cursor;        /* last event id acknowledged */
    int64_t backlog;       /* events waiting (counted up to BACKLOG_MAX) */
    int64_t last_ok_ms;    /* wall clock of the last 2xx, 0 = none */
    int64_t retry_ms;      /* current backoff, 0 while none */
    char state[STATE_LEN]; /* starting, idle, delivering, retrying, ... */
} hook_stats_t;

typedef struct {
    struct webhooks *w;
    char url[URL_LEN];
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* stats */
    hook_stats_t st;
    /* the thread's own */
    PGconn *db;
    bool locked;
    http_client_t *http;
} hook_t;

struct webhooks {
    webhook_config_t cfg; /* strings point at the copies below */
    char urls[WEBHOOK_MAX * URL_LEN];
    char secret[SECRET_LEN];
    char events[KINDS_LEN];
    char pg_url[URL_LEN];
    char coordinator_id[64];
    char kinds_array[KINDS_LEN]; /* the internal kinds, "{a,b}" */
    atomic_int stop;
    int n;
    hook_t hooks[WEBHOOK_MAX];
};

#define BACKLOG_MAX 100000

/* ---------------------------------------------------------------- parts */

const char *webhook_public_kind(const char *kind)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (!strcmp(kinds[i].kind, kind))
            return kinds[i].public;
    return NULL;
}

/* Calls FN with each trimmed, non-empty item of the comma-separated LIST;
 * stops at the first non-zero return and returns it. */
static int each_item(const char *list, int (*fn)(const char *item, void *ud),
                     void *ud)
{
    char item[URL_LEN];
    const char *p = list;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= sizeof(item))
            return -ENAMETOOLONG;
        memcpy(item, p, n);
        item[n] = '\0';
        int rc = n ? fn(item, ud) : 0;
        if (rc)
            return rc;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

typedef struct {
    bool wanted[NKINDS];
    char bad[64];
} kinds_pick_t;

static int pick_public(const char *name, void *ud)
{
    kinds_pick_t *k = ud;
    bool known = false;
    for (size_t i = 0; i < NKINDS; i++)
        if (!strcmp(kinds[i].public, name))
            k->wanted[i] = known = true;
    if (!known) {
        snprintf(k->bad, sizeof(k->bad), "%s", name);
        return -EINVAL;
    }
    return 0;
}

int webhook_kinds_array(const char *names, char *out, size_t outlen, char *err,
                        size_t errlen)
{
    kinds_pick_t k = {0};
    int rc = each_item(names, pick_public, &k);
    if (rc) {
        snprintf(err, errlen, "unknown webhook event '%s' (known: %s)", k.bad,
                 "stream.started, stream.live, stream.moved, stream.partial, "
                 "stream.upgraded, stream.failed, stream.ended");
        return -EINVAL;
    }
    bool any = false;
    for (size_t i = 0; i < NKINDS; i++)
        any |= k.wanted[i];
    size_t len = 0;
    out[len++] = '{';
    for (size_t i = 0; i < NKINDS; i++) {
        if (any && !k.wanted[i])
            continue;
        int n = snprintf(out + len, outlen - len, "%s%s", len > 1 ? "," : "",
                         kinds[i].kind);
        if (n < 0 || (size_t)n >= outlen - len - 1) {
            snprintf(err, errlen, "webhook event list too long");
            return -EINVAL;
        }
        len += (size_t)n;
    }
    out[len++] = '}';
    out[len] = '\0';
    return 0;
}

void webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                  char *out, size_t outlen)
{
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
    unsigned char md[EVP_MAX_MD_SIZE];
    /* HMAC over "T." then the body: two updates of one MAC. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t got = 0;
    bool ok = ctx &&
              EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
                           params) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tn) == 1 &&
              EVP_MAC_update(ctx, (const unsigned char *)body, len) == 1 &&
              EVP_MAC_final(ctx, md, &got, sizeof(md)) == 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok) /* an unsigned body is refused by any receiver that checks */
        log_error(MOD, "Cannot sign a webhook body.", "call=EVP_MAC");
    int n = snprintf(out, outlen, "t=%" PRId64 ",v1=", t);
    for (size_t i = 0; ok && i < got && n > 0 && (size_t)n + 3 <= outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%02x", md[i]);
}

static int check_url(const char *url, void *ud)
{
    int *n = ud;
    if ((strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) ||
        strpbrk(url, "\"\\ \t\r\n"))
        return -EPROTONOSUPPORT;
    return ++*n > WEBHOOK_MAX ? -E2BIG : 0;
}

int webhook_config_check(const webhook_config_t *cfg, char *err, size_t errlen)
{
    int n = 0;
    int rc = each_item(cfg->urls, check_url, &n);
    if (rc == -EPROTONOSUPPORT || rc == -ENAMETOOLONG) {
        snprintf(err, errlen,
                 "webhook_url: each URL starts with http:// or "
                 "https://, has no quote, backslash or space "
                 "and is under 1024 bytes");
        return -EINVAL;
    }
    if (rc == -E2BIG) {
        snprintf(err, errlen, "webhook_url: at most %d URLs", WEBHOOK_MAX);
        return -EINVAL;
    }
    if (n > 0 && (!cfg->secret || strlen(cfg->secret) < 16 ||
                  strlen(cfg->secret) >= SECRET_LEN)) {
        snprintf(err, errlen,
                 "webhook_secret: 16 to %d bytes when "
                 "webhook_url is set",
                 SECRET_LEN - 1);
        return -EINVAL;
    }
    char arr[KINDS_LEN];
    return webhook_kinds_array(cfg->events, arr, sizeof(arr), err, errlen);
}

/* ---------------------------------------------------------------- thread */

static void set_state(hook_t *h, const char *state, const char *error)
{
    pthread_mutex_lock(&h->mu);
    snprintf(h->st.state, sizeof(h->st.state), "%s", state);
    if (error)
        snprintf(h->st.last_error, sizeof(h->st.last_error), "%s", error);
    pthread_mutex_unlock(&h->mu);
}

/* Sleeps MS in short steps; false when asked to stop meanwhile. */
static bool nap(hook_t *h, int64_t ms)
{
    while (ms > 0 && !atomic_load(&h->w->stop)) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return !atomic_load(&h->w->stop);
}

static void db_close(hook_t *h)
{
    if (h->db)
        PQfinish(h->db);
    h->db = NULL;
    h->locked = false;
}

/* Runs SQL with NPARAMS text PARAMS; the result when its status is OK (the
 * caller clears it), else NULL with the connection closed and the reason
 * in the hook's state. */
static PGresult *db_exec(hook_t *h, const char *sql, int nparams,
                         const char *const *params)
{
    PGresult *res =
        PQexecParams(h->db, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    char why[ERROR_LEN];
    snprintf(why, sizeof(why), "database: %s", PQerrorMessage(h->db));
    why[strcspn(why, "\n")] = '\0';
    PQclear(res);
    log_warn(MOD, "Webhook delivery lost its database.", "hook=%s err=\"%s\"",
             h->url, why);
    set_state(h, "database unavailable", why);
    db_close(h);
    return NULL;
}

static const char cursor_sql[] =
    "INSERT INTO webhook_cursors (hook, last_event_id, updated_by) "
    "SELECT $1, coalesce(max(id), 0), $2 FROM events "
    "ON CONFLICT (hook) DO NOTHING";
static const char cursor_read_sql[] =
    "SELECT last_event_id, delivered FROM webhook_cursors WHERE hook = $1";

/* Connects, takes the hook's lock and reads its cursor (made at the newest
 * event for a new hook). False while it cannot (state says why). */
static bool db_ready(hook_t *h)
{
    if (h->db && h->locked)
        return true;
    const webhook_config_t *cfg = &h->w->cfg;
    if (!h->db) {
        const char *keys[] = {"dbname", "connect_timeout", "application_name",
                              NULL};
        const char *vals[] = {cfg->pg_url, "5", "prism-webhook", NULL};
        h->db = PQconnectdbParams(keys, vals, 1);
        if (PQstatus(h->db) != CONNECTION_OK) {
            char why[ERROR_LEN];
            snprintf(why, sizeof(why), "database: %s", PQerrorMessage(h->db));
            why[strcspn(why, "\n")] = '\0';
            set_state(h, "database unavailable", why);
            db_close(h);
            return false;
        }
    }
    char key[24];
    snprintf(key, sizeof(key), "%" PRId64, cfg->lock_key);
    const char *lp[] = {key, h->url};
    PGresult *res =
        db_exec(h, "SELECT pg_try_advisory_lock($1::int, hashtext($2))", 2, lp);
    if (!res)
        return false;
    bool got = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (!got) {
        set_state(h, "standby", NULL); /* another coordinator delivers */
        return false;
    }
    const char *cp[] = {h->url, cfg->coordinator_id};
    if (!(res = db_exec(h, cursor_sql, 2, cp)))
        return false;
    PQclear(res);
    if (!(res = db_exec(h, cursor_read_sql, 1, cp)))
        return false;
    bool ok = PQntuples(res) == 1;
    if (ok) {
        pthread_mutex_lock(&h->mu);
        h->st.cursor = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        pthread_mutex_unlock(&h->mu);
        h->locked = true;
        log_info(MOD, "Delivering webhooks.", "hook=%s after_event=%s", h->url,
                 PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return ok;
}

static const char batch_sql[] =
    "SELECT e.id, e.kind, "
    "to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "coalesce(e.stream_id::text, ''), coalesce(e.worker_id, ''), "
    "coalesce(e.coordinator, ''), e.detail::text, coalesce(ch.name, '') "
    "FROM events e LEFT JOIN streams s ON s.id = e.stream_id "
    "LEFT JOIN channels ch ON ch.id = s.channel_id "
    "WHERE e.id > $1 AND e.kind = ANY($2::text[]) ORDER BY e.id LIMIT 32";
static const char backlog_sql[] =
    "SELECT count(*) FROM (SELECT 1 FROM events WHERE id > $1 "
    "AND kind = ANY($2::text[]) LIMIT 100000) AS waiting";
static const char advance_sql[] =
    "UPDATE webhook_cursors SET last_event_id = $2, "
    "delivered = delivered + 1, updated_at = now(), updated_by = $3 "
    "WHERE hook = $1";

/* The JSON body of row I of an events batch (malloc'd). */
static char *event_body(const PGresult *res, int i)
{
    const char *kind = PQgetvalue(res, i, 1);
    json_t *detail = json_loads(PQgetvalue(res, i, 6), 0, NULL);
    json_t *b = json_pack(
        "{s:I, s:s, s:s, s:s, s:s*, s:s*, s:s*, s:s, s:o}", "id",
        (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "event",
        webhook_public_kind(kind), "kind", kind, "at", PQgetvalue(res, i, 2),
        "stream_id", PQgetvalue(res, i, 3)[0] ? PQgetvalue(res, i, 3) : NULL,
        "channel", PQgetvalue(res, i, 7)[0] ? PQgetvalue(res, i, 7) : NULL,
        "worker_id", PQgetvalue(res, i, 4)[0] ? PQgetvalue(res, i, 4) : NULL,
        "coordinator", PQgetvalue(res, i, 5), "detail",
        detail ? detail : json_object());
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return text;
}

/* POSTs one event body; true on a 2xx. */
static bool post_event(hook_t *h, const char *id, const char *event,
                       const char *body)
{
    char sig[160], h_sig[200], h_event[96], h_id[64];
    webhook_sign(h->w->cfg.secret, clock_wall_ms() / 1000, body, strlen(body),
                 sig, sizeof(sig));
    snprintf(h_sig, sizeof(h_sig), "X-Prism-Signature: %s", sig);
    snprintf(h_event, sizeof(h_event), "X-Prism-Event: %s", event);
    snprintf(h_id, sizeof(h_id), "X-Prism-Delivery: %s", id);
    const char *headers[] = {h_sig, h_event, h_id, NULL};
    int status = 0;
    char err[ERROR_LEN] = "";
    int rc = http_client_request_with(h->http, "POST", h->url, headers, body,
                                      strlen(body), &status, err, sizeof(err));
    bool ok = rc == 0 && status >= 200 && status < 300;
    pthread_mutex_lock(&h->mu);
    h->st.last_status = rc == 0 ? status : 0;
    if (ok) {
        h->st.delivered++;
        h->st.last_ok_ms = clock_wall_ms();
        h->st.retry_ms = 0;
    } else {
        h->st.failures++;
        if (rc == 0)
            snprintf(err, sizeof(err), "answered %d", status);
        snprintf(h->st.last_error, sizeof(h->st.last_error), "%s", err);
    }
    pthread_mutex_unlock(&h->mu);
    if (!ok)
        log_warn(MOD, "A webhook was not accepted; retrying.",
                 "hook=%s event=%s id=%s err=\"%s\"", h->url, event, id, err);
    return ok;
}

/* Delivers row I (retrying with backoff until a 2xx) and moves the cursor.
 * False when stopping or the database went away (the event is sent again
 * after the cursor is read back: at least once). */
static bool deliver(hook_t *h, const PGresult *res, int i)
{
    const webhook_config_t *cfg = &h->w->cfg;
    const char *id = PQgetvalue(res, i, 0);
    const char *event = webhook_public_kind(PQgetvalue(res, i, 1));
    char *body = event_body(res, i);
    if (!body) {
        log_error(MOD, "Cannot make a webhook body.", "id=%s", id);
        nap(h, cfg->retry_max_ms);
        return false;
    }
    int64_t backoff = cfg->retry_min_ms;
    bool ok;
    while (!(ok = post_event(h, id, event, body))) {
        pthread_mutex_lock(&h->mu);
        h->st.retry_ms = backoff;
        snprintf(h->st.state, sizeof(h->st.state), "retrying");
        pthread_mutex_unlock(&h->mu);
        if (!nap(h, backoff))
            break;
        backoff =
            backoff * 2 < cfg->retry_max_ms ? backoff * 2 : cfg->retry_max_ms;
    }
    free(body);
    if (!ok)
        return false;
    const char *ap[] = {h->url, id, cfg->coordinator_id};
    PGresult *r = db_exec(h, advance_sql, 3, ap);
    if (!r)
        return false;
    PQclear(r);
    pthread_mutex_lock(&h->mu);
    h->st.cursor = strtoll(id, NULL, 10);
    if (h->st.backlog > 0)
        h->st.backlog--;
    pthread_mutex_unlock(&h->mu);
    return true;
}

/* One pass: the next batch after the cursor, delivered in order. False
 * when there was nothing to send or delivery stopped. */
static bool deliver_batch(hook_t *h)
{
    char cursor[24];
    pthread_mutex_lock(&h->mu);
    snprintf(cursor, sizeof(cursor), "%" PRId64, h->st.cursor);
    pthread_mutex_unlock(&h->mu);
    const char *bp[] = {cursor, h->w->kinds_array};
    PGresult *n = db_exec(h, backlog_sql, 2, bp);
    if (!n)
        return false;
    pthread_mutex_lock(&h->mu);
    h->st.backlog = strtoll(PQgetvalue(n, 0, 0), NULL, 10);
    pthread_mutex_unlock(&h->mu);
    PQclear(n);
    PGresult *res = db_exec(h, batch_sql, 2, bp);
    if (!res)
        return false;
    int rows = PQntuples(res);
    set_state(h, rows ? "delivering" : "idle", NULL);
    bool ok = true;
    for (int i = 0; i < rows && ok; i++)
        ok = deliver(h, res, i);
    PQclear(res);
    return rows > 0 && ok;
}

static void *hook_main(void *arg)
{
    hook_t *h = arg;
    const webhook_config_t *cfg = &h->w->cfg;
    int64_t db_backoff = cfg->retry_min_ms;
    while (!atomic_load(&h->w->stop)) {
        if (!db_ready(h)) {
            bool standby = h->db != NULL;
            if (!nap(h, standby ? LOCK_RETRY_MS : db_backoff))
                break;
            if (!standby)
                db_backoff = db_backoff * 2 < cfg->retry_max_ms
                                 ? db_backoff * 2
                                 : cfg->retry_max_ms;
            continue;
        }
        db_backoff = cfg->retry_min_ms;
        if (!deliver_batch(h) && !nap(h, cfg->poll_ms))
            break;
    }
    db_close(h);
    return NULL;
}

/* ---------------------------------------------------------------- start */

static int add_hook(const char *url, void *ud)
{
    webhooks_t *w = ud;
    hook_t *h = &w->hooks[w->n];
    h->w = w;
    snprintf(h->url, sizeof(h->url), "%s", url);
    pthread_mutex_init(&h->mu, NULL);
    snprintf(h->st.state, sizeof(h->st.state), "starting");
    w->n++;
    return 0;
}

webhooks_t *webhooks_start(const webhook_config_t *cfg)
{
    char err[256];
    webhooks_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->cfg = *cfg;
    snprintf(w->urls, sizeof(w->urls), "%s", cfg->urls);
    snprintf(w->secret, sizeof(w->secret), "%s", cfg->secret);
    snprintf(w->events, sizeof(w->events), "%s", cfg->events);
    snprintf(w->pg_url, sizeof(w->pg_url), "%s", cfg->pg_url);
    snprintf(w->coordinator_id, sizeof(w->coordinator_id), "%s",
             cfg->coordinator_id);
    w->cfg.urls = w->urls;
    w->cfg.secret = w->secret;
    w->cfg.events = w->events;
    w->cfg.pg_url = w->pg_url;
    w->cfg.coordinator_id = w->coordinator_id;
    if (webhook_config_check(&w->cfg, err, sizeof(err)) < 0 ||
        webhook_kinds_array(w->events, w->kinds_array, sizeof(w->kinds_array),
                            err, sizeof(err)) < 0) {
        log_error(MOD, "Bad webhook configuration.", "err=\"%s\"", err);
        free(w);
        return NULL;
    }
    each_item(w->urls, add_hook, w);
    http_client_opts_t ho = {
        .connect_timeout_ms = (int)cfg->timeout_ms,
        .timeout_ms = (int)cfg->timeout_ms,
        .content_type = "application/json",
        .user_agent = "prism-webhook",
        .body_max = 256,
    };
    for (int i = 0; i < w->n; i++) {
        hook_t *h = &w->hooks[i];
        if (!(h->http = http_client_new(&ho)) ||
            pthread_create(&h->thread, NULL, hook_main, h) != 0) {
            log_error(MOD, "Cannot start webhook delivery.", "hook=%s", h->url);
            webhooks_stop(&w);
            return NULL;
        }
        h->started = true;
    }
    if (w->n)
        log_info(MOD, "Webhooks configured.", "hooks=%d events=%s", w->n,
                 w->kinds_array);
    return w;
}

void webhooks_stop(webhooks_t **wp)
{
    webhooks_t *w = *wp;
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    for (int i = 0; i < w->n; i++) {
        hook_t *h = &w->hooks[i];
        if (h->started)
            pthread_join(h->thread, NULL);
        http_client_free(&h->http);
        pthread_mutex_destroy(&h->mu);
    }
    free(w);
    *wp = NULL;
}

/* ---------------------------------------------------------------- state */

static void snapshot(hook_t *h, hook_stats_t *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    pthread_mutex_unlock(&h->mu);
}

json_t *webhooks_json(webhooks_t *w)
{
    json_t *a = json_array();
    int64_t now = clock_wall_ms();
    for (int i = 0; w && i < w->n; i++) {
        hook_stats_t st;
        snapshot(&w->hooks[i], &st);
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:s, s:o, s:I}",
                         "url", w->hooks[i].url, "state", st.state, "delivered",
                         (json_int_t)st.delivered, "failures",
                         (json_int_t)st.failures, "last_event_id",
                         (json_int_t)st.cursor, "backlog",
                         (json_int_t)st.backlog, "last_status", st.last_status,
                         "last_error", st.last_error, "last_success_age_ms",
                         st.last_ok_ms ? json_integer(now - st.last_ok_ms)
                                       : json_null(),
                         "retry_ms", (json_int_t)st.retry_ms));
    }
    return a;
}

char *webhooks_metrics(webhooks_t *w)
{
    static const char *const head =
        "# HELP prism_webhook_delivered_total Events a webhook receiver "
        "acknowledged.\n# TYPE prism_webhook_delivered_total counter\n"
        "# HELP prism_webhook_failures_total Webhook attempts not "
        "acknowledged (retried).\n# TYPE prism_webhook_failures_total "
        "counter\n# HELP prism_webhook_backlog Events waiting for a "
        "webhook.\n# TYPE prism_webhook_backlog gauge\n"
        "# HELP prism_webhook_delivering 1 while this coordinator delivers "
        "the hook and its receiver answers.\n"
        "# TYPE prism_webhook_delivering gauge\n";
    size_t cap = strlen(head) + 1 + (size_t)(w ? w->n : 0) * (4 * URL_LEN);
    char *t = malloc(cap);
    if (!t)
        return NULL;
    /* The families are described with no hook too: a dashboard finds them. */
    size_t len = (size_t)snprintf(t, cap, "%s", head);
    for (int i = 0; w && i < w->n; i++) {
        hook_stats_t st;
        snapshot(&w->hooks[i], &st);
        const char *u = w->hooks[i].url; /* checked: no quote or newline */
        bool up = !strcmp(st.state, "idle") || !strcmp(st.state, "delivering");
        len += (size_t)snprintf(
            t + len, cap - len,
            "prism_webhook_delivered_total{url=\"%s\"} %" PRIu64 "\n"
            "prism_webhook_failures_total{url=\"%s\"} %" PRIu64 "\n"
            "prism_webhook_backlog{url=\"%s\"} %" PRId64 "\n"
            "prism_webhook_delivering{url=\"%s\"} %d\n",
            u, st.delivered, u, st.failures, u, st.backlog, u, up ? 1 : 0);
    }
    return t;
}
