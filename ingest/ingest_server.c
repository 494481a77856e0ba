/* prism-ingest's event loop: RTMP sockets, SRT items, the coordinator link. */
#include "ingest_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "addr_limit.h"
#include "admission.h"
#include "avlog.h"
#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "flv_tag.h"
#include "log.h"
#include "netaddr.h"
#include "publisher.h"
#include "rtmp_conn.h"
#include "srt_ingest.h"
#include "stream_hub.h"
#include "zap.h"
#include "zsock.h"

#define READ_BUF    65536
#define READ_ROUNDS 4
#define ZAP_DOMAIN  "prism"
/* Connections accepted per wake of the listening socket, so a flood of
 * connects cannot starve the publishers already in. */
#define ACCEPTS_PER_WAKE 64
/* Items taken from the SRT threads' queue per loop turn, for the same
 * reason; the queue itself is bounded by srt_queue_packets. */
#define SRT_ITEMS_PER_TURN 4096
/* Messages queued on the media ROUTER per worker: the media credit bounds
 * the bytes, this bounds the count of small messages. */
#define MEDIA_SNDHWM 100000
/* Source addresses the per-address limits track at once (connections and
 * refused keys); a full table refuses connections from new addresses. */
#define LIMIT_ADDRS 4096

enum { EV_LISTEN = 1, EV_CONN, EV_WAKE, EV_ROUTER, EV_COORD };

typedef struct {
    int kind;
} ev_t;

typedef struct conn conn_t;

struct conn {
    ev_t ev;
    conn_t *next, *prev;
    int fd;
    rtmp_conn_t *rc;
    char addr[64];
    int64_t created_ms, last_ms;
    publisher_t *pub;
    bool pending;  /* an admission is outstanding */
    bool want_out; /* EPOLLOUT registered */
};

struct ingest_server {
    ingest_config_t cfg;
    rtmp_limits_t lim;
    int epfd, listen_fd, wake_fd;
    ev_t ev_listen, ev_wake, ev_router, ev_coord;
    int rtmp_port;
    atomic_bool stop;
    void *router, *coord;
    char media_endpoint[256]; /* bound */
    char media_public[256];   /* told to the coordinator */
    curve_keypair_t *kp;
    zap_t *zap;
    hub_t *hub;
    srt_ingest_t *srt;
    addr_limit_t *limits;
    conn_t *conns;
    uint32_t nconns;
    publisher_list_t *pubs;
    admission_t *adm;
    int64_t last_scan_ms, last_stats_ms, last_hb_ms, last_allow_ms;
    /* A coordinator accepted our Hello. Until one does, each heartbeat
     * tick sends the Hello again: one sent before any coordinator was
     * connected is dropped (ZMQ_IMMEDIATE with a leader and a standby),
     * and a coordinator that still knows this id from before a restart
     * would never ask, and keep the old media endpoint. */
    bool hello_acked;
    uint8_t rbuf[READ_BUF];
    struct {
        atomic_ullong accepted, refused, closed_error, closed_timeout;
        atomic_ullong pub_refused; /* accepted, then ended: codec, track */
    } n;
};

/* ------------------------------------------------------------ helpers */

static void send_coord(ingest_server_t *s, Prism__Envelope *env)
{
    if (!s->coord)
        return;
    int rc = envelope_send(s->coord, NULL, s->cfg.ingest_id, env, ZMQ_DONTWAIT);
    if (rc < 0 && rc != -EAGAIN)
        log_warn("ingest", "Cannot send to the coordinator.",
                 "call=envelope_send body=%s err=\"%s\"",
                 envelope_body_name(env), zmq_strerror(-rc));
}

/* send_coord for the publishers and the admissions. */
static void cb_send(void *opaque, Prism__Envelope *env)
{
    send_coord(opaque, env);
}

/* ------------------------------------------------------------ connections */

