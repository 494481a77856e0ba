/* prism-bench ingest: N paced RTMP publishers against prism-ingest and
 * against nginx-rtmp in the same run; CPU per Mbit/s, latency, losses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "config.h"
#include "curve_keys.h"
#include "envelope.h"
#include "proc_stat.h"
#include "fixture.h"
#include "flv_tag.h"
#include "log.h"
#include "media_frame.h"
#include "rtmp_chunk.h"
#include "rtmp_client.h"
#include "rtmp_handshake.h"
#include "sim_sub.h"
#include "zctx.h"
#include "zsock.h"

/*
 * How this works. One recorded FLV (made once with ffmpeg at the asked
 * bitrate) is replayed, looped, by N publisher connections driven by one
 * epoll thread of this process: each sends the tags as RTMP messages when
 * their timestamps fall due (real time), with 4096-byte chunks as OBS
 * does; the publishers start spread evenly over one GOP of the clip, so
 * that their key frames do not all arrive at once (real streams' do not:
 * 200 aligned key frames are a 10 MB burst every 2 s that queues
 * everything behind it, on either server). Phase 1 publishes to a prism-ingest
 * child (open mode, CURVE on its media socket as deployed: a key pair of its
 * own and the subscribers' public key in its allowlist; --no-curve turns it
 * off); --subscribers threads (4 by default: a DEALER each, a CURVE client,
 * a share of the streams each, as several workers would) receive every
 * stream with ample credit. Phase 2 publishes the same load to an nginx
 * child with the rtmp module, and N RTMP players (in the same epoll thread)
 * play the streams back: nginx-rtmp's live module plays one stream per
 * connection, so nginx cannot be pulled through fewer connections than
 * streams; --subscribers N (N = publishers) gives Prism as many instead.
 * Both report their receivers (connections that pulled the streams).
 * For each phase: the server's CPU seconds (utime + stime from /proc) over the
 * measured window divided by the megabits the publishers sent (cpu_per_mbps:
 * CPU seconds per Mbit, which is also CPU cores per Mbit/s), the latency from
 * the publisher's write to the subscriber's or player's receipt of the same
 * (stream, track, timestamp), and the packets sent but never received. With
 * --rounds N the two phases alternate N times and every figure is the median
 * over the rounds; cpu_ratio is the median of each round's Prism/nginx ratio
 * (the two phases of a round run back to back, the one that goes first
 * alternating, so load from other jobs on the host moves both alike more
 * often than not), -1 when no round measured nginx's CPU time (under a
 * clock tick of /proc's: a light load for a few seconds).
 */

typedef struct {
    int64_t publishers, bitrate, seconds, port, nice, rounds, subscribers;
    bool json, skip_nginx, curve;
    char ingest[512], nginx[256], workdir[512], out[512];
} opts_t;

#define OFF(f) offsetof(opts_t, f)
static const config_option_t bench_opts[] = {
    {"publishers", 'n', CONFIG_INT, "10", 1, 5000, OFF(publishers), 0,
     "Publishers at once"},
    {"bitrate", 'b', CONFIG_INT, "3000", 100, 50000, OFF(bitrate), 0,
     "Bitrate of each publisher in kbit/s"},
    {"seconds", 's', CONFIG_INT, "20", 3, 3600, OFF(seconds), 0,
     "Measured seconds per server"},
    {"port", 0, CONFIG_INT, "19450", 1024, 65000, OFF(port), 0,
     "First loopback port used (RTMP, then nginx, then media)"},
    {"nice", 0, CONFIG_INT, "-10", -20, 19, OFF(nice), 0,
     "Scheduling priority of the bench and both servers (inherited), so "
     "that other jobs on the host disturb the figures less; needs root "
     "below 0 (else ignored)"},
    {"rounds", 'r', CONFIG_INT, "1", 1, 20, OFF(rounds), 0,
     "Rounds: the servers take turns, the one that goes first alternating "
     "(prism, nginx; nginx, prism; ...), and each figure is the median "
     "over the rounds, so a burst of load from other jobs moves one round, "
     "not the result"},
    {"json", 0, CONFIG_BOOL, "false", 0, 0, OFF(json), 0,
     "Print one JSON object instead of text"},
    {"curve", 0, CONFIG_BOOL, "true", 0, 0, OFF(curve), 0,
     "Run prism-ingest with CURVE on its media socket, as it is deployed "
     "(every TCP ZeroMQ link uses CURVE); --no-curve measures it without"},
    {"subscribers", 0, CONFIG_INT, "4", 1, 5000, OFF(subscribers), 0,
     "ZeroMQ connections that pull the streams from prism-ingest (a share "
     "of the streams each, as several workers would); nginx is always "
     "pulled by one RTMP player per stream (its live module plays one "
     "stream per connection), so --subscribers N with N = publishers "
     "compares connection for connection"},
    {"skip_nginx", 0, CONFIG_BOOL, "false", 0, 0, OFF(skip_nginx), 0,
     "Only measure prism-ingest"},
    {"ingest", 0, CONFIG_STRING, "", 0, 0, OFF(ingest),
     sizeof(((opts_t *)0)->ingest),
     "prism-ingest binary (default: ../ingest/prism-ingest beside this)"},
    {"nginx", 0, CONFIG_STRING, "/usr/sbin/nginx", 0, 0, OFF(nginx),
     sizeof(((opts_t *)0)->nginx), "nginx binary"},
    {"workdir", 0, CONFIG_STRING, "/tmp/prism-bench-ingest", 0, 0, OFF(workdir),
     sizeof(((opts_t *)0)->workdir),
     "Directory for the clip and nginx's prefix"},
    {"out", 'o', CONFIG_STRING, ".", 0, 0, OFF(out), sizeof(((opts_t *)0)->out),
     "Directory for bench-ingest.csv (a row per server and run) and "
     "bench-ingest.png"},
};

