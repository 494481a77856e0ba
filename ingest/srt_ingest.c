/* SRT publishing: the listener, its admissions and its accept loop. */
#include "srt_ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srt/srt.h>
#include <srt/access_control.h>

#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "srt_conn.h"

#define MAX_CONNS 256

/* An accepted-in-callback admission waiting for srt_accept: decided
 * (publisher set) or still open (admit set, a reference held). */
typedef struct {
    SRTSOCKET sock;
    void *publisher;
    srt_admit_t *admit;
    char key[256];
    char stream_id[128];
    int64_t since_ms;
    bool used;
} admitted_t;

/* An accepted socket that srt_accept has not returned after this long
 * never will (libsrt dropped it after the callback): its publisher or
 * admission is released, so that its stream does not hold the key. */
#define ADMITTED_MAX_MS 10000
/* The listener's wait for a connection, in slices so that the stop is
 * seen: closing a listener does not wake a blocked srt_accept. */
#define ACCEPT_SLICE_MS 200
/* Connections waiting in libsrt's accept backlog. */
#define LISTEN_BACKLOG 64

struct srt_ingest {
    srt_conn_env_t env; /* shared with the publisher threads */
    SRTSOCKET listener;
    int eid; /* srt epoll watching the listener */
    int port;
    int latency_ms, admit_wait_ms;
    addr_limit_t *limits;
    pthread_t thread;
    bool thread_started;
    atomic_ullong n_refused, n_deferred;
    pthread_mutex_t cmu; /* conns and admitted */
    srt_conn_t *conns[MAX_CONNS];
    admitted_t admitted[MAX_CONNS];
};

int srt_ingest_parse_streamid(const char *sid, char *out, size_t outlen)
{
    const char *k = sid;
    size_t klen = strlen(sid);
    if (strncmp(sid, "#!::", 4) == 0) {
        k = NULL;
        const char *p = sid + 4;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n > 2 && p[0] == 'r' && p[1] == '=') {
                k = p + 2;
                klen = n - 2;
            } else if (n > 2 && p[0] == 'm' && p[1] == '=' &&
                       !(n == 9 && memcmp(p + 2, "publish", 7) == 0)) {
                return -EINVAL;
            }
            p += n;
            if (*p == ',')
                p++;
        }
        if (!k)
            return -EINVAL;
    }
    if (klen == 0 || klen >= outlen)
        return -EINVAL;
    memcpy(out, k, klen);
    out[klen] = 0;
    return 0;
}

srtq_item_t *srt_ingest_pop(srt_ingest_t *s)
{
    return srt_queue_pop(&s->env.queue);
}

uint64_t srt_ingest_dropped(const srt_ingest_t *s)
{
    return srt_queue_dropped(&s->env.queue);
}

void srt_ingest_counters(srt_ingest_t *s, srt_ingest_counters_t *out)
{
    out->refused = atomic_load(&s->n_refused);
    out->deferred = atomic_load(&s->n_deferred);
    out->late_refused = atomic_load(&s->env.n_late_refused);
    out->closed_timeout = atomic_load(&s->env.n_timeout);
    out->closed_error = atomic_load(&s->env.n_error);
}

int srt_ingest_port(const srt_ingest_t *s)
{
    return s->port;
}

/* Remembers an accepted socket (publisher or open admission a) for
 * listener_main's srt_accept. Returns false when the table is full. */
static bool remember_admitted(srt_ingest_t *s, SRTSOCKET ns, void *pub,
                              srt_admit_t *a, const char *key,
                              const char *stream_id)
{
    bool ok = false;
    pthread_mutex_lock(&s->cmu);
    for (int i = 0; i < MAX_CONNS && !ok; i++) {
        admitted_t *d = &s->admitted[i];
        if (d->used)
            continue;
        d->used = ok = true;
        d->sock = ns;
        d->publisher = pub;
        d->admit = a;
        d->since_ms = clock_mono_ms();
        snprintf(d->key, sizeof(d->key), "%s", key);
        snprintf(d->stream_id, sizeof(d->stream_id), "%s", stream_id);
    }
    pthread_mutex_unlock(&s->cmu);
    return ok;
}

/* Refuses ns in the listen callback with SRT rejection code `code`. */
static int refuse(srt_ingest_t *s, SRTSOCKET ns, int code)
{
    atomic_fetch_add(&s->n_refused, 1);
    srt_setrejectreason(ns, code);
    return -1;
}

/* Posts an ADMIT item for key from addr; NULL when out of memory. */
static srt_admit_t *ask(srt_ingest_t *s, const char *key, const char *addr)
{
    srtq_item_t *it = calloc(1, sizeof(*it));
    srt_admit_t *a = it ? srt_admit_new(key, addr) : NULL;
    if (!a) {
        free(it);
        return NULL;
    }
    it->kind = SRTQ_ADMIT;
    it->admit = a;
    srt_queue_push(&s->env.queue, it);
    return a;
}

