/* Helpers shared by the ingest tests: clips, ffmpeg runs, a simulated
 * coordinator and a subscriber speaking the worker side of the media
 * protocol. Header-only on purpose: tests/unit/ globs test_*.c as test
 * programs, so shared test code cannot be a .c file of its own. */
#ifndef PRISM_TEST_INGEST_UTIL_H
#define PRISM_TEST_INGEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "media_frame.h"
#include "zsock.h"

extern char **environ;

/* ------------------------------------------------------------ files */

static inline const char *tu_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *b = getenv("PRISM_BUILD_DIR");
        snprintf(dir, sizeof(dir), "%s/var/ingest-test", b ? b : "/tmp");
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        if (system(cmd) != 0)
            return "/tmp";
    }
    return dir;
}

/* Runs argv (NULL-terminated), stderr to errpath if given; returns the exit
 * status or -1. */
static inline int tu_run(char *const argv[], const char *errpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (errpath)
        posix_spawn_file_actions_addopen(&fa, 2, errpath,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Makes (once) a 3 s 320x240 30 fps H.264 + AAC FLV clip; returns its
 * path. */
static inline const char *tu_clip(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/clip.flv", tu_dir());
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        return path;
    char *argv[] = {"ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=320x240:rate=30",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:sample_rate=44100",
                    "-t",
                    "3",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-g",
                    "30",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-shortest",
                    path,
                    NULL};
    if (tu_run(argv, NULL) != 0)
        return NULL;
    return path;
}

/* One packet of a reference list or of what a subscriber received. */
typedef struct {
    int64_t pts, dts;
    uint32_t size;
    bool key;
    uint64_t seq;
    bool discont;
    uint32_t track;
} tu_pkt_t;

/* Reads the packets of one stream ("v" or "a") of a file with ffprobe. */
static inline int tu_probe(const char *file, const char *sel, tu_pkt_t *out,
                           int max)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams %s -show_entries "
             "packet=pts,dts,size,flags -of csv=p=0 '%s'",
             sel, file);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    int n = 0;
    char line[256];
    while (n < max && fgets(line, sizeof(line), f)) {
        long long pts, dts;
        unsigned size;
        char flags[16] = "";
        if (sscanf(line, "%lld,%lld,%u,%15s", &pts, &dts, &size, flags) < 3)
            continue;
        out[n].pts = pts;
        out[n].dts = dts;
        out[n].size = size;
        out[n].key = flags[0] == 'K';
        n++;
    }
    pclose(f);
    return n;
}

/* ------------------------------------------------------------ coordinator */

/* A coordinator peer that admits keys starting with "good". */
typedef struct {
    char endpoint[256];
    atomic_bool stop;
    atomic_int hellos, requests, accepted, refused, stats, ends, heartbeats;
    char hello_endpoint[256];
    bool nack_heartbeat; /* answer the first Heartbeat "not registered" */
    char last_client[128];
    double last_fps, last_kbps, last_gop_s;
    uint32_t last_width, last_height, last_vcodec, last_acodec;
    char last_end_reason[256]; /* the last StreamEnd's reason */
    bool answer; /* false: never answer (admission timeout tests) */
    pthread_t thread;
    pthread_mutex_t mu;
    void *sock;
    pthread_barrier_t ready;
} tu_coord_t;