/* ------------------------------------------------------------ the clip */

typedef struct {
    uint8_t type;
    uint32_t ts;
    const uint8_t *body;
    uint32_t size;
    bool config;
} tag_t;

typedef struct {
    uint8_t *file;
    tag_t *tags;
    int ntags;
    uint32_t duration_ms;
    uint32_t gop_ms; /* between the first two video key frames */
} clip_t;

static int make_clip(const opts_t *o, char *path, size_t len)
{
    snprintf(path, len, "%s/clip-%lld.flv", o->workdir, (long long)o->bitrate);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        return 0;
    char cmd[2048];
    long long v = o->bitrate > 228 ? o->bitrate - 128 : o->bitrate / 2;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -loglevel error -y -f lavfi -i "
             "testsrc2=size=1280x720:rate=30 -f lavfi -i "
             "sine=frequency=440:sample_rate=48000 -t 10 -c:v libx264 "
             "-preset ultrafast -tune zerolatency -b:v %lldk -maxrate %lldk "
             "-bufsize %lldk -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k "
             "-shortest '%s'",
             v, v, v, path);
    return system(cmd) == 0 ? 0 : -1;
}

static int load_clip(const char *path, clip_t *c)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->file = malloc((size_t)n);
    if (!c->file || fread(c->file, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    long off = flv_file_header(c->file, (size_t)n);
    if (off < 0)
        return -1;
    c->tags = calloc((size_t)n / 11 + 1, sizeof(tag_t));
    int64_t key_ts = -1;
    while (off < n) {
        flv_file_tag_t t;
        long k = flv_file_tag(c->file + off, (size_t)(n - off), &t);
        if (k <= 0)
            break;
        if (t.type == 8 || t.type == 9) {
            flv_pkt_t p;
            int rc = t.type == 9 ? flv_parse_video(t.body, t.size, &p)
                                 : flv_parse_audio(t.body, t.size, &p);
            tag_t *g = &c->tags[c->ntags++];
            g->type = t.type;
            g->ts = t.timestamp;
            g->body = t.body;
            g->size = t.size;
            g->config = rc == 0 && p.config;
            if (t.type == 9 && rc == 0 && !p.config && p.keyframe) {
                if (key_ts >= 0 && c->gop_ms == 0)
                    c->gop_ms = t.timestamp - (uint32_t)key_ts;
                key_ts = t.timestamp;
            }
            if (t.timestamp > c->duration_ms)
                c->duration_ms = t.timestamp;
        }
        off += k;
    }
    c->duration_ms += 33;
    return c->ntags > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ records */

/* One media packet: when it was written, or when it was received. */
typedef struct {
    uint32_t stream;
    uint8_t track; /* 0 video, 1 audio */
    int64_t ts;    /* ms */
    int64_t us;
} rec_t;

typedef struct {
    rec_t *r;
    size_t n, cap;
    pthread_mutex_t mu;
} recs_t;

static void rec_add(recs_t *v, uint32_t stream, uint8_t track, int64_t ts,
                    int64_t us)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 65536;
        v->r = realloc(v->r, v->cap * sizeof(rec_t));
    }
    v->r[v->n++] = (rec_t){stream, track, ts, us};
}

static int cmp_rec(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    if (x->track != y->track)
        return x->track < y->track ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double mbps, cpu_s, cpu_per_mbps, p50_ms, p99_ms;
    uint64_t sent, received, lost;
    int receivers; /* connections that pulled the streams */
    bool ok;
} result_t;

/* Matches sends to receipts by (stream, track, ts): latency and losses.
 * Sends in the last `tail_us` before stop are not counted as lost. */
static void match(recs_t *sent, recs_t *recv, result_t *res)
{
    qsort(sent->r, sent->n, sizeof(rec_t), cmp_rec);
    qsort(recv->r, recv->n, sizeof(rec_t), cmp_rec);
    int64_t *lat = malloc((sent->n + 1) * sizeof(int64_t));
    size_t nl = 0, j = 0;
    uint64_t lost = 0;
    for (size_t i = 0; i < sent->n; i++) {
        const rec_t *s = &sent->r[i];
        while (j < recv->n && cmp_rec(&recv->r[j], s) < 0)
            j++;
        if (j < recv->n && cmp_rec(&recv->r[j], s) == 0)
            lat[nl++] = recv->r[j].us - s->us;
        else
            lost++;
    }
    qsort(lat, nl, sizeof(int64_t), cmp_i64);
    res->sent = sent->n;
    res->received = nl;
    res->lost = lost;
    res->p50_ms = nl ? lat[nl / 2] / 1000.0 : -1;
    res->p99_ms = nl ? lat[(nl * 99) / 100] / 1000.0 : -1;
    free(lat);
}