static void conn_close(ingest_server_t *s, conn_t *c, const char *why)
{
    log_info("ingest", "Closing RTMP connection.",
             "addr=%s key_set=%d why=\"%s\"", c->addr,
             *rtmp_conn_key(c->rc) ? 1 : 0, why);
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    addr_limit_close(s->limits, c->addr);
    if (c->pub)
        publisher_end(&c->pub, why);
    if (c->pending)
        admission_forget(s->adm, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    rtmp_conn_free(&c->rc);
    free(c);
}

/* Writes pending output; returns -1 when the connection must close. */
static int conn_flush(ingest_server_t *s, conn_t *c)
{
    const uint8_t *d;
    size_t n;
    while ((n = rtmp_conn_pending(c->rc, &d)) > 0) {
        ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return -1;
        }
        rtmp_conn_consumed(c->rc, (size_t)w);
    }
    bool want = rtmp_conn_pending(c->rc, &d) > 0;
    if (want != c->want_out) {
        struct epoll_event ev = {EPOLLIN | (want ? EPOLLOUT : 0), {.ptr = c}};
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
    return 0;
}

/* Flushes c's output, and closes it if its publish was refused. */
static void conn_after(ingest_server_t *s, conn_t *c)
{
    if (conn_flush(s, c) < 0)
        conn_close(s, c, "write failed");
    else if (rtmp_conn_state(c->rc) == RTMP_CONN_CLOSING)
        conn_close(s, c, "publish refused");
}

/* ------------------------------------------------------------ admission */

/*
 * An admission's answer to an RTMP connection. The connection may be
 * inside its own input callback, so this only writes the answer into its
 * output; flushing and closing is left to cb_admit_after (conn_after).
 */
static void cb_admit_answer(void *opaque, void *conn, publisher_t *p,
                            const char *reason)
{
    (void)opaque;
    conn_t *c = conn;
    c->pending = false;
    if (p) {
        c->pub = p;
        publisher_set_client(p, rtmp_conn_meta(c->rc)->client);
    }
    rtmp_conn_publish_result(c->rc, p != NULL, reason);
}

static void cb_admit_after(void *opaque, void *conn)
{
    conn_after(opaque, conn);
}

/* ------------------------------------------------------------ RTMP events */

static int cb_publish(void *opaque, rtmp_conn_t *rc, const char *app,
                      const char *key)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    (void)app;
    c->pending = true;
    admission_ask(s->adm, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_RTMP, c, NULL,
                  key, c->addr, rtmp_conn_meta(rc)->client);
    return 0;
}

/*
 * Ends an accepted RTMP publish whose codec Prism does not carry: the
 * publisher gets onStatus error with the reason, the coordinator a
 * StreamEnd with it (its stream.ended event), so the stream is never
 * placed, nor placed again. The connection closes after the flush.
 */
/* Ends a publish the publisher refused (a codec Prism does not carry) or
 * cannot go on with (a track the hub cannot keep): counted, the client
 * gets the reason in onStatus, then the connection closes. */
static void pub_refuse(ingest_server_t *s, conn_t *c, const char *reason)
{
    atomic_fetch_add(&s->n.pub_refused, 1);
    log_warn("ingest", "Publish refused.", "stream=%s addr=%s reason=\"%s\"",
             publisher_stream_id(c->pub), c->addr, reason);
    rtmp_conn_publish_fail(c->rc, reason);
    publisher_end(&c->pub, reason);
}

static int cb_media(void *opaque, rtmp_conn_t *rc, uint8_t type, uint32_t ts,
                    pktbuf_t *buf, uint32_t off, uint32_t len)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    if (!c->pub)
        return 0;
    char why[200];
    int r = publisher_rtmp_media(c->pub, type == RTMP_MSG_VIDEO, ts, buf, off,
                                 len, why, sizeof(why));
    if (r == FLV_EUNSUPPORTED || r == PUBLISHER_ETRACK) {
        pub_refuse(s, c, why);
        return 0;
    }
    return r;
}

static void cb_metadata(void *opaque, rtmp_conn_t *rc)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    char why[200];
    int r = c->pub ? publisher_rtmp_metadata(c->pub, rtmp_conn_meta(rc), why,
                                             sizeof(why))
                   : 0;
    if (r == FLV_EUNSUPPORTED || r == PUBLISHER_ETRACK)
        pub_refuse(s, c, why);
}

static void cb_unpublish(void *opaque, rtmp_conn_t *rc)
{
    (void)opaque;
    conn_t *c = rtmp_conn_user(rc);
    if (c->pub)
        publisher_end(&c->pub, "publisher stopped");
}