static inline void *tu_coord_main(void *arg)
{
    tu_coord_t *c = arg;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.router_mandatory = true;
    c->sock = zsock_new(ZMQ_ROUTER, &o);
    zsock_bind(c->sock, "tcp://127.0.0.1:*");
    zsock_last_endpoint(c->sock, c->endpoint, sizeof(c->endpoint));
    pthread_barrier_wait(&c->ready);
    while (!atomic_load(&c->stop)) {
        zmq_pollitem_t pi = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 50) <= 0)
            continue;
        envelope_peer_t from;
        Prism__Envelope *env = NULL;
        if (envelope_recv(c->sock, ZMQ_DONTWAIT, &from, &env, NULL) < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_HELLO) {
            pthread_mutex_lock(&c->mu);
            snprintf(c->hello_endpoint, sizeof(c->hello_endpoint), "%s",
                     env->hello->media_endpoint);
            pthread_mutex_unlock(&c->mu);
            atomic_fetch_add(&c->hellos, 1);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_HEARTBEAT) {
            if (atomic_fetch_add(&c->heartbeats, 1) == 0 && c->nack_heartbeat) {
                Prism__Envelope out = PRISM__ENVELOPE__INIT;
                Prism__RegisterAck ack = PRISM__REGISTER_ACK__INIT;
                out.body_case = PRISM__ENVELOPE__BODY_REGISTER_ACK;
                out.register_ack = &ack;
                ack.accepted = false;
                ack.reason = "not registered: send Register";
                envelope_send(c->sock, &from, "coord-test", &out, 0);
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_PUBLISH_REQUEST) {
            const Prism__PublishRequest *rq = env->publish_request;
            atomic_fetch_add(&c->requests, 1);
            if (c->answer) {
                bool ok = strncmp(rq->stream_key, "good", 4) == 0;
                char sid[300], tok[300];
                snprintf(sid, sizeof(sid), "s-%s", rq->stream_key);
                snprintf(tok, sizeof(tok), "t-%s", rq->stream_key);
                Prism__Envelope out = PRISM__ENVELOPE__INIT;
                Prism__PublishReply rep = PRISM__PUBLISH_REPLY__INIT;
                out.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REPLY;
                out.publish_reply = &rep;
                rep.request_id = rq->request_id;
                rep.accepted = ok;
                rep.reason = ok ? "" : "unknown stream key";
                rep.stream_id = ok ? sid : "";
                rep.subscribe_token = ok ? tok : "";
                rep.worker_id = "w1";
                envelope_send(c->sock, &from, "coord-test", &out, 0);
                atomic_fetch_add(ok ? &c->accepted : &c->refused, 1);
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_INGEST_STATS) {
            const Prism__IngestStats *st = env->ingest_stats;
            pthread_mutex_lock(&c->mu);
            if (st->source) {
                snprintf(c->last_client, sizeof(c->last_client), "%s",
                         st->source->client ? st->source->client : "");
                c->last_width = st->source->width;
                c->last_height = st->source->height;
                c->last_vcodec = st->source->video_codec;
                c->last_acodec = st->source->audio_codec;
            }
            c->last_fps = st->fps;
            c->last_kbps = st->bitrate_kbps;
            c->last_gop_s = st->keyframe_interval_s;
            pthread_mutex_unlock(&c->mu);
            atomic_fetch_add(&c->stats, 1);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_STREAM_END) {
            pthread_mutex_lock(&c->mu);
            snprintf(c->last_end_reason, sizeof(c->last_end_reason), "%s",
                     env->stream_end->reason ? env->stream_end->reason : "");
            pthread_mutex_unlock(&c->mu);
            atomic_fetch_add(&c->ends, 1);
        }
        envelope_free(&env);
    }
    zsock_close(&c->sock);
    return NULL;
}

static inline void tu_coord_start(tu_coord_t *c, bool answer)
{
    memset(c, 0, sizeof(*c));
    c->answer = answer;
    pthread_mutex_init(&c->mu, NULL);
    pthread_barrier_init(&c->ready, NULL, 2);
    pthread_create(&c->thread, NULL, tu_coord_main, c);
    pthread_barrier_wait(&c->ready);
    pthread_barrier_destroy(&c->ready);
}

static inline void tu_coord_stop(tu_coord_t *c)
{
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
}

/* ------------------------------------------------------------ subscriber */

#define TU_MAX_PKTS 4096

typedef struct {
    char endpoint[256];
    char stream_id[128];
    char token[128];
    uint64_t credit; /* initial credit */
    uint64_t refill; /* Credit sent after each packet (0: none) */
    atomic_bool stop;
    atomic_bool accepted;
    atomic_int refusals;
    char reason[128];
    /* tracks from the last SubscribeReply */
    uint32_t ntracks;
    uint32_t codec[4], kind[4], sr[4], ch[4], w[4], h[4], tbn[4], tbd[4];
    uint32_t xlen[4];
    uint8_t x0[4];
    /* packets, per track 0 and 1 */
    tu_pkt_t pkts[2][TU_MAX_PKTS];
    int npkts[2];
    uint64_t last_seq;
    bool seq_in_order;
    uint64_t max_dropped;
    int64_t first_pkt_ms;
    pthread_t thread;
} tu_sub_t;

static inline void tu_sub_send(void *sock, Prism__Envelope *env)
{
    envelope_send(sock, NULL, "worker-test", env, ZMQ_DONTWAIT);
}