/* ------------------------------------------------------------ clients */

enum { C_CONNECTING, C_HS, C_WAIT_START, C_ACTIVE, C_DEAD };

typedef struct {
    int fd;
    int state;
    bool player;
    uint32_t idx;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint8_t hs[1 + 2 * RTMP_HANDSHAKE_SIZE];
    size_t hs_got;
    rtmp_chunk_reader_t rd;
    int next_tag;
    int64_t loop_ms; /* timestamp offset of the current loop */
    int64_t t0_us;
    bool started;
} client_t;

typedef struct {
    const opts_t *o;
    clip_t *clip;
    int port;
    client_t *pubs, *players;
    int epfd;
    recs_t sent, recv;
    uint64_t bytes;
    int64_t measure_start_us, measure_end_us, stop_send_us;
    bool measuring;
    int live, playing;
} run_t;

static run_t *cur_run;

static int out_put(client_t *c, const uint8_t *p, size_t n)
{
    if (c->out_off + c->out_len + n > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, c->out_len);
            c->out_off = 0;
        }
        if (c->out_len + n > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap * 2 : 65536;
            while (cap < c->out_len + n)
                cap *= 2;
            if (cap > (64u << 20))
                return -1;
            c->out = realloc(c->out, cap);
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_off + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static int send_msg(client_t *c, uint32_t csid, uint8_t type, uint32_t msid,
                    uint32_t ts, const uint8_t *p, uint32_t len)
{
    static uint8_t *buf;
    static size_t cap;
    size_t need = rtmp_chunk_size_needed(4096, csid, ts, len);
    if (need > cap) {
        buf = realloc(buf, need);
        cap = need;
    }
    long n = rtmp_chunk_write(buf, cap, 4096, csid, ts, type, msid, p, len);
    return n < 0 ? -1 : out_put(c, buf, (size_t)n);
}

static void flush_out(run_t *r, client_t *c)
{
    while (c->out_len > 0) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        c->out_off += (size_t)w;
        c->out_len -= (size_t)w;
    }
    if (c->out_len == 0)
        c->out_off = 0;
    struct epoll_event ev = {EPOLLIN | (c->out_len ? EPOLLOUT : 0), {.ptr = c}};
    epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void command(client_t *c, const char *name, double tid, const char *arg,
                    uint32_t msid)
{
    uint8_t b[512];
    size_t len =
        rtmp_client_encode_command(b, sizeof(b), name, tid, arg,
                                   "prism-bench/1.0", "rtmp://127.0.0.1/live");
    send_msg(c, 3, RTMP_MSG_COMMAND_AMF0, msid, 0, b, (uint32_t)len);
}

static int on_server_msg(void *opaque, rtmp_msg_t *m)
{
    client_t *c = opaque;
    run_t *r = cur_run;
    rtmp_client_reply_t reply;
    if (rtmp_client_decode_reply(m, &reply)) {
        if (reply.status && reply.has_code) {
            const char *code = reply.code;
            if (!strcmp(code, "NetStream.Publish.Start") &&
                c->state == C_WAIT_START) {
                /* Real streams' key frames do not come all at once: the
                 * publishers start spread evenly over one GOP. */
                int64_t spread_us =
                    (int64_t)r->clip->gop_ms * 1000 * c->idx / r->o->publishers;
                c->state = C_ACTIVE;
                c->t0_us = clock_mono_us() + spread_us;
                r->live++;
            } else if (!strcmp(code, "NetStream.Play.Start") &&
                       c->state == C_WAIT_START) {
                c->state = C_ACTIVE;
                r->playing++;
            }
        }
    } else if (c->player &&
               (m->type == RTMP_MSG_VIDEO || m->type == RTMP_MSG_AUDIO)) {
        flv_pkt_t p;
        bool video = m->type == RTMP_MSG_VIDEO;
        int rc = video ? flv_parse_video(m->buf->data, m->length, &p)
                       : flv_parse_audio(m->buf->data, m->length, &p);
        if (rc == 0 && !p.config && r->measuring)
            rec_add(&r->recv, c->idx, video ? 0 : 1, m->timestamp,
                    clock_mono_us());
    }
    pktbuf_unref(m->buf);
    return 0;
}

static int client_open(run_t *r, client_t *c, uint32_t idx, bool player)
{
    memset(c, 0, sizeof(*c));
    c->idx = idx;
    c->player = player;
    rtmp_chunk_reader_init(&c->rd, 1 << 20, 16 << 20, on_server_msg, c);
    c->fd = fixture_connect(r->port, true);
    if (c->fd < 0)
        return -1;
    c->state = C_CONNECTING;
    struct epoll_event ev = {EPOLLIN | EPOLLOUT, {.ptr = c}};
    epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void client_event(run_t *r, client_t *c, uint32_t events)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING && (events & EPOLLOUT)) {
        uint8_t c0c1[1 + RTMP_HANDSHAKE_SIZE];
        rtmp_handshake_client_c0c1(c0c1, 0, c->idx + 1);
        out_put(c, c0c1, sizeof(c0c1));
        c->state = C_HS;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        static uint8_t buf[262144];
        for (;;) {
            ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                c->state = C_DEAD;
                epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                return;
            }
            if (n < 0)
                break;
            size_t off = 0;
            if (c->state == C_HS) {
                size_t want = sizeof(c->hs) - c->hs_got;
                size_t k = (size_t)n < want ? (size_t)n : want;
                memcpy(c->hs + c->hs_got, buf, k);
                c->hs_got += k;
                off = k;
                if (c->hs_got == sizeof(c->hs)) {
                    out_put(c, c->hs + 1, RTMP_HANDSHAKE_SIZE); /* C2 */
                    uint8_t scs[4] = {0, 0, 0x10, 0};
                    send_msg(c, 2, RTMP_MSG_SET_CHUNK_SIZE, 0, 0, scs, 4);
                    char key[32];
                    snprintf(key, sizeof(key), "bench%u", c->idx);
                    command(c, "connect", 1, NULL, 0);
                    command(c, "createStream", 2, NULL, 0);
                    command(c, c->player ? "play" : "publish", 3, key, 1);
                    c->state = C_WAIT_START;
                }
            }
            if (off < (size_t)n &&
                rtmp_chunk_feed(&c->rd, buf + off, (size_t)n - off) < 0) {
                c->state = C_DEAD;
                epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                return;
            }
            if ((size_t)n < sizeof(buf))
                break;
        }
    }
    flush_out(r, c);
}