static const rtmp_conn_cbs_t rtmp_cbs = {cb_publish, cb_media, cb_metadata,
                                         cb_unpublish};

static void on_accept(ingest_server_t *s)
{
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("ingest", "Accept failed.", "call=accept4 err=\"%s\"",
                         strerror(errno));
            return;
        }
        char addr[64];
        netaddr_str((struct sockaddr *)&ss, addr, sizeof(addr));
        int64_t now = clock_mono_ms();
        int lr = -ENFILE;
        if (s->nconns >= (uint64_t)s->cfg.max_connections ||
            (lr = addr_limit_open(s->limits, addr, now)) < 0) {
            log_warn("ingest", "Refusing a connection.", "addr=%s why=%s", addr,
                     lr == -EMFILE   ? "max_conns_per_addr"
                     : lr == -ENOSPC ? "address table full"
                                     : "max_connections");
            atomic_fetch_add(&s->n.refused, 1);
            close(fd);
            continue;
        }
        conn_t *c = calloc(1, sizeof(*c));
        if (c)
            c->rc = rtmp_conn_new(&s->lim, &rtmp_cbs, s);
        if (!c || !c->rc) {
            if (c)
                free(c);
            addr_limit_close(s->limits, addr);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->ev.kind = EV_CONN;
        c->fd = fd;
        snprintf(c->addr, sizeof(c->addr), "%s", addr);
        c->created_ms = c->last_ms = now;
        rtmp_conn_set_user(c->rc, c);
        struct epoll_event ev = {EPOLLIN, {.ptr = c}};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            rtmp_conn_free(&c->rc);
            free(c);
            addr_limit_close(s->limits, addr);
            close(fd);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        atomic_fetch_add(&s->n.accepted, 1);
    }
}

