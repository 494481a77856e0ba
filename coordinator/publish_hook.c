/* The platform's admission hook: a publish is allowed by asking the
 * platform's website over HTTP, off the coordinator's loop. */
#include "publish_hook.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "http_client.h"
#include "log.h"
#include "webhook.h"

#define MOD "publish_hook"

#define THREADS_MAX 16
#define CACHE_MAX   1024

typedef struct {
    char key[PUBLISH_HOOK_KEY_MAX]; /* "" = free */
    int64_t until_ms;
    publish_hook_req_t answer;
} cache_entry_t;

struct publish_hook {
    char url[1024];
    char secret[256];
    int64_t timeout_ms, cache_ms;
    int efd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    publish_hook_req_t **queue; /* ring of queue_max */
    int queue_max, head, count;
    int outstanding;           /* queued, running or done: <= queue_max */
    publish_hook_req_t **done; /* finished, for the loop, oldest first */
    int ndone;
    pthread_t threads[THREADS_MAX];
    int nthreads;
    cache_entry_t *cache; /* the loop's */
    publish_hook_stats_t st;
};

int publish_hook_config_check(const publish_hook_config_t *cfg, char *err,
                              size_t errlen)
{
    const char *u = cfg->url;
    if (u[0] && strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
        snprintf(err, errlen, "publish_hook_url: http:// or https://");
        return -EINVAL;
    }
    if (cfg->threads < 1 || cfg->threads > THREADS_MAX) {
        snprintf(err, errlen, "publish_hook_threads: 1 to %d", THREADS_MAX);
        return -EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------- answers */

static void set_down(publish_hook_req_t *r, const char *fmt, const char *arg)
{
    r->verdict = PUBLISH_HOOK_DOWN;
    snprintf(r->reason, sizeof(r->reason), fmt, arg);
}

/* A channel name the channels table takes (1-64 of A-Za-z0-9_.-, the
 * first a letter or digit) and the coordinator keeps (63 at most). */
static bool channel_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

void publish_hook_parse(int status, const char *body, publish_hook_req_t *r)
{
    r->channel[0] = r->profile[0] = r->reason[0] = '\0';
    r->priority = -1;
    json_t *j = body && body[0] ? json_loads(body, 0, NULL) : NULL;
    json_t *allow = json_object_get(j, "allow");
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (status == 403 || (status / 100 == 2 && json_is_false(allow))) {
        r->verdict = PUBLISH_HOOK_REFUSE;
        snprintf(r->reason, sizeof(r->reason), "%s",
                 reason && reason[0] ? reason : "refused by the platform");
        json_decref(j);
        return;
    }
    char st[16];
    snprintf(st, sizeof(st), "%d", status);
    if (status / 100 != 2)
        set_down(r, "the hook answered %s", st);
    else if (!json_is_true(allow))
        set_down(r, "%s", "the hook's answer has no \"allow\" true or false");
    else {
        const char *ch = json_string_value(json_object_get(j, "channel"));
        const char *prof = json_string_value(json_object_get(j, "profile"));
        json_t *prio = json_object_get(j, "priority");
        if (!ch || !channel_name_ok(ch))
            set_down(r, "%s", "the hook allowed no usable channel name");
        else if (prof && (!prof[0] || strlen(prof) >= sizeof(r->profile)))
            set_down(r, "%s", "the hook named a bad profile");
        else if (prio &&
                 (!json_is_integer(prio) || json_integer_value(prio) < 0 ||
                  json_integer_value(prio) > 100))
            set_down(r, "%s", "the hook's priority is not 0 to 100");
        else {
            r->verdict = PUBLISH_HOOK_ALLOW;
            snprintf(r->channel, sizeof(r->channel), "%s", ch);
            snprintf(r->profile, sizeof(r->profile), "%s", prof ? prof : "");
            r->priority = prio ? (int)json_integer_value(prio) : -1;
        }
    }
    json_decref(j);
}

/* ---------------------------------------------------------------- threads */

/* Asks the platform about R with client HC; fills the answer. */
static void run_request(publish_hook_t *h, http_client_t *hc,
                        publish_hook_req_t *r)
{
    json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "key", r->key, "ingest",
                          r->ingest, "addr", r->addr, "protocol", r->protocol);
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        set_down(r, "%s", "out of memory");
        return;
    }
    char sig[160], h_sig[200];
    const char *headers[] = {h_sig, NULL};
    if (h->secret[0]) {
        webhook_sign(h->secret, clock_wall_ms() / 1000, body, strlen(body), sig,
                     sizeof(sig));
        snprintf(h_sig, sizeof(h_sig), "X-Prism-Signature: %s", sig);
    }
    int status = 0;
    char err[256] = "";
    int rc = http_client_request_with(hc, "POST", h->url,
                                      h->secret[0] ? headers : NULL, body,
                                      strlen(body), &status, err, sizeof(err));
    free(body);
    if (rc < 0)
        set_down(r, "the hook did not answer: %s", err);
    else
        publish_hook_parse(status, http_client_body(hc, NULL), r);
}