/* Sends every tag of publisher c that is due. The clock is read per
 * publisher, just before its write: one reading for the whole loop over N
 * publishers would date the last ones' writes too early by the time the
 * loop took to write the first ones, and count that time as latency. */
static void pace(run_t *r, client_t *c)
{
    if (c->state != C_ACTIVE || c->player)
        return;
    int64_t now = clock_mono_us();
    if (now >= r->stop_send_us)
        return;
    int64_t elapsed_ms = (now - c->t0_us) / 1000;
    clip_t *clip = r->clip;
    bool wrote = false;
    for (;;) {
        if (c->next_tag >= clip->ntags) {
            c->next_tag = 0;
            c->loop_ms += clip->duration_ms;
            c->started = true;
        }
        const tag_t *t = &clip->tags[c->next_tag];
        if (t->config && c->started) { /* headers once only */
            c->next_tag++;
            continue;
        }
        int64_t ts = c->loop_ms + t->ts;
        if (ts > elapsed_ms)
            break;
        send_msg(c, t->type == 9 ? 6 : 4, t->type, 1, (uint32_t)ts, t->body,
                 t->size);
        if (r->measuring && !t->config) {
            rec_add(&r->sent, c->idx, t->type == 9 ? 0 : 1, ts, now);
            r->bytes += t->size;
        }
        c->next_tag++;
        wrote = true;
    }
    if (wrote)
        flush_out(r, c);
}

/* ------------------------------------------------------------ subscriber */

/* Subscriber threads, each with its own DEALER (CURVE client with the
 * allowed key, as a worker) and a share of the streams (as several workers
 * would); --subscribers sets how many. nginx's players get one TCP
 * connection per stream. */
#define MAX_SUBSCRIBERS 5000

typedef struct {
    char endpoint[256];
    const curve_keypair_t *client_key; /* NULL: no CURVE */
    char server_key[CURVE_KEY_Z85_SIZE];
    int n;     /* streams bench<first> .. bench<first + n - 1> */
    int first; /* as a worker would, each subscriber takes a share */
    atomic_bool stop;
    run_t *run;
    pthread_t thread;
} sub_t;

static void *sub_main(void *arg)
{
    sub_t *s = arg;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.rcvhwm = 1000000;
    void *sock = zsock_new(ZMQ_DEALER, &o);
    if (s->client_key &&
        zsock_curve_client(sock, s->client_key, s->server_key) < 0)
        fprintf(stderr, "bench: CURVE client setup failed\n");
    zsock_connect(sock, s->endpoint);
    bool *ok = calloc((size_t)s->n, sizeof(bool));
    uint64_t *used = calloc((size_t)s->n, sizeof(uint64_t));
    int64_t last = 0;
    recs_t local = {0};
    while (!atomic_load(&s->stop)) {
        int64_t now = clock_mono_ms();
        if (now - last > 200) {
            last = now;
            for (int i = 0; i < s->n; i++) {
                if (ok[i])
                    continue;
                char id[32];
                snprintf(id, sizeof(id), "bench%d", s->first + i);
                sim_sub_send_subscribe(sock, ZMQ_DONTWAIT, "bench", id, id,
                                       256 << 20);
            }
        }
        zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 20) <= 0)
            continue;
        for (int k = 0; k < 10000; k++) {
            Prism__Envelope *env = NULL;
            zmq_msg_t pl;
            int rc = media_frame_recv(sock, ZMQ_DONTWAIT, NULL, &env, &pl);
            if (rc < 0)
                break;
            int64_t us = clock_mono_us();
            if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY &&
                env->subscribe_reply->accepted) {
                int i = atoi(env->subscribe_reply->stream_id + 5) - s->first;
                if (i >= 0 && i < s->n)
                    ok[i] = true;
            } else if (env->body_case == PRISM__ENVELOPE__BODY_MEDIA_HEADER) {
                const Prism__MediaHeader *m = env->media_header;
                int i = atoi(m->stream_id + 5) - s->first;
                if (i >= 0 && i < s->n) {
                    if (s->run->measuring)
                        rec_add(&local, (uint32_t)(s->first + i),
                                (uint8_t)m->track, m->dts, us);
                    used[i] += zmq_msg_size(&pl);
                    if (used[i] > (64 << 20)) { /* top the credit up */
                        sim_sub_send_credit(sock, ZMQ_DONTWAIT, "bench",
                                            m->stream_id, used[i]);
                        used[i] = 0;
                    }
                }
            }
            zmq_msg_close(&pl);
            envelope_free(&env);
        }
    }
    pthread_mutex_lock(&s->run->recv.mu);
    for (size_t i = 0; i < local.n; i++)
        rec_add(&s->run->recv, local.r[i].stream, local.r[i].track,
                local.r[i].ts, local.r[i].us);
    pthread_mutex_unlock(&s->run->recv.mu);
    free(local.r);
    free(ok);
    free(used);
    zsock_close(&sock);
    return NULL;
}