static void on_conn(ingest_server_t *s, conn_t *c, uint32_t events)
{
    if (events & EPOLLOUT) {
        if (conn_flush(s, c) < 0) {
            conn_close(s, c, "write failed");
            return;
        }
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (int round = 0; round < READ_ROUNDS; round++) {
        ssize_t n = recv(c->fd, s->rbuf, sizeof(s->rbuf), 0);
        if (n == 0) {
            conn_close(s, c, "peer closed");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_close(s, c, "read failed");
            return;
        }
        c->last_ms = clock_mono_ms();
        int rc = rtmp_conn_input(c->rc, s->rbuf, (size_t)n);
        if (rc < 0) {
            atomic_fetch_add(&s->n.closed_error, 1);
            conn_flush(s, c);
            conn_close(s, c, rtmp_conn_strerror(rc));
            return;
        }
        if (rtmp_conn_state(c->rc) == RTMP_CONN_CLOSING ||
            (size_t)n < sizeof(s->rbuf))
            break;
    }
    conn_after(s, c);
}

/* ------------------------------------------------------------ SRT items */

static void on_srt_items(ingest_server_t *s)
{
    srtq_item_t *it;
    for (int budget = 0;
         budget < SRT_ITEMS_PER_TURN && (it = srt_ingest_pop(s->srt));
         budget++) {
        publisher_t *p = it->publisher;
        switch (it->kind) {
        case SRTQ_ADMIT:
            admission_ask(s->adm, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT,
                          NULL, it->admit, it->admit->key, it->admit->addr, "");
            break;
        case SRTQ_TRACK:
            if (p)
                publisher_srt_track(p, it->track, &it->info, it->fps,
                                    it->client);
            break;
        case SRTQ_PKT:
            if (p)
                publisher_packet(p, &it->pkt);
            break;
        case SRTQ_END:
            if (p)
                publisher_end(&p, it->why[0] ? it->why : "SRT publisher left");
            break;
        }
        srt_queue_item_free(&it);
    }
}

/* ------------------------------------------------------------ coordinator */

static void send_hello(ingest_server_t *s);

static void on_coord(ingest_server_t *s)
{
    for (int budget = 0; budget < 256; budget++) {
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(s->coord, ZMQ_DONTWAIT, NULL, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_PUBLISH_REPLY) {
            admission_reply(s->adm, env->publish_reply);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_REGISTER_ACK) {
            const Prism__RegisterAck *a = env->register_ack;
            s->hello_acked = a->accepted;
            if (a->accepted) {
                log_info("ingest", "Coordinator knows us.", "coordinator=%s",
                         a->coordinator_id ? a->coordinator_id : "");
            } else { /* e.g. a restarted coordinator: introduce again */
                log_info("ingest", "Coordinator asks for a Hello.",
                         "reason=\"%s\"", a->reason ? a->reason : "");
                send_hello(s);
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_ERROR)
            log_warn("ingest", "Coordinator reported an error.",
                     "code=%u message=\"%s\"", env->error->code,
                     env->error->message ? env->error->message : "");
        envelope_free(&env);
    }
}

static void send_hello(ingest_server_t *s)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Hello h = PRISM__HELLO__INIT;
    char host[128] = "";
    gethostname(host, sizeof(host) - 1);
    env.body_case = PRISM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    h.role = PRISM__NODE_ROLE__NODE_ROLE_INGEST;
    h.node_id = s->cfg.ingest_id;
    h.software = "prism-ingest " PRISM_VERSION;
    h.host = host;
    h.media_endpoint = s->media_public;
    send_coord(s, &env);
}

static void send_heartbeat(ingest_server_t *s)
{
    static uint64_t seq;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    hb.seq = ++seq;
    send_coord(s, &env);
}

static void scan_timeouts(ingest_server_t *s, int64_t now)
{
    admission_expire(s->adm, now);
    conn_t *next;
    for (conn_t *c = s->conns; c; c = next) {
        next = c->next;
        rtmp_conn_state_t st = rtmp_conn_state(c->rc);
        const char *why = NULL;
        if (st != RTMP_CONN_PUBLISHING && !c->pending &&
            now - c->created_ms > s->cfg.handshake_timeout_ms)
            why = "handshake timeout";
        else if (now - c->last_ms > s->cfg.idle_timeout_ms)
            why = "idle timeout";
        if (why) {
            atomic_fetch_add(&s->n.closed_timeout, 1);
            conn_close(s, c, why);
        }
    }
}

/* ------------------------------------------------------------ lifecycle */

static int listen_tcp(ingest_server_t *s)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    char why[256];
    int rc = netaddr_resolve(s->cfg.rtmp_listen, SOCK_STREAM, &sa, &salen, why,
                             sizeof(why));
    if (rc < 0) {
        log_error("ingest", "Bad RTMP listen address.",
                  "rtmp_listen=%s why=\"%s\"", s->cfg.rtmp_listen, why);
        return rc;
    }
    int fd =
        socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    const char *call = "socket";
    if (fd < 0)
        goto err;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* [::] takes IPv4 clients too, whatever net.ipv6.bindv6only says. */
    call = "setsockopt IPV6_V6ONLY";
    if (sa.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
        goto err;
    call = "bind";
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0)
        goto err;
    call = "listen";
    if (listen(fd, 1024) < 0)
        goto err;
    salen = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &salen);
    s->rtmp_port = netaddr_port((struct sockaddr *)&sa);
    s->listen_fd = fd;
    return 0;
err:
    rc = -errno;
    log_error("ingest", "Cannot listen for RTMP.",
              "call=%s rtmp_listen=%s err=\"%s\"", call, s->cfg.rtmp_listen,
              strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The endpoint workers should connect to: media_endpoint if set, else the
 * bound one with a wildcard host replaced by this host's name. */
static void public_endpoint(ingest_server_t *s)
{
    if (s->cfg.media_endpoint[0]) {
        snprintf(s->media_public, sizeof(s->media_public), "%s",
                 s->cfg.media_endpoint);
        return;
    }
    snprintf(s->media_public, sizeof(s->media_public), "%s", s->media_endpoint);
    const char *wild = strstr(s->media_endpoint, "://0.0.0.0:");
    if (!wild)
        wild = strstr(s->media_endpoint, "://*:");
    if (!wild)
        wild = strstr(s->media_endpoint, "://[::]:");
    if (!wild)
        return;
    char host[128] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        return;
    const char *port = strrchr(s->media_endpoint, ':');
    snprintf(s->media_public, sizeof(s->media_public), "tcp://%s%s", host,
             port);
}

static int add_zmq_fd(ingest_server_t *s, void *sock, ev_t *ev)
{
    int fd;
    size_t fl = sizeof(fd);
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &fl) < 0)
        return -errno;
    struct epoll_event e = {EPOLLIN, {.ptr = ev}};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