static void *hook_thread(void *arg)
{
    publish_hook_t *h = arg;
    http_client_opts_t o = {
        .connect_timeout_ms = (int)h->timeout_ms,
        .timeout_ms = (int)h->timeout_ms,
        .content_type = "application/json",
        .user_agent = "prism-publish-hook",
        .body_max = 4096,
    };
    http_client_t *hc = http_client_new(&o);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->count == 0)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        publish_hook_req_t *r = h->queue[h->head];
        h->head = (h->head + 1) % h->queue_max;
        h->count--;
        pthread_mutex_unlock(&h->mu);
        if (hc)
            run_request(h, hc, r);
        else
            set_down(r, "%s", "no HTTP client");
        pthread_mutex_lock(&h->mu);
        h->done[h->ndone++] = r; /* room: outstanding <= queue_max */
        uint64_t one = 1;
        if (write(h->efd, &one, sizeof(one)) < 0) {
            /* the counter cannot overflow at these rates; the loop drains
             * the done list on its next wake-up anyway */
        }
    }
    pthread_mutex_unlock(&h->mu);
    http_client_free(&hc);
    return NULL;
}

publish_hook_t *publish_hook_start(const publish_hook_config_t *cfg,
                                   bool *failed)
{
    *failed = false;
    if (!cfg->url[0])
        return NULL;
    publish_hook_t *h = calloc(1, sizeof(*h));
    if (!h)
        goto fail;
    snprintf(h->url, sizeof(h->url), "%s", cfg->url);
    snprintf(h->secret, sizeof(h->secret), "%s", cfg->secret);
    h->timeout_ms = cfg->timeout_ms;
    h->cache_ms = cfg->cache_ms;
    h->queue_max = cfg->queue_max;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    h->queue = calloc((size_t)h->queue_max, sizeof(*h->queue));
    h->done = calloc((size_t)h->queue_max, sizeof(*h->done));
    h->cache = calloc(CACHE_MAX, sizeof(*h->cache));
    if (h->efd < 0 || !h->queue || !h->done || !h->cache) {
        if (h->efd >= 0)
            close(h->efd);
        free(h->queue);
        free(h->done);
        free(h->cache);
        free(h);
        goto fail;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    for (int i = 0; i < cfg->threads; i++) {
        if (pthread_create(&h->threads[i], NULL, hook_thread, h) != 0) {
            publish_hook_stop(&h);
            goto fail;
        }
        h->nthreads++;
    }
    log_info(MOD, "Publishes are asked of the platform's hook.",
             "url=%s threads=%d timeout_ms=%lld cache_ms=%lld", h->url,
             h->nthreads, (long long)h->timeout_ms, (long long)h->cache_ms);
    return h;
fail:
    log_error(MOD, "Cannot start the publish hook.", "url=%s", cfg->url);
    *failed = true;
    return NULL;
}

void publish_hook_stop(publish_hook_t **hp)
{
    publish_hook_t *h = *hp;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->nthreads; i++)
        pthread_join(h->threads[i], NULL);
    /* Requests still queued or done belong to the loop's callers, which
     * are going away with it: their memory goes here. */
    for (int i = 0; i < h->count; i++)
        free(h->queue[(h->head + i) % h->queue_max]);
    for (int i = 0; i < h->ndone; i++)
        free(h->done[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    close(h->efd);
    free(h->queue);
    free(h->done);
    free(h->cache);
    free(h);
    *hp = NULL;
}

int publish_hook_fd(const publish_hook_t *h)
{
    return h->efd;
}

/* ---------------------------------------------------------------- cache */

static cache_entry_t *cache_find(publish_hook_t *h, const char *key,
                                 int64_t now)
{
    for (int i = 0; i < CACHE_MAX; i++) {
        cache_entry_t *e = &h->cache[i];
        if (e->key[0] && e->until_ms > now && !strcmp(e->key, key))
            return e;
    }
    return NULL;
}

/* Keeps R's answer: in its key's entry, else a free or expired one, else
 * the one that expires first. */
static void cache_put(publish_hook_t *h, const publish_hook_req_t *r,
                      int64_t now)
{
    if (h->cache_ms <= 0)
        return;
    cache_entry_t *e = NULL;
    for (int i = 0; i < CACHE_MAX && !e; i++)
        if (!strcmp(h->cache[i].key, r->key))
            e = &h->cache[i];
    for (int i = 0; i < CACHE_MAX && !e; i++)
        if (!h->cache[i].key[0] || h->cache[i].until_ms <= now)
            e = &h->cache[i];
    if (!e) {
        e = &h->cache[0];
        for (int i = 1; i < CACHE_MAX; i++)
            if (h->cache[i].until_ms < e->until_ms)
                e = &h->cache[i];
    }
    snprintf(e->key, sizeof(e->key), "%s", r->key);
    e->until_ms = now + h->cache_ms;
    e->answer = *r;
}

int publish_hook_ask(publish_hook_t *h, publish_hook_req_t *r)
{
    int64_t now = clock_mono_ms();
    h->st.asked++;
    const cache_entry_t *e = cache_find(h, r->key, now);
    if (e) {
        r->verdict = e->answer.verdict;
        snprintf(r->reason, sizeof(r->reason), "%s", e->answer.reason);
        snprintf(r->channel, sizeof(r->channel), "%s", e->answer.channel);
        snprintf(r->profile, sizeof(r->profile), "%s", e->answer.profile);
        r->priority = e->answer.priority;
        r->cached = true;
        h->st.cached++;
        return 1;
    }
    pthread_mutex_lock(&h->mu);
    bool full = h->outstanding >= h->queue_max;
    if (!full) {
        h->queue[(h->head + h->count) % h->queue_max] = r;
        h->count++;
        h->outstanding++;
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    if (full) {
        set_down(r, "%s", "too many publishes waiting for the hook");
        h->st.down++;
        return -EAGAIN;
    }
    return 0;
}

publish_hook_req_t *publish_hook_take(publish_hook_t *h)
{
    uint64_t n;
    if (read(h->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing signalled since the last read; the list decides */
    }
    pthread_mutex_lock(&h->mu);
    publish_hook_req_t *r = h->ndone ? h->done[0] : NULL;
    if (r) {
        h->ndone--;
        h->outstanding--;
        memmove(h->done, h->done + 1, (size_t)h->ndone * sizeof(*h->done));
    }
    pthread_mutex_unlock(&h->mu);
    if (!r)
        return NULL;
    switch (r->verdict) {
    case PUBLISH_HOOK_ALLOW:
        h->st.allowed++;
        cache_put(h, r, clock_mono_ms());
        break;
    case PUBLISH_HOOK_REFUSE:
        h->st.refused++;
        cache_put(h, r, clock_mono_ms());
        break;
    case PUBLISH_HOOK_DOWN:
        h->st.down++;
        break;
    }
    return r;
}

void publish_hook_get_stats(const publish_hook_t *h, publish_hook_stats_t *out)
{
    *out = h->st;
}

char *publish_hook_metrics(const publish_hook_t *h)
{
    static const char head[] =
        "# HELP prism_publish_hook_answers_total Publishes the platform's "
        "hook answered, by answer (down: the policy decided; cached: not "
        "asked again).\n# TYPE prism_publish_hook_answers_total counter\n";
    char *t = NULL;
    if (!h) /* described with no hook too: a dashboard finds it */
        return strdup(head);
    const publish_hook_stats_t *st = &h->st;
    if (asprintf(&t,
                 "%sprism_publish_hook_answers_total{answer=\"allowed\"} "
                 "%" PRIu64 "\n"
                 "prism_publish_hook_answers_total{answer=\"refused\"} "
                 "%" PRIu64 "\n"
                 "prism_publish_hook_answers_total{answer=\"down\"} "
                 "%" PRIu64 "\n"
                 "prism_publish_hook_answers_total{answer=\"cached\"} "
                 "%" PRIu64 "\n",
                 head, st->allowed, st->refused, st->down, st->cached) < 0)
        return NULL;
    return t;
}