/* ------------------------------------------------------------ servers */

/* The subscriber connections of a Prism phase: at most one per stream. */
static int subscribers_of(const opts_t *o)
{
    return (int)(o->subscribers < o->publishers ? o->subscribers
                                                : o->publishers);
}

/* Runs one phase against a server on r->port whose CPU is pid's. */
static void run_phase(run_t *r, pid_t pid, sub_t *sub, result_t *res)
{
    int n = (int)r->o->publishers;
    cur_run = r;
    r->epfd = epoll_create1(0);
    r->pubs = calloc((size_t)n, sizeof(client_t));
    r->players = sub ? NULL : calloc((size_t)n, sizeof(client_t));
    pthread_mutex_init(&r->recv.mu, NULL);
    for (int i = 0; i < n; i++) {
        client_open(r, &r->pubs[i], (uint32_t)i, false);
        if (r->players)
            client_open(r, &r->players[i], (uint32_t)i, true);
    }
    int64_t start = clock_mono_us();
    int64_t warm_end = 0, end = 0;
    double cpu0 = 0;
    struct epoll_event evs[256];
    for (;;) {
        int64_t now = clock_mono_us();
        if (!warm_end && r->live == n && (sub || r->playing == n)) {
            /* let every stream start (spread over a GOP) and settle */
            warm_end = now + 2000000 + (int64_t)r->clip->gop_ms * 1000;
        }
        if (!warm_end && now - start > 20000000) {
            fprintf(stderr, "bench: only %d/%d publishers started\n", r->live,
                    n);
            warm_end = now;
        }
        if (warm_end && !r->measuring && now >= warm_end) {
            r->measuring = true;
            r->measure_start_us = now;
            cpu0 = proc_cpu_s(pid);
            end = now + r->o->seconds * 1000000;
            r->stop_send_us = end;
        }
        if (r->measuring && now >= end && !r->measure_end_us) {
            r->measure_end_us = now;
            res->cpu_s = proc_cpu_s(pid) - cpu0;
        }
        if (r->measure_end_us && now >= r->measure_end_us + 1500000)
            break; /* drained */
        int k = epoll_wait(r->epfd, evs, 256, 2);
        for (int i = 0; i < k; i++)
            client_event(r, evs[i].data.ptr, evs[i].events);
        if (!r->stop_send_us)
            r->stop_send_us = INT64_MAX;
        for (int i = 0; i < n; i++)
            pace(r, &r->pubs[i]);
        if (r->stop_send_us == INT64_MAX && !r->measuring)
            r->stop_send_us = 0;
    }
    r->measuring = false;
    int nsub = sub ? subscribers_of(r->o) : 0;
    for (int i = 0; i < nsub; i++) {
        atomic_store(&sub[i].stop, true);
        pthread_join(sub[i].thread, NULL);
    }
    res->receivers = sub ? nsub : n;
    double secs = (r->measure_end_us - r->measure_start_us) / 1e6;
    res->mbps = r->bytes * 8 / 1e6 / secs;
    res->cpu_per_mbps = res->mbps > 0 ? res->cpu_s / (res->mbps * secs) : -1;
    match(&r->sent, &r->recv, res);
    res->ok = true;
    for (int i = 0; i < n; i++) {
        close(r->pubs[i].fd);
        free(r->pubs[i].out);
        rtmp_chunk_reader_reset(&r->pubs[i].rd);
        if (r->players) {
            close(r->players[i].fd);
            free(r->players[i].out);
            rtmp_chunk_reader_reset(&r->players[i].rd);
        }
    }
    free(r->pubs);
    free(r->players);
    free(r->sent.r);
    free(r->recv.r);
    close(r->epfd);
}