/* libzmq takes IPv6 addresses only when told (it is dual stack then):
 * turns that on for sock when endpoint has a bracketed host. */
static int zmq_ipv6_for(void *sock, const char *endpoint, const char *what)
{
    int on = 1;
    if (!strchr(endpoint, '[') ||
        zmq_setsockopt(sock, ZMQ_IPV6, &on, sizeof(on)) == 0)
        return 0;
    log_error("ingest", "Cannot enable IPv6 on a ZeroMQ socket.",
              "call=zmq_setsockopt(ZMQ_IPV6) socket=%s endpoint=%s err=\"%s\"",
              what, endpoint, zmq_strerror(zmq_errno()));
    return -EINVAL;
}

static int setup_zmq(ingest_server_t *s)
{
    if (s->cfg.key_file[0]) {
        if (curve_keys_load_secret(s->cfg.key_file, &s->kp) < 0)
            return -EINVAL;
    }
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndhwm = MEDIA_SNDHWM;
    o.sndtimeo_ms = 0;
    o.router_mandatory = true;
    o.max_msg_size = 1 << 20; /* workers send small control messages */
    s->router = zsock_new(ZMQ_ROUTER, &o);
    if (!s->router)
        return -ENOMEM;
    if (s->kp) {
        if (!s->cfg.allow_dir[0]) {
            log_error("ingest", "CURVE needs an allowlist directory.",
                      "key_file=%s allow_dir=(empty)", s->cfg.key_file);
            return -EINVAL;
        }
        s->zap = zap_new(s->cfg.allow_dir, ZAP_DOMAIN);
        if (!s->zap || zsock_curve_server(s->router, s->kp, ZAP_DOMAIN) < 0)
            return -EINVAL;
    }
    if (zmq_ipv6_for(s->router, s->cfg.media_bind, "media") < 0)
        return -EINVAL;
    if (zsock_bind(s->router, s->cfg.media_bind) < 0)
        return -EADDRINUSE;
    zsock_last_endpoint(s->router, s->media_endpoint,
                        sizeof(s->media_endpoint));
    public_endpoint(s);
    if (s->cfg.coordinator[0]) {
        zsock_opts_t co;
        zsock_opts_default(&co);
        co.sndtimeo_ms = 0;
        co.max_msg_size = ENVELOPE_MAX_BYTES;
        s->coord = zsock_new(ZMQ_DEALER, &co);
        if (!s->coord)
            return -ENOMEM;
        if (s->kp) {
            char pub[CURVE_KEY_Z85_SIZE];
            if (curve_keys_load_public(s->cfg.coordinator_key, pub) < 0 ||
                zsock_curve_client(s->coord, s->kp, pub) < 0)
                return -EINVAL;
        }
        /* A leader and its standbys: only the live one is sent to. */
        if (zsock_connect_list(s->coord, s->cfg.coordinator) < 0)
            return -EINVAL;
    }
    return 0;
}