static inline void *tu_sub_main(void *arg)
{
    tu_sub_t *u = arg;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.rcvhwm = 100000;
    void *sock = zsock_new(ZMQ_DEALER, &o);
    zsock_connect(sock, u->endpoint);
    int64_t last_try = 0;
    u->seq_in_order = true;
    bool first = true;
    while (!atomic_load(&u->stop)) {
        int64_t now = clock_mono_ms();
        if (!atomic_load(&u->accepted) && now - last_try >= 20) {
            last_try = now;
            Prism__Envelope env = PRISM__ENVELOPE__INIT;
            Prism__Subscribe s = PRISM__SUBSCRIBE__INIT;
            env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
            env.subscribe = &s;
            s.stream_id = u->stream_id;
            s.token = u->token;
            s.credit_bytes = u->credit;
            tu_sub_send(sock, &env);
        }
        zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 10) <= 0)
            continue;
        Prism__Envelope *env = NULL;
        zmq_msg_t payload;
        if (media_frame_recv(sock, ZMQ_DONTWAIT, NULL, &env, &payload) < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY) {
            const Prism__SubscribeReply *r = env->subscribe_reply;
            if (r->accepted) {
                atomic_store(&u->accepted, true);
                u->ntracks = (uint32_t)r->n_tracks;
                for (size_t i = 0; i < r->n_tracks && i < 4; i++) {
                    const Prism__Track *t = r->tracks[i];
                    uint32_t k = t->index < 4 ? t->index : 3;
                    u->codec[k] = t->codec;
                    u->kind[k] = t->kind;
                    u->sr[k] = t->sample_rate;
                    u->ch[k] = t->channels;
                    u->w[k] = t->width;
                    u->h[k] = t->height;
                    u->tbn[k] = t->timebase_num;
                    u->tbd[k] = t->timebase_den;
                    u->xlen[k] = (uint32_t)t->extradata.len;
                    u->x0[k] = t->extradata.len ? t->extradata.data[0] : 0;
                }
            } else if (!atomic_load(&u->accepted)) {
                atomic_fetch_add(&u->refusals, 1);
                /* "unknown stream" until the publish is admitted: keep
                 * the most telling reason. */
                if (r->reason && strcmp(r->reason, "unknown stream") != 0)
                    snprintf(u->reason, sizeof(u->reason), "%s", r->reason);
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_MEDIA_HEADER) {
            const Prism__MediaHeader *m = env->media_header;
            if (!first && m->seq != u->last_seq + 1)
                u->seq_in_order = false;
            if (first)
                u->first_pkt_ms = clock_mono_ms();
            first = false;
            u->last_seq = m->seq;
            if (m->dropped > u->max_dropped)
                u->max_dropped = m->dropped;
            uint32_t t = m->track < 2 ? m->track : 1;
            if (u->npkts[t] < TU_MAX_PKTS) {
                tu_pkt_t *p = &u->pkts[t][u->npkts[t]];
                p->pts = m->pts;
                p->dts = m->dts;
                p->key = m->keyframe;
                p->size = (uint32_t)zmq_msg_size(&payload);
                p->seq = m->seq;
                p->discont = m->discontinuity;
                p->track = m->track;
                /* Published after the packet: tests poll the count. */
                __atomic_store_n(&u->npkts[t], u->npkts[t] + 1,
                                 __ATOMIC_RELEASE);
            }
            if (u->refill) {
                Prism__Envelope ce = PRISM__ENVELOPE__INIT;
                Prism__Credit cr = PRISM__CREDIT__INIT;
                ce.body_case = PRISM__ENVELOPE__BODY_CREDIT;
                ce.credit = &cr;
                cr.stream_id = u->stream_id;
                cr.bytes = u->refill;
                tu_sub_send(sock, &ce);
            }
        }
        zmq_msg_close(&payload);
        envelope_free(&env);
    }
    zsock_close(&sock);
    return NULL;
}

static inline void tu_sub_start(tu_sub_t *u, const char *endpoint,
                                const char *stream_id, const char *token,
                                uint64_t credit)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->endpoint, sizeof(u->endpoint), "%s", endpoint);
    snprintf(u->stream_id, sizeof(u->stream_id), "%s", stream_id);
    snprintf(u->token, sizeof(u->token), "%s", token);
    u->credit = credit;
    pthread_create(&u->thread, NULL, tu_sub_main, u);
}

static inline void tu_sub_stop(tu_sub_t *u)
{
    atomic_store(&u->stop, true);
    pthread_join(u->thread, NULL);
}

/* ------------------------------------------------------------ RTMP client */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "amf0.h"
#include "rtmp_chunk.h"
#include "rtmp_handshake.h"

typedef struct {
    int fd;
    rtmp_chunk_reader_t rd;
    char status[128]; /* last onStatus code */
    char desc[256];   /* its description */
    int results;      /* _result messages seen */
    uint32_t out_chunk;
} tu_rtmp_t;