static void bench_prism(const opts_t *o, clip_t *clip, result_t *res)
{
    char rtmp[64], media[64], log[600], ingest[600];
    snprintf(rtmp, sizeof(rtmp), "127.0.0.1:%lld", (long long)o->port);
    snprintf(media, sizeof(media), "tcp://127.0.0.1:%lld",
             (long long)o->port + 2);
    snprintf(log, sizeof(log), "%s/prism-ingest.log", o->workdir);
    if (o->ingest[0]) {
        snprintf(ingest, sizeof(ingest), "%s", o->ingest);
    } else {
        char self[512];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        snprintf(ingest, sizeof(ingest), "%s/../ingest/prism-ingest", self);
    }
    /* CURVE as deployed: the ingest's key pair, the subscribers' (a
     * worker's) public key in its allowlist. */
    char keydir[600], allow[600], keyfile[700];
    curve_keypair_t *ikp = NULL, *wkp = NULL;
    snprintf(keydir, sizeof(keydir), "%s/keys", o->workdir);
    snprintf(allow, sizeof(allow), "%s/allow", o->workdir);
    snprintf(keyfile, sizeof(keyfile), "%s/ingest.key", keydir);
    if (o->curve) {
        char cmd[2600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' && mkdir -p '%s' '%s'",
                 keydir, allow, keydir, allow);
        ikp = curve_keypair_generate();
        wkp = curve_keypair_generate();
        if (system(cmd) != 0 || !ikp || !wkp ||
            curve_keys_write(ikp, keydir, "ingest", true, NULL, NULL, 0) < 0 ||
            curve_keys_write(wkp, allow, "bench-worker", true, NULL, NULL, 0) <
                0) {
            fprintf(stderr, "bench: cannot make the CURVE keys in %s\n",
                    o->workdir);
            curve_keypair_free(&ikp);
            curve_keypair_free(&wkp);
            return;
        }
        /* The allowlist holds public keys only. */
        snprintf(cmd, sizeof(cmd), "rm -f '%s/bench-worker.key'", allow);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: cannot remove %s/bench-worker.key\n",
                    allow);
    }
    char *argv[] = {
        ingest,  "--rtmp-listen",        rtmp,   "--srt-listen",
        "",      "--media-bind",         media,  "--log-level",
        "warn",  "--max-conns-per-addr", "5000", o->curve ? "--key-file" : NULL,
        keyfile, "--allow-dir",          allow,  NULL};
    pid_t pid = fixture_spawn(argv, log, log);
    if (fixture_wait_port((int)o->port, 5000) < 0) {
        fprintf(stderr, "bench: prism-ingest did not start (see %s)\n", log);
        fixture_stop(pid);
        curve_keypair_free(&ikp);
        curve_keypair_free(&wkp);
        return;
    }
    run_t r = {0};
    r.o = o;
    r.clip = clip;
    r.port = (int)o->port;
    static sub_t sub[MAX_SUBSCRIBERS];
    int n = (int)o->publishers, nsub = subscribers_of(o);
    for (int i = 0; i < nsub; i++) {
        memset(&sub[i], 0, sizeof(sub[i]));
        snprintf(sub[i].endpoint, sizeof(sub[i].endpoint), "%s", media);
        sub[i].client_key = wkp;
        if (ikp)
            snprintf(sub[i].server_key, sizeof(sub[i].server_key), "%s",
                     ikp->public_z85);
        sub[i].first = n * i / nsub;
        sub[i].n = n * (i + 1) / nsub - sub[i].first;
        sub[i].run = &r;
        pthread_create(&sub[i].thread, NULL, sub_main, &sub[i]);
    }
    run_phase(&r, pid, sub, res);
    fixture_stop(pid);
    curve_keypair_free(&ikp);
    curve_keypair_free(&wkp);
}

static void bench_nginx(const opts_t *o, clip_t *clip, result_t *res)
{
    char conf[600], log[600];
    int port = (int)o->port + 1;
    snprintf(conf, sizeof(conf), "%s/nginx/nginx.conf", o->workdir);
    snprintf(log, sizeof(log), "%s/nginx/stderr.log", o->workdir);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/nginx/logs'", o->workdir);
    if (system(cmd) != 0)
        return;
    FILE *f = fopen(conf, "w");
    if (!f)
        return;
    fprintf(f,
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n"
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            "error_log %s/nginx/logs/error.log warn;\n"
            "pid %s/nginx/nginx.pid;\n"
            "events { worker_connections 8192; }\n"
            "rtmp { server { listen 127.0.0.1:%d; chunk_size 4096;\n"
            "  application live { live on; } } }\n",
            o->workdir, o->workdir, port);
    fclose(f);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s/nginx/", o->workdir);
    char *argv[] = {(char *)o->nginx, "-p", prefix, "-c", conf, NULL};
    pid_t pid = fixture_spawn(argv, log, log);
    if (fixture_wait_port(port, 5000) < 0) {
        fprintf(stderr, "bench: nginx did not start (see %s)\n", log);
        fixture_stop(pid);
        return;
    }
    run_t r = {0};
    r.o = o;
    r.clip = clip;
    r.port = port;
    run_phase(&r, pid, NULL, res);
    fixture_stop(pid);
}