/* The listen callback's answer for a, which it waited `wait` ms for and
 * did not see answered: accept now and let the publisher thread wait (0),
 * or, when configured to decide in the callback only, refuse (-1) unless
 * the answer came meanwhile (1: accept_answered decides). */
static int accept_unanswered(srt_ingest_t *s, SRTSOCKET ns, srt_admit_t *a,
                             const char *key, const char *addr, int wait)
{
    if (wait >= s->env.admit_ms) {
        /* Configured to decide in the callback only. */
        pthread_mutex_lock(&a->mu);
        bool done = a->done;
        if (!done)
            a->abandoned = true;
        pthread_mutex_unlock(&a->mu);
        if (done)
            return 1;
        srt_admit_unref(a);
        log_warn("srt", "No admission answer in time.", "key_len=%zu addr=%s",
                 strlen(key), addr);
        srt_setrejectreason(ns, SRT_REJX_DOWN);
        return -1;
    }
    atomic_fetch_add(&s->env.deferred_open, 1);
    if (!remember_admitted(s, ns, NULL, a, key, "")) {
        srt_conn_drop_admit(&s->env, a, "ingest busy");
        return refuse(s, ns, SRT_REJX_OVERLOAD);
    }
    atomic_fetch_add(&s->n_deferred, 1);
    log_info("srt", "Accepting before the admission answer.",
             "key_len=%zu addr=%s waited_ms=%d", strlen(key), addr, wait);
    return 0;
}

/* The listen callback's answer for a, which the loop answered. */
static int accept_answered(srt_ingest_t *s, SRTSOCKET ns, srt_admit_t *a,
                           const char *key)
{
    pthread_mutex_lock(&a->mu);
    bool ok = a->accepted;
    int code = a->reject_code;
    void *pub = a->publisher;
    char sid[128];
    snprintf(sid, sizeof(sid), "%s", a->stream_id);
    pthread_mutex_unlock(&a->mu);
    srt_admit_unref(a);
    if (!ok) {
        srt_setrejectreason(ns, code ? code : SRT_REJX_FORBIDDEN);
        return -1;
    }
    if (!remember_admitted(s, ns, pub, NULL, key, sid)) {
        /* The loop holds a publisher for this; END releases it. */
        srt_queue_post_end(&s->env.queue, pub, "ingest busy");
        return refuse(s, ns, SRT_REJX_OVERLOAD);
    }
    return 0;
}

/*
 * libsrt's listen callback. It runs on libsrt's receiver thread, which
 * also reads every accepted socket of this port: while it waits, every SRT
 * publisher here is frozen. So it waits for the loop's answer at most
 * admit_wait_ms (and not at all while an earlier admission is still open,
 * so that slow answers do not add up); an answer in that time gives a real
 * SRT rejection code. Without one, the connection is accepted and its
 * publisher thread waits for the answer (srt_conn.c), closing the
 * connection if the key is refused or no answer comes in admit_timeout_ms.
 */
static int listen_cb(void *opaque, SRTSOCKET ns, int hsversion,
                     const struct sockaddr *peer, const char *streamid)
{
    (void)hsversion;
    srt_ingest_t *s = opaque;
    char key[256], addr[64];
    netaddr_str(peer, addr, sizeof(addr));
    if (!streamid ||
        srt_ingest_parse_streamid(streamid, key, sizeof(key)) < 0) {
        log_warn("srt", "Refusing a connection without a publish key.",
                 "addr=%s", addr);
        return refuse(s, ns, SRT_REJX_BAD_REQUEST);
    }
    if (addr_limit_blocked(s->limits, addr, clock_mono_ms())) {
        log_warn("srt", "Refusing a rate-limited address.", "addr=%s", addr);
        return refuse(s, ns, SRT_REJX_OVERLOAD);
    }
    srt_admit_t *a = ask(s, key, addr);
    if (!a)
        return refuse(s, ns, SRT_REJX_OVERLOAD);
    int admit_ms = s->env.admit_ms;
    int wait = s->admit_wait_ms < admit_ms ? s->admit_wait_ms : admit_ms;
    if (wait < admit_ms && atomic_load(&s->env.deferred_open) > 0)
        wait = 0;
    if (!srt_admit_wait(a, a->asked_ms + wait, &s->env.stop)) {
        int rc = accept_unanswered(s, ns, a, key, addr, wait);
        if (rc <= 0)
            return rc;
    }
    return accept_answered(s, ns, a, key);
}