static inline int tu_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static inline int tu_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline int tu_read_exact(int fd, void *p, size_t n, int timeout_ms)
{
    uint8_t *b = p;
    while (n > 0) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = recv(fd, b, n, 0);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Waits until the server closes fd; true if it did within timeout_ms. */
static inline bool tu_closed_by_peer(int fd, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    uint8_t buf[4096];
    while (clock_mono_ms() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
    return false;
}

static inline int tu_rtmp_on_msg(void *opaque, rtmp_msg_t *m)
{
    tu_rtmp_t *c = opaque;
    if (m->type == RTMP_MSG_COMMAND_AMF0) {
        amf0_node_t nodes[64];
        amf0_doc_t d = {nodes, 64, 0, 0, 0};
        if (amf0_decode(&d, m->buf->data, m->length) == 0) {
            int name = amf0_top(&d, 0);
            if (amf0_str_eq(&d, name, "_result"))
                c->results++;
            if (amf0_str_eq(&d, name, "onStatus")) {
                int obj = amf0_top(&d, 3);
                amf0_copy_str(&d, amf0_get(&d, obj, "code"), c->status,
                              sizeof(c->status));
                amf0_copy_str(&d, amf0_get(&d, obj, "description"), c->desc,
                              sizeof(c->desc));
            }
        }
    }
    pktbuf_unref(m->buf);
    return 0;
}

/* Connects and handshakes (digest or plain); returns 0 or -1. */
static inline int tu_rtmp_open(tu_rtmp_t *c, int port, int digest)
{
    memset(c, 0, sizeof(*c));
    c->out_chunk = 128;
    rtmp_chunk_reader_init(&c->rd, 1 << 20, 1 << 20, tu_rtmp_on_msg, c);
    c->fd = tu_connect(port);
    if (c->fd < 0)
        return -1;
    uint8_t c0c1[1 + RTMP_HANDSHAKE_SIZE], s[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_client_c0c1(c0c1, digest, 12345);
    if (tu_write_all(c->fd, c0c1, sizeof(c0c1)) < 0 ||
        tu_read_exact(c->fd, s, sizeof(s), 3000) < 0)
        return -1;
    if (s[0] != 3 || rtmp_handshake_client_verify_s1(s + 1, digest) < 0)
        return -1;
    return tu_write_all(c->fd, s + 1, RTMP_HANDSHAKE_SIZE);
}

static inline void tu_rtmp_close(tu_rtmp_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    rtmp_chunk_reader_reset(&c->rd);
}

static inline int tu_rtmp_send(tu_rtmp_t *c, uint32_t csid, uint8_t type,
                               uint32_t msid, uint32_t ts, const uint8_t *p,
                               uint32_t len)
{
    size_t need = rtmp_chunk_size_needed(c->out_chunk, csid, ts, len);
    uint8_t *buf = malloc(need);
    long n =
        rtmp_chunk_write(buf, need, c->out_chunk, csid, ts, type, msid, p, len);
    int rc = n < 0 ? -1 : tu_write_all(c->fd, buf, (size_t)n);
    free(buf);
    return rc;
}

/* Reads server messages until `cond` holds or timeout; returns 0/-1. */
static inline int tu_rtmp_pump(tu_rtmp_t *c, int timeout_ms,
                               bool (*cond)(tu_rtmp_t *))
{
    int64_t end = clock_mono_ms() + timeout_ms;
    uint8_t buf[8192];
    while (!cond(c)) {
        int left = (int)(end - clock_mono_ms());
        if (left <= 0)
            return -1;
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0)
            return -1;
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r <= 0)
            return -1;
        if (rtmp_chunk_feed(&c->rd, buf, (size_t)r) < 0)
            return -1;
    }
    return 0;
}

static inline bool tu_has_status(tu_rtmp_t *c)
{
    return c->status[0] != 0;
}

static inline int tu_rtmp_command(tu_rtmp_t *c, const char *name, double tid,
                                  const char *arg, uint32_t msid)
{
    uint8_t b[512];
    amf0_writer_t w;
    amf0_w_init(&w, b, sizeof(b));
    amf0_w_string(&w, name);
    amf0_w_number(&w, tid);
    if (strcmp(name, "connect") == 0) {
        amf0_w_object_start(&w);
        amf0_w_key(&w, "app");
        amf0_w_string(&w, "live");
        amf0_w_key(&w, "flashVer");
        amf0_w_string(&w, "prism-test/1.0");
        amf0_w_object_end(&w);
    } else {
        amf0_w_null(&w);
        if (arg)
            amf0_w_string(&w, arg);
    }
    return tu_rtmp_send(c, 3, RTMP_MSG_COMMAND_AMF0, msid, 0, b,
                        (uint32_t)w.len);
}

/*
 * Runs connect, createStream and publish(key). Returns 0 once the server
 * answered with an onStatus (its code in c->status), -1 otherwise.
 */
static inline int tu_rtmp_publish(tu_rtmp_t *c, const char *key)
{
    if (tu_rtmp_command(c, "connect", 1, NULL, 0) < 0 ||
        tu_rtmp_command(c, "createStream", 2, NULL, 0) < 0 ||
        tu_rtmp_command(c, "publish", 3, key, 1) < 0)
        return -1;
    return tu_rtmp_pump(c, 5000, tu_has_status);
}

#endif /* PRISM_TEST_INGEST_UTIL_H */