/* Appends every round to OUT/bench-ingest.csv and plots the whole CSV. */
static void write_csv_plot(const opts_t *o, const result_t *p,
                           const result_t *ng, int rounds)
{
    char csv[600], gp[600], png[600];
    snprintf(csv, sizeof(csv), "%s/bench-ingest.csv", o->out);
    snprintf(gp, sizeof(gp), "%s/bench-ingest.gp", o->out);
    snprintf(png, sizeof(png), "%s/bench-ingest.png", o->out);
    struct stat st;
    bool fresh = stat(csv, &st) != 0;
    FILE *f = fopen(csv, "a");
    if (!f) {
        log_warn("bench", "Cannot write the CSV.", "path=%s", csv);
        return;
    }
    if (fresh)
        fprintf(f, "server,publishers,bitrate_kbps,seconds,mbps,cpu_seconds,"
                   "cpu_per_mbps,latency_p50_ms,latency_p99_ms,sent,lost\n");
    for (int k = 0; k < 2 * rounds; k++) {
        const result_t *r = k % 2 ? &ng[k / 2] : &p[k / 2];
        const char *name = k % 2 ? "nginx-rtmp" : "prism-ingest";
        if (!r->ok)
            continue;
        fprintf(f, "%s,%lld,%lld,%lld,%.1f,%.3f,%.6f,%.3f,%.3f,%llu,%llu\n",
                name, (long long)o->publishers, (long long)o->bitrate,
                (long long)o->seconds, r->mbps, r->cpu_s, r->cpu_per_mbps,
                r->p50_ms, r->p99_ms, (unsigned long long)r->sent,
                (unsigned long long)r->lost);
    }
    fclose(f);
    f = fopen(gp, "w");
    if (!f)
        return;
    fprintf(f,
            "set terminal pngcairo size 1000,420\nset output '%s'\n"
            "set datafile separator ','\nset key top left\n"
            "set multiplot layout 1,2\n"
            "set title 'CPU seconds per Mbit'\nset xlabel 'Mbit/s'\n"
            "plot '%s' using (strcol(1) eq 'prism-ingest' ? $5 : 1/0):7 with "
            "points pt 7 title 'prism-ingest', '' using (strcol(1) eq "
            "'nginx-rtmp' ? $5 : 1/0):7 with points pt 5 title "
            "'nginx-rtmp'\n"
            "set title 'latency p99 (ms)'\n"
            "plot '%s' using (strcol(1) eq 'prism-ingest' ? $5 : 1/0):9 with "
            "points pt 7 title 'prism-ingest', '' using (strcol(1) eq "
            "'nginx-rtmp' ? $5 : 1/0):9 with points pt 5 title "
            "'nginx-rtmp'\nunset multiplot\n",
            png, csv, csv);
    fclose(f);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", gp);
    if (system(cmd) != 0)
        log_warn("bench", "gnuplot failed; the CSV is still there.", "csv=%s",
                 csv);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n-1] (sorted in place); -1 when n is 0. */
static double median(double *v, int n)
{
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of one figure over the rounds that ran (offset of a double
 * in result_t); sent and lost are summed. */
static void median_of(const result_t *rounds, int n, result_t *out)
{
    static const size_t fields[] = {
        offsetof(result_t, mbps), offsetof(result_t, cpu_s),
        offsetof(result_t, cpu_per_mbps), offsetof(result_t, p50_ms),
        offsetof(result_t, p99_ms)};
    double v[20];
    memset(out, 0, sizeof(*out));
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (rounds[i].ok)
                memcpy(&v[k++], (const char *)&rounds[i] + fields[f],
                       sizeof(double));
        if (k == 0)
            return;
        double m = median(v, k);
        memcpy((char *)out + fields[f], &m, sizeof(double));
    }
    for (int i = 0; i < n; i++) {
        out->sent += rounds[i].sent;
        out->received += rounds[i].received;
        out->lost += rounds[i].lost;
    }
    out->ok = true;
}

static void print_round_json(const char *name, const result_t *r)
{
    printf("\"%s\": {\"mbps\": %.1f, \"cpu_seconds\": %.3f, "
           "\"cpu_per_mbps\": %.6f, \"latency_p50_ms\": %.3f, "
           "\"latency_p99_ms\": %.3f, \"lost_packets\": %llu, "
           "\"receivers\": %d}",
           name, r->mbps, r->cpu_s, r->cpu_per_mbps, r->p50_ms, r->p99_ms,
           (unsigned long long)r->lost, r->receivers);
}