ingest_server_t *ingest_server_new(const ingest_config_t *cfg)
{
    ingest_server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->epfd = s->listen_fd = s->wake_fd = -1;
    s->lim.max_chunk_size = (uint32_t)cfg->max_chunk_size;
    s->lim.max_message = (uint32_t)cfg->max_message;
    s->lim.max_amf_depth = (uint32_t)cfg->max_amf_depth;
    s->lim.max_streams = (uint32_t)cfg->max_streams_per_conn;
    s->ev_listen.kind = EV_LISTEN;
    s->ev_wake.kind = EV_WAKE;
    s->ev_router.kind = EV_ROUTER;
    s->ev_coord.kind = EV_COORD;
    s->limits =
        addr_limit_new(LIMIT_ADDRS, (uint32_t)cfg->max_conns_per_addr,
                       (uint32_t)cfg->bad_key_limit, cfg->bad_key_window_ms);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!s->limits || s->epfd < 0 || s->wake_fd < 0) {
        log_error("ingest", "Cannot set up the event loop.",
                  "call=epoll_create1/eventfd err=\"%s\"", strerror(errno));
        goto err;
    }
    if (listen_tcp(s) < 0 || setup_zmq(s) < 0)
        goto err;
    hub_limits_t hl = {(uint32_t)cfg->gop_max_packets,
                       (uint64_t)cfg->gop_max_bytes,
                       (uint32_t)cfg->max_subscribers,
                       (uint32_t)cfg->max_streams, cfg->gop_history_ms};
    s->hub = hub_new(s->router, cfg->ingest_id, &hl);
    if (!s->hub)
        goto err;
    s->pubs = publisher_list_new(s->hub, cb_send, s);
    if (!s->pubs)
        goto err;
    admission_cbs_t acbs = {cb_send, cb_admit_answer, cb_admit_after, s};
    s->adm = admission_new(&acbs, s->pubs, s->limits, cfg->ingest_id,
                           s->coord != NULL, cfg->admit_timeout_ms);
    if (!s->adm)
        goto err;
    struct epoll_event e1 = {EPOLLIN, {.ptr = &s->ev_listen}};
    struct epoll_event e2 = {EPOLLIN, {.ptr = &s->ev_wake}};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &e1) < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &e2) < 0 ||
        add_zmq_fd(s, s->router, &s->ev_router) < 0 ||
        (s->coord && add_zmq_fd(s, s->coord, &s->ev_coord) < 0)) {
        log_error("ingest", "Cannot watch the sockets.",
                  "call=epoll_ctl err=\"%s\"", strerror(errno));
        goto err;
    }
    if (cfg->srt_listen[0]) {
        /* The SRT demuxer's complaints about hostile streams go through
         * log.h, rate limited. */
        avlog_route((int)cfg->lav_log_burst, (int)cfg->lav_log_window_ms);
        s->srt = srt_ingest_new(
            cfg->srt_listen, (int)cfg->srt_latency_ms,
            (int)cfg->idle_timeout_ms, (int)cfg->admit_timeout_ms,
            (int)cfg->srt_admit_wait_ms, (uint32_t)cfg->srt_queue_packets,
            s->limits, s->wake_fd);
        if (!s->srt)
            goto err;
    }
    log_info("ingest", "Ingest ready.",
             "id=%s rtmp_port=%d srt_port=%d media=%s coordinator=%s",
             cfg->ingest_id, s->rtmp_port, s->srt ? srt_ingest_port(s->srt) : 0,
             s->media_endpoint,
             cfg->coordinator[0] ? cfg->coordinator : "(open mode)");
    return s;
err:
    ingest_server_free(&s);
    return NULL;
}

/*
 * One turn per epoll wakeup. The ZeroMQ sockets and the SRT queue are
 * served when their fd signalled, and otherwise at least every
 * ZMQ_POLL_US: ZMQ_FD only signals a state change (a send can consume
 * it), and the per-turn zmq_msg_recv that a plain "every turn" would cost
 * is measurable at tens of thousands of turns per second.
 */
#define ZMQ_POLL_US 2000

/* Packets read in a turn go to the workers in one burst at its end
 * (hub_flush), or sooner once the turn has run this long, so that a long
 * turn (many busy connections) does not hold the first ones back. */
#define FLUSH_US 500