/* Releases what admitted sockets srt_accept never returned still hold. */
static void sweep_admitted(srt_ingest_t *s)
{
    int64_t now = clock_mono_ms();
    for (int i = 0; i < MAX_CONNS; i++) {
        admitted_t d;
        pthread_mutex_lock(&s->cmu);
        admitted_t *a = &s->admitted[i];
        bool stale = a->used && now - a->since_ms >= ADMITTED_MAX_MS;
        if (stale) {
            d = *a;
            a->used = false;
        }
        pthread_mutex_unlock(&s->cmu);
        if (!stale)
            continue;
        log_warn("srt", "An admitted connection never reached accept.",
                 "key_len=%zu waited_ms=%lld", strlen(d.key),
                 (long long)(now - d.since_ms));
        if (d.publisher)
            srt_queue_post_end(&s->env.queue, d.publisher,
                               "connection never established");
        if (d.admit)
            srt_conn_drop_admit(&s->env, d.admit,
                                "connection never established");
    }
}

/* Joins finished connection threads; with `all`, every thread. */
static void reap(srt_ingest_t *s, bool all)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        pthread_mutex_lock(&s->cmu);
        srt_conn_t *c = s->conns[i];
        bool take = c && (all || srt_conn_finished(c));
        if (take)
            s->conns[i] = NULL;
        pthread_mutex_unlock(&s->cmu);
        if (take)
            srt_conn_free(&c);
    }
}

/* Releases what an accepted socket ns that gets no thread holds. */
static void release_accepted(srt_ingest_t *s, SRTSOCKET ns, void *pub,
                             srt_admit_t *adm)
{
    if (pub)
        srt_queue_post_end(&s->env.queue, pub, "ingest busy");
    if (adm)
        srt_conn_drop_admit(&s->env, adm, "ingest busy");
    srt_close(ns);
}

/* Takes what the listen callback remembered for ns into c (NULL when out
 * of memory) and a free slot for it. Returns false, c not taken, when ns
 * is unknown or no slot is free; *pub and *adm are set either way. */
static bool take_admitted(srt_ingest_t *s, SRTSOCKET ns, srt_conn_t *c,
                          void **pub, srt_admit_t **adm)
{
    int slot = -1;
    *pub = NULL;
    *adm = NULL;
    pthread_mutex_lock(&s->cmu);
    for (int i = 0; i < MAX_CONNS; i++) {
        admitted_t *d = &s->admitted[i];
        if (d->used && d->sock == ns) {
            *pub = d->publisher;
            *adm = d->admit;
            if (c) {
                snprintf(c->key, sizeof(c->key), "%s", d->key);
                snprintf(c->stream_id, sizeof(c->stream_id), "%s",
                         d->stream_id);
            }
            d->used = false;
        }
        if (slot < 0 && !s->conns[i])
            slot = i;
    }
    bool known = *pub || *adm;
    bool ok = c && slot >= 0 && known;
    if (ok)
        s->conns[slot] = c;
    pthread_mutex_unlock(&s->cmu);
    return ok;
}

/* Starts a publisher thread for the accepted socket ns from ss. */
static void on_accepted(srt_ingest_t *s, SRTSOCKET ns,
                        const struct sockaddr_storage *ss)
{
    srt_conn_t *c = calloc(1, sizeof(*c));
    void *pub;
    srt_admit_t *adm;
    if (!take_admitted(s, ns, c, &pub, &adm)) {
        free(c);
        release_accepted(s, ns, pub, adm);
        return;
    }
    c->env = &s->env;
    c->sock = ns;
    c->publisher = pub;
    c->admit = adm;
    netaddr_str((const struct sockaddr *)ss, c->addr, sizeof(c->addr));
    if (srt_conn_start(c) < 0) {
        release_accepted(s, ns, pub, adm);
        atomic_store(&c->finished, true); /* reap frees it */
    }
}

static void *listener_main(void *arg)
{
    srt_ingest_t *s = arg;
    while (!atomic_load(&s->env.stop)) {
        struct sockaddr_storage ss;
        int sl = sizeof(ss);
        SRT_EPOLL_EVENT ev[4];
        int nev = srt_epoll_uwait(s->eid, ev, 4, ACCEPT_SLICE_MS);
        reap(s, false);
        sweep_admitted(s);
        if (nev <= 0)
            continue;
        SRTSOCKET ns = srt_accept(s->listener, (struct sockaddr *)&ss, &sl);
        if (ns == SRT_INVALID_SOCK) {
            if (atomic_load(&s->env.stop))
                break;
            int err = srt_getlasterror(NULL);
            if (err == SRT_EASYNCRCV || err == SRT_ETIMEOUT)
                continue;
            log_error("srt", "Accept failed.", "call=srt_accept err=\"%s\"",
                      srt_getlasterror_str());
            break;
        }
        on_accepted(s, ns, &ss);
    }
    return NULL;
}