int bench_ingest_main(int argc, char **argv)
{
    opts_t o;
    config_args_t args;
    char err[512];
    if (config_parse(bench_opts, sizeof(bench_opts) / sizeof(bench_opts[0]), &o,
                     "prism-bench ingest [--publishers N] [--bitrate KBPS] "
                     "[--seconds S] [--rounds N] [--subscribers N] "
                     "[--[no-]curve] [--json]",
                     argc, argv, &args, err, sizeof(err)) < 0) {
        fprintf(stderr, "prism-bench ingest: %s\n", err);
        return 2;
    }
    bool help = args.help;
    config_args_free(&args);
    if (help)
        return 0;
    log_set_level(LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (setpriority(PRIO_PROCESS, 0, (int)o.nice) < 0)
        fprintf(stderr,
                "prism-bench ingest: running at the default "
                "priority (setpriority: %s)\n",
                strerror(errno));
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    char cmd[700], clip_path[700];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", o.workdir);
    if (system(cmd) != 0 || make_clip(&o, clip_path, sizeof(clip_path)) < 0) {
        fprintf(stderr, "prism-bench ingest: cannot make the clip\n");
        return 1;
    }
    clip_t clip = {0};
    if (load_clip(clip_path, &clip) < 0) {
        fprintf(stderr, "prism-bench ingest: cannot read %s\n", clip_path);
        return 1;
    }
    int rounds = (int)o.rounds;
    result_t pr[20] = {{0}}, nr[20] = {{0}}, p, ng;
    for (int i = 0; i < rounds; i++) {
        /* The server that goes first alternates round by round. */
        if (i % 2 && !o.skip_nginx)
            bench_nginx(&o, &clip, &nr[i]);
        bench_prism(&o, &clip, &pr[i]);
        if (!(i % 2) && !o.skip_nginx)
            bench_nginx(&o, &clip, &nr[i]);
    }
    zctx_term();
    write_csv_plot(&o, pr, nr, rounds);
    median_of(pr, rounds, &p);
    median_of(nr, rounds, &ng);
    double ratios[20];
    int nratios = 0;
    for (int i = 0; i < rounds; i++)
        if (pr[i].ok && nr[i].ok && nr[i].cpu_per_mbps > 0)
            ratios[nratios++] = pr[i].cpu_per_mbps / nr[i].cpu_per_mbps;
    double ratio = median(ratios, nratios);
    if (o.json) {
        printf("{\"rounds\": [");
        for (int i = 0; i < rounds; i++) {
            printf("%s{\"first\": \"%s\", ", i ? ", " : "",
                   i % 2 && !o.skip_nginx ? "nginx" : "prism");
            print_round_json("prism", &pr[i]);
            if (!o.skip_nginx) {
                printf(", ");
                print_round_json("nginx", &nr[i]);
            }
            printf("}");
        }
        printf("],\n ");
        printf("\"publishers\": %lld, \"bitrate_kbps\": %lld, "
               "\"seconds\": %lld, \"mbps\": %.1f, \"cpu_seconds\": %.3f, "
               "\"cpu_per_mbps\": %.6f, \"latency_p50_ms\": %.3f, "
               "\"latency_p99_ms\": %.3f, \"lost_packets\": %llu, "
               "\"sent_packets\": %llu, \"nginx_mbps\": %.1f, "
               "\"nginx_cpu_seconds\": %.3f, \"nginx_cpu_per_mbps\": %.6f, "
               "\"nginx_latency_p50_ms\": %.3f, "
               "\"nginx_latency_p99_ms\": %.3f, "
               "\"nginx_lost_packets\": %llu, \"cpu_ratio\": %.3f, "
               "\"curve\": %s, \"receivers\": %d, \"receivers_kind\": "
               "\"ZeroMQ DEALER connections\", \"nginx_receivers\": %d, "
               "\"nginx_receivers_kind\": \"RTMP player connections\"}\n",
               (long long)o.publishers, (long long)o.bitrate,
               (long long)o.seconds, p.mbps, p.cpu_s, p.cpu_per_mbps, p.p50_ms,
               p.p99_ms, (unsigned long long)p.lost, (unsigned long long)p.sent,
               ng.mbps, ng.cpu_s, ng.cpu_per_mbps, ng.p50_ms, ng.p99_ms,
               (unsigned long long)ng.lost, ratio, o.curve ? "true" : "false",
               subscribers_of(&o), o.skip_nginx ? 0 : (int)o.publishers);
    } else {
        printf("ingest bench: %lld publishers x %lld kbit/s, %lld s, "
               "%d round(s)%s\n",
               (long long)o.publishers, (long long)o.bitrate,
               (long long)o.seconds, rounds,
               rounds > 1 ? " (medians; every round in the CSV)" : "");
        printf("%-12s %8s %8s %12s %8s %8s %8s %8s  %s\n", "server", "Mbit/s",
               "cpu_s", "cpu_s/Mbit", "p50_ms", "p99_ms", "sent", "lost",
               "receivers");
        printf("%-12s %8.1f %8.2f %12.6f %8.2f %8.2f %8llu %8llu  %d ZeroMQ "
               "connections (CURVE %s)\n",
               "prism-ingest", p.mbps, p.cpu_s, p.cpu_per_mbps, p.p50_ms,
               p.p99_ms, (unsigned long long)p.sent, (unsigned long long)p.lost,
               subscribers_of(&o), o.curve ? "on" : "off");
        if (!o.skip_nginx)
            printf("%-12s %8.1f %8.2f %12.6f %8.2f %8.2f %8llu %8llu  %d RTMP "
                   "players\n",
                   "nginx-rtmp", ng.mbps, ng.cpu_s, ng.cpu_per_mbps, ng.p50_ms,
                   ng.p99_ms, (unsigned long long)ng.sent,
                   (unsigned long long)ng.lost, (int)o.publishers);
        if (nratios > 0)
            printf("cpu_s/Mbit ratio prism/nginx: %.3f%s\n", ratio,
                   nratios > 1 ? " (median of the rounds' ratios)" : "");
    }
    free(clip.tags);
    free(clip.file);
    return p.ok ? 0 : 1;
}