int ingest_server_run(ingest_server_t *s)
{
    struct epoll_event evs[128];
    send_hello(s);
    s->last_stats_ms = s->last_scan_ms = clock_mono_ms();
    int64_t last_zmq_us = 0;
    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(s->epfd, evs, 128, 50);
        if (n < 0 && errno != EINTR) {
            log_error("ingest", "Event loop failed.",
                      "call=epoll_wait err=\"%s\"", strerror(errno));
            return -errno;
        }
        bool zmq_due = false, wake = false;
        int64_t flushed_us = clock_mono_us();
        for (int i = 0; i < n; i++) {
            ev_t *ev = evs[i].data.ptr;
            switch (ev->kind) {
            case EV_LISTEN:
                on_accept(s);
                break;
            case EV_CONN:
                on_conn(s, (conn_t *)ev, evs[i].events);
                if (clock_mono_us() - flushed_us >= FLUSH_US) {
                    hub_flush(s->hub);
                    flushed_us = clock_mono_us();
                }
                break;
            case EV_WAKE: {
                uint64_t v;
                ssize_t r = read(s->wake_fd, &v, sizeof(v));
                (void)r;
                wake = true;
                break;
            }
            default:
                zmq_due = true; /* the router's or the coordinator's fd */
                break;
            }
        }
        int64_t now_us = clock_mono_us();
        if (now_us - last_zmq_us >= ZMQ_POLL_US)
            zmq_due = wake = true;
        if (s->srt && wake)
            on_srt_items(s);
        hub_flush(s->hub); /* the turn's packets leave in one burst */
        if (zmq_due) {
            last_zmq_us = now_us;
            hub_handle_router(s->hub);
            if (s->coord)
                on_coord(s);
        }
        int64_t now = now_us / 1000;
        if (now - s->last_scan_ms >= 250) {
            s->last_scan_ms = now;
            scan_timeouts(s, now);
            publisher_list_scan(s->pubs, now);
        }
        /* Due early when a stream's size or audio-only state is new: the
         * coordinator places it once it knows. */
        if (publisher_list_stats_due(s->pubs) ||
            now - s->last_stats_ms >= s->cfg.stats_interval_ms) {
            s->last_stats_ms = now;
            publisher_list_send_stats(s->pubs, now);
        }
        if (s->zap && s->cfg.allow_reload_ms > 0 &&
            now - s->last_allow_ms >= s->cfg.allow_reload_ms) {
            s->last_allow_ms = now;
            zap_reload_if_changed(s->zap); /* zap logs what it loads */
        }
        if (s->coord && now - s->last_hb_ms >= s->cfg.heartbeat_ms) {
            s->last_hb_ms = now;
            if (s->hello_acked)
                send_heartbeat(s);
            else
                send_hello(s);
        }
    }
    return 0;
}

void ingest_server_stop(ingest_server_t *s)
{
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    ssize_t r = write(s->wake_fd, &one, sizeof(one));
    (void)r;
}

void ingest_server_free(ingest_server_t **sp)
{
    if (!sp || !*sp)
        return;
    ingest_server_t *s = *sp;
    srt_ingest_free(&s->srt); /* first: its threads post to the loop */
    while (s->conns)
        conn_close(s, s->conns, "shutting down");
    publisher_list_free(&s->pubs, "shutting down");
    admission_free(&s->adm);
    hub_free(&s->hub);
    zsock_close(&s->router);
    zsock_close(&s->coord);
    zap_free(&s->zap);
    curve_keypair_free(&s->kp);
    addr_limit_free(&s->limits);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
    *sp = NULL;
}

int ingest_server_rtmp_port(const ingest_server_t *s)
{
    return s->rtmp_port;
}

int ingest_server_srt_port(const ingest_server_t *s)
{
    return s->srt ? srt_ingest_port(s->srt) : 0;
}

const char *ingest_server_media_endpoint(const ingest_server_t *s)
{
    return s->media_endpoint;
}

void ingest_server_counters(ingest_server_t *s, ingest_counters_t *o)
{
    o->accepted = atomic_load(&s->n.accepted);
    o->refused = atomic_load(&s->n.refused);
    o->closed_error = atomic_load(&s->n.closed_error);
    o->closed_timeout = atomic_load(&s->n.closed_timeout);
    uint64_t admitted = 0, refused = 0;
    if (s->adm)
        admission_counts(s->adm, &admitted, &refused);
    o->publish_ok = admitted;
    o->publish_refused = refused + atomic_load(&s->n.pub_refused);
    o->live_streams = s->pubs ? publisher_list_live(s->pubs) : 0;
    o->srt_dropped = s->srt ? srt_ingest_dropped(s->srt) : 0;
    srt_ingest_counters_t sc = {0};
    if (s->srt)
        srt_ingest_counters(s->srt, &sc);
    o->srt_refused = sc.refused;
    o->srt_deferred = sc.deferred;
    o->srt_late_refused = sc.late_refused;
    o->srt_closed_timeout = sc.closed_timeout;
    o->srt_closed_error = sc.closed_error;
}