srt_ingest_t *srt_ingest_new(const char *listen, int latency_ms,
                             int idle_timeout_ms, int admit_timeout_ms,
                             int admit_wait_ms, uint32_t queue_packets,
                             addr_limit_t *limits, int wake_fd)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char why[256];
    if (netaddr_resolve(listen, SOCK_DGRAM, &sa, &salen, why, sizeof(why)) <
        0) {
        log_error("srt", "Bad SRT listen address.", "srt_listen=%s why=\"%s\"",
                  listen, why);
        return NULL;
    }
    srt_ingest_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->listener = SRT_INVALID_SOCK;
    s->eid = -1;
    srt_queue_init(&s->env.queue, queue_packets, wake_fd);
    pthread_mutex_init(&s->cmu, NULL);
    s->latency_ms = latency_ms;
    s->env.idle_ms = idle_timeout_ms;
    s->env.admit_ms = admit_timeout_ms;
    s->admit_wait_ms = admit_wait_ms;
    s->limits = limits;
    srt_startup();
    srt_setloglevel(2); /* LOG_CRIT: we log what matters ourselves */
    s->listener = srt_create_socket();
    if (s->listener == SRT_INVALID_SOCK)
        goto srt_err;
    /* [::] takes IPv4 callers too; libsrt wants this said before binding
     * an IPv6 wildcard. */
    int v6only = 0;
    if (sa.ss_family == AF_INET6 &&
        srt_setsockflag(s->listener, SRTO_IPV6ONLY, &v6only, sizeof(v6only)) <
            0)
        goto srt_err;
    int no = 0, lat = latency_ms;
    srt_setsockflag(s->listener, SRTO_RCVSYN, &no, sizeof(no));
    srt_setsockflag(s->listener, SRTO_LATENCY, &lat, sizeof(lat));
    int tsbpd = 0;
    srt_setsockflag(s->listener, SRTO_TSBPDMODE, &tsbpd, sizeof(tsbpd));
    if (srt_bind(s->listener, (struct sockaddr *)&sa, (int)salen) < 0)
        goto srt_err;
    if (srt_listen_callback(s->listener, listen_cb, s) < 0)
        goto srt_err;
    if (srt_listen(s->listener, LISTEN_BACKLOG) < 0)
        goto srt_err;
    s->eid = srt_epoll_create();
    int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    if (s->eid < 0 || srt_epoll_add_usock(s->eid, s->listener, &events) < 0)
        goto srt_err;
    struct sockaddr_storage bound;
    int bl = sizeof(bound);
    if (srt_getsockname(s->listener, (struct sockaddr *)&bound, &bl) == 0)
        s->port = netaddr_port((struct sockaddr *)&bound);
    if (pthread_create(&s->thread, NULL, listener_main, s) != 0) {
        log_error("srt", "Cannot start the listener thread.",
                  "call=pthread_create");
        goto err;
    }
    s->thread_started = true;
    log_info("srt", "Listening for SRT publishers.", "srt_listen=%s port=%d",
             listen, s->port);
    return s;
srt_err:
    log_error("srt", "Cannot listen for SRT.", "srt_listen=%s err=\"%s\"",
              listen, srt_getlasterror_str());
err:
    srt_ingest_free(&s);
    return NULL;
}

void srt_ingest_free(srt_ingest_t **sp)
{
    if (!sp || !*sp)
        return;
    srt_ingest_t *s = *sp;
    atomic_store(&s->env.stop, true);
    if (s->listener != SRT_INVALID_SOCK)
        srt_close(s->listener);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    if (s->eid >= 0)
        srt_epoll_release(s->eid);
    reap(s, true);
    for (int i = 0; i < MAX_CONNS; i++) {
        admitted_t *d = &s->admitted[i];
        if (d->used && d->admit) /* accepted, never taken by srt_accept */
            srt_conn_drop_admit(&s->env, d->admit,
                                srt_conn_end_name(SRT_END_STOP));
        d->used = false;
    }
    srtq_item_t *it;
    while ((it = srt_ingest_pop(s))) {
        if (it->kind == SRTQ_ADMIT)
            srt_admit_done(it->admit, false, SRT_REJX_DOWN, "shutting down",
                           NULL, NULL);
        srt_queue_item_free(&it);
    }
    srt_cleanup();
    srt_queue_destroy(&s->env.queue);
    pthread_mutex_destroy(&s->cmu);
    free(s);
    *sp = NULL;
}
