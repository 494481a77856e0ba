/* prism-ingest's event loop: accepts, reads, admits, forwards, reports. */
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
#include "avlog.h"
#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "flv_tag.h"
#include "log.h"
#include "netaddr.h"
#include "rtmp_conn.h"
#include "srt_ingest.h"
#include "stream_hub.h"
#include "video_size.h"
#include "zap.h"
#include "zsock.h"

#define READ_BUF    65536
#define READ_ROUNDS 4
#define MAX_PENDING 1024
#define ZAP_DOMAIN  "prism"
#define RTMP_TB_DEN 1000
#define TRACK_VIDEO 0
#define TRACK_AUDIO 1
/* Video packets read for the size when onMetaData gave none; then the
 * search stops (logged). */
#define VSIZE_MAX_PACKETS 600

enum { EV_LISTEN = 1, EV_CONN, EV_WAKE, EV_ROUTER, EV_COORD };

typedef struct {
    int kind;
} ev_t;

typedef struct conn conn_t;

typedef struct publisher {
    struct publisher *next, *prev;
    int protocol; /* Prism__IngestProtocol */
    hub_stream_t *stream;
    conn_t *conn; /* RTMP only */
    char stream_id[128];
    char addr[64];
    char client[128];
    uint32_t vcodec, acodec;
    uint32_t width, height, sample_rate, channels;
    double meta_fps;
    uint32_t last_ts[HUB_MAX_TRACKS];
    int64_t ts_hi[HUB_MAX_TRACKS];
    bool ts_seen[HUB_MAX_TRACKS];
    uint64_t prev_bytes, prev_frames;
    int64_t prev_ms;
    double fps, kbps;
    int64_t audio_since_ms; /* first stats with audio and no video */
    bool audio_only;        /* no video AUDIO_ONLY_AFTER_MS after audio */
    video_size_t *vsize;    /* RTMP without a size in onMetaData */
    uint32_t vsize_packets;
} publisher_t;

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

typedef struct {
    bool used;
    uint64_t id;
    int protocol;
    conn_t *conn;
    srt_admit_t *admit;
    char key[256];
    char addr[64];
    int64_t deadline;
} pending_t;

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
    publisher_t *pubs;
    pending_t pending[MAX_PENDING];
    uint64_t next_req;
    int64_t last_scan_ms, last_stats_ms, last_hb_ms, last_allow_ms;
    uint8_t rbuf[READ_BUF];
    struct {
        atomic_ullong accepted, refused, closed_error, closed_timeout;
        atomic_ullong publish_ok, publish_refused, live;
    } n;
};

/* ------------------------------------------------------------ helpers */

static void send_coord(ingest_server_t *s, Prism__Envelope *env)
{
    if (!s->coord)
        return;
    int rc = envelope_send(s->coord, NULL, s->cfg.ingest_id, env, ZMQ_DONTWAIT);
    if (rc < 0 && rc != -EAGAIN)
        log_warn("ingest", "Cannot send to the coordinator.", "body=%s rc=%d",
                 envelope_body_name(env), rc);
}

/* ------------------------------------------------------------ publishers */

static publisher_t *pub_new(ingest_server_t *s, int protocol,
                            const char *stream_id, const char *token,
                            const char *addr)
{
    publisher_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->stream = hub_stream_open(s->hub, stream_id, token);
    if (!p->stream) {
        free(p);
        return NULL;
    }
    p->protocol = protocol;
    snprintf(p->stream_id, sizeof(p->stream_id), "%s", stream_id);
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    p->prev_ms = clock_mono_ms();
    p->next = s->pubs;
    if (s->pubs)
        s->pubs->prev = p;
    s->pubs = p;
    atomic_fetch_add(&s->n.live, 1);
    return p;
}

static void pub_end(ingest_server_t *s, publisher_t **pp, const char *why)
{
    publisher_t *p = *pp;
    if (!p)
        return;
    log_info("ingest", "Stream ended.", "stream=%s why=\"%s\" ts_raised=%llu",
             p->stream_id, why,
             (unsigned long long)hub_stream_stats(p->stream)->ts_raised);
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__StreamEnd end = PRISM__STREAM_END__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
    env.stream_end = &end;
    end.stream_id = p->stream_id;
    end.reason = (char *)why;
    send_coord(s, &env);
    hub_stream_close(s->hub, &p->stream, why);
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pubs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->conn)
        p->conn->pub = NULL;
    atomic_fetch_sub(&s->n.live, 1);
    video_size_free(&p->vsize);
    free(p);
    *pp = NULL;
}

static int64_t unwrap(publisher_t *p, uint32_t track, uint32_t ts)
{
    if (p->ts_seen[track] && ts < p->last_ts[track] &&
        p->last_ts[track] - ts > 0x80000000u)
        p->ts_hi[track] += 1ll << 32;
    p->ts_seen[track] = true;
    p->last_ts[track] = ts;
    return p->ts_hi[track] + ts;
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
        pub_end(s, &c->pub, why);
    if (c->pending) {
        for (int i = 0; i < MAX_PENDING; i++)
            if (s->pending[i].used && s->pending[i].conn == c)
                s->pending[i].conn = NULL;
    }
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

/* ------------------------------------------------------------ admission */

/* The SRT rejection code for a refusal's reason. */
static int srt_reject_code(const char *reason)
{
    static const struct {
        const char *reason;
        int code;
    } codes[] = {
        {"stream already live", 1409},                /* SRT_REJX_CONFLICT */
        {"coordinator did not answer", 1503},         /* SRT_REJX_DOWN */
        {"too many refused keys, retry later", 1402}, /* SRT_REJX_OVERLOAD */
        {"ingest busy", 1402},
    };
    for (size_t i = 0; reason && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(reason, codes[i].reason) == 0)
            return codes[i].code;
    return 1403; /* SRT_REJX_FORBIDDEN */
}

/*
 * Applies an admission decision. For RTMP it only writes the answer into
 * the connection's output: the connection may be inside its own input
 * callback, so flushing and closing is left to conn_after. Returns the
 * RTMP connection concerned, or NULL.
 */
static conn_t *admit_result(ingest_server_t *s, pending_t *pd, bool ok,
                            const char *reason, const char *stream_id,
                            const char *token, bool count_bad)
{
    publisher_t *p = NULL;
    conn_t *ret = NULL;
    if (ok) {
        p = pub_new(s, pd->protocol, stream_id, token, pd->addr);
        if (!p) {
            ok = false;
            reason = "stream already live";
            count_bad = false;
        }
    }
    if (!ok && count_bad)
        addr_limit_bad_key(s->limits, pd->addr, clock_mono_ms());
    if (ok) {
        atomic_fetch_add(&s->n.publish_ok, 1);
        log_info("ingest", "Publish accepted.", "stream=%s addr=%s proto=%s",
                 stream_id, pd->addr,
                 pd->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT
                     ? "srt"
                     : "rtmp");
    } else {
        atomic_fetch_add(&s->n.publish_refused, 1);
        log_warn("ingest", "Publish refused.", "addr=%s reason=\"%s\"",
                 pd->addr, reason);
    }
    if (pd->protocol == PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT) {
        if (!srt_ingest_admit_done(pd->admit, ok, srt_reject_code(reason),
                                   reason, p, stream_id) &&
            p)
            pub_end(s, &p, "SRT listener gave up");
    } else if (pd->conn) {
        conn_t *c = pd->conn;
        c->pending = false;
        if (ok) {
            c->pub = p;
            p->conn = c;
            snprintf(p->client, sizeof(p->client), "%s",
                     rtmp_conn_meta(c->rc)->client);
        }
        rtmp_conn_publish_result(c->rc, ok, reason);
        ret = c;
    } else if (p) {
        pub_end(s, &p, "publisher left during admission");
    }
    memset(pd, 0, sizeof(*pd));
    return ret;
}

/* Flushes c's output, and closes it if its publish was refused. */
static void conn_after(ingest_server_t *s, conn_t *c)
{
    if (!c)
        return;
    if (conn_flush(s, c) < 0)
        conn_close(s, c, "write failed");
    else if (rtmp_conn_state(c->rc) == RTMP_CONN_CLOSING)
        conn_close(s, c, "publish refused");
}

/* Starts an admission for key; conn (RTMP) or admit (SRT) is the asker. */
static void admit_start(ingest_server_t *s, int protocol, conn_t *conn,
                        srt_admit_t *admit, const char *key, const char *addr,
                        const char *client)
{
    pending_t tmp = {true, 0, protocol, conn, admit, "", "", 0};
    snprintf(tmp.key, sizeof(tmp.key), "%s", key);
    snprintf(tmp.addr, sizeof(tmp.addr), "%s", addr);
    if (conn)
        conn->pending = true;
    if (addr_limit_blocked(s->limits, addr, clock_mono_ms())) {
        admit_result(s, &tmp, false, "too many refused keys, retry later", NULL,
                     NULL, false);
        return;
    }
    if (!*key) {
        admit_result(s, &tmp, false, "empty stream key", NULL, NULL, true);
        return;
    }
    if (!s->coord) { /* open mode */
        admit_result(s, &tmp, true, "", key, key, false);
        return;
    }
    pending_t *pd = NULL;
    for (int i = 0; i < MAX_PENDING && !pd; i++)
        if (!s->pending[i].used)
            pd = &s->pending[i];
    if (!pd) {
        admit_result(s, &tmp, false, "ingest busy", NULL, NULL, false);
        return;
    }
    *pd = tmp;
    pd->id = ++s->next_req;
    pd->deadline = clock_mono_ms() + s->cfg.admit_timeout_ms;

    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__PublishRequest req = PRISM__PUBLISH_REQUEST__INIT;
    Prism__SourceInfo src = PRISM__SOURCE_INFO__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
    env.publish_request = &req;
    req.ingest_id = s->cfg.ingest_id;
    req.stream_key = pd->key;
    req.protocol = (Prism__IngestProtocol)protocol;
    req.remote_addr = pd->addr;
    req.request_id = pd->id;
    src.client = (char *)(client ? client : "");
    req.source = &src;
    send_coord(s, &env);
}

static void on_publish_reply(ingest_server_t *s, const Prism__PublishReply *r)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        pending_t *pd = &s->pending[i];
        if (!pd->used || pd->id != r->request_id)
            continue;
        const char *sid = r->stream_id && *r->stream_id ? r->stream_id : NULL;
        if (r->accepted && !sid) {
            conn_after(s, admit_result(s, pd, false,
                                       "coordinator gave no stream id", NULL,
                                       NULL, false));
            return;
        }
        conn_t *c = admit_result(
            s, pd, r->accepted,
            r->reason && *r->reason ? r->reason : "stream key refused", sid,
            r->subscribe_token ? r->subscribe_token : "", !r->accepted);
        conn_after(s, c);
        return;
    }
    log_warn("ingest", "PublishReply for no pending publish.",
             "request_id=%llu", (unsigned long long)r->request_id);
}

/* ------------------------------------------------------------ RTMP events */

static int cb_publish(void *opaque, rtmp_conn_t *rc, const char *app,
                      const char *key)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    (void)app;
    admit_start(s, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_RTMP, c, NULL, key,
                c->addr, rtmp_conn_meta(rc)->client);
    return 0;
}

/* Sets the RTMP video track; x == NULL keeps the extradata we have (a
 * size change from onMetaData, or a codec without a sequence header). */
static void set_video_track(ingest_server_t *s, publisher_t *p,
                            const uint8_t *x, uint32_t xlen, uint32_t codec)
{
    const hub_track_info_t *old = hub_stream_track(p->stream, TRACK_VIDEO);
    hub_track_info_t t = {PRISM__TRACK_KIND__TRACK_KIND_VIDEO,
                          codec,
                          x,
                          xlen,
                          p->width,
                          p->height,
                          0,
                          0,
                          1,
                          RTMP_TB_DEN};
    if (!x && old && old->codec == codec) {
        t.extradata = old->extradata;
        t.extradata_len = old->extradata_len;
    }
    hub_stream_set_track(s->hub, p->stream, TRACK_VIDEO, &t);
}

/*
 * RTMP: the size from the stream when onMetaData did not give it (FFmpeg's
 * -flvflags no_metadata, encoders that send none): the video's packets are
 * parsed with the sequence header's record until a slice gives the size.
 * Without it the coordinator would never place the stream.
 */
static void rtmp_video_size(ingest_server_t *s, publisher_t *p,
                            const uint8_t *data, uint32_t size, int64_t dts)
{
    const hub_track_info_t *v = hub_stream_track(p->stream, TRACK_VIDEO);
    if ((p->width && p->height) || !v || p->vsize_packets >= VSIZE_MAX_PACKETS)
        return;
    enum AVCodecID id = v->codec == FLV_CODEC_H264   ? AV_CODEC_ID_H264
                        : v->codec == FLV_CODEC_HEVC ? AV_CODEC_ID_HEVC
                        : v->codec == FLV_CODEC_AV1  ? AV_CODEC_ID_AV1
                                                     : AV_CODEC_ID_NONE;
    if (id == AV_CODEC_ID_NONE)
        return;
    if (!p->vsize &&
        !(p->vsize = video_size_new(id, v->extradata, (int)v->extradata_len))) {
        log_warn("ingest", "Cannot watch for the video size.",
                 "call=video_size_new stream=%s codec=%s", p->stream_id,
                 avcodec_get_name(id));
        p->vsize_packets = VSIZE_MAX_PACKETS;
        return;
    }
    video_size_info_t info;
    if (!video_size_feed(p->vsize, data, (int)size, dts,
                         (AVRational){1, RTMP_TB_DEN}, &info)) {
        if (++p->vsize_packets == VSIZE_MAX_PACKETS) {
            log_warn("ingest", "No video size in the stream.",
                     "stream=%s packets=%u", p->stream_id, p->vsize_packets);
            video_size_free(&p->vsize);
        }
        return;
    }
    video_size_free(&p->vsize);
    p->width = (uint32_t)info.width;
    p->height = (uint32_t)info.height;
    if (p->meta_fps <= 0)
        p->meta_fps = info.fps;
    log_info("ingest", "Video size found in the stream.",
             "stream=%s width=%d height=%d fps=%.2f", p->stream_id, info.width,
             info.height, info.fps);
    set_video_track(s, p, NULL, 0, v->codec);
    /* Placing waits for the size: say it now, when the rate is known too
     * (a rate measured now would span a moment). */
    if (p->meta_fps > 0)
        s->last_stats_ms = 0;
}

/*
 * Ends an accepted RTMP publish whose codec Prism does not carry: the
 * publisher gets onStatus error with the reason, the coordinator a
 * StreamEnd with it (its stream.ended event), so the stream is never
 * placed, nor placed again. The connection closes after the flush.
 */
static void pub_refuse_codec(ingest_server_t *s, conn_t *c, bool video,
                             const char *codec)
{
    char reason[200];
    snprintf(reason, sizeof(reason), "unsupported %s codec: %s; Prism takes %s",
             video ? "video" : "audio", codec,
             video ? "H.264, HEVC or AV1" : "AAC or MP3");
    atomic_fetch_add(&s->n.publish_refused, 1);
    log_warn("ingest", "Publish refused.", "stream=%s addr=%s reason=\"%s\"",
             c->pub->stream_id, c->addr, reason);
    rtmp_conn_publish_fail(c->rc, reason);
    pub_end(s, &c->pub, reason);
}

static int cb_media(void *opaque, rtmp_conn_t *rc, uint8_t type, uint32_t ts,
                    pktbuf_t *buf, uint32_t off, uint32_t len)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    publisher_t *p = c->pub;
    if (!p)
        return 0;
    flv_pkt_t f;
    bool video = type == RTMP_MSG_VIDEO;
    const uint8_t *body = buf->data + off;
    int r =
        video ? flv_parse_video(body, len, &f) : flv_parse_audio(body, len, &f);
    if (r == FLV_EUNSUPPORTED) {
        char name[96];
        pub_refuse_codec(
            s, c, video,
            flv_codec_describe(video, body, len, name, sizeof(name)));
        return 0;
    }
    if (r < 0)
        return r;
    if (f.skip || f.eos)
        return 0;
    uint32_t track = video ? TRACK_VIDEO : TRACK_AUDIO;
    if (f.config) {
        if (video) {
            p->vcodec = f.codec;
            set_video_track(s, p, body + f.offset, f.size, f.codec);
            video_size_free(&p->vsize); /* the new record parses from now */
        } else {
            uint32_t sr = f.sample_rate, ch = f.channels;
            if (f.codec == FLV_CODEC_AAC)
                flv_aac_asc_info(body + f.offset, f.size, &sr, &ch);
            p->acodec = f.codec;
            p->sample_rate = sr;
            p->channels = ch;
            hub_track_info_t t = {PRISM__TRACK_KIND__TRACK_KIND_AUDIO,
                                  f.codec,
                                  body + f.offset,
                                  f.size,
                                  0,
                                  0,
                                  sr,
                                  ch,
                                  1,
                                  RTMP_TB_DEN};
            hub_stream_set_track(s->hub, p->stream, TRACK_AUDIO, &t);
        }
        return 0;
    }
    if (!hub_stream_track(p->stream, track)) {
        /* A codec without a configuration record (MP3): the first packet
         * defines the track. */
        if (video) {
            p->vcodec = f.codec;
            set_video_track(s, p, NULL, 0, f.codec);
        } else {
            p->acodec = f.codec;
            p->sample_rate = f.sample_rate;
            p->channels = f.channels;
            hub_track_info_t t = {PRISM__TRACK_KIND__TRACK_KIND_AUDIO,
                                  f.codec,
                                  NULL,
                                  0,
                                  0,
                                  0,
                                  f.sample_rate,
                                  f.channels,
                                  1,
                                  RTMP_TB_DEN};
            hub_stream_set_track(s->hub, p->stream, TRACK_AUDIO, &t);
        }
    }
    if (f.size == 0)
        return 0;
    int64_t dts = unwrap(p, track, ts);
    if (video)
        rtmp_video_size(s, p, body + f.offset, f.size, dts);
    hub_pkt_t hp = {buf,
                    off + f.offset,
                    f.size,
                    track,
                    dts + f.cts,
                    dts,
                    0,
                    video ? f.keyframe : true,
                    clock_mono_us()};
    /* Out of memory drops this packet (counted in the hub), not the
     * connection. */
    hub_stream_packet(s->hub, p->stream, &hp);
    return 0;
}

static void cb_metadata(void *opaque, rtmp_conn_t *rc)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    const rtmp_meta_t *m = rtmp_conn_meta(rc);
    publisher_t *p = c->pub;
    if (!p)
        return;
    snprintf(p->client, sizeof(p->client), "%s", m->client);
    /* A legacy FLV video codec id (1-15) other than H.264 (7) and HEVC
     * (12) is refused now, before the size lets the stream be placed;
     * larger numbers are Enhanced RTMP FourCCs, judged by their packets. */
    int vid = (int)m->videocodecid;
    if (m->videocodecid == vid && vid >= 1 && vid <= 15 && vid != 7 &&
        vid != 12) {
        uint8_t tag = (uint8_t)vid;
        char name[96];
        pub_refuse_codec(s, c, true,
                         flv_codec_describe(true, &tag, 1, name, sizeof(name)));
        return;
    }
    bool had_size = p->width && p->height;
    if (m->width > 0 && m->width < 65536)
        p->width = (uint32_t)m->width;
    if (m->height > 0 && m->height < 65536)
        p->height = (uint32_t)m->height;
    p->meta_fps = m->framerate;
    /* The coordinator fits the ladder and places the stream once it
     * knows the size: send the stats now, not at the next interval. */
    if (!had_size && p->width && p->height)
        s->last_stats_ms = 0;
    const hub_track_info_t *v = hub_stream_track(p->stream, TRACK_VIDEO);
    if (v && (v->width != p->width || v->height != p->height))
        set_video_track(s, p, NULL, 0, v->codec);
}

static void cb_unpublish(void *opaque, rtmp_conn_t *rc)
{
    ingest_server_t *s = opaque;
    conn_t *c = rtmp_conn_user(rc);
    if (c->pub)
        pub_end(s, &c->pub, "publisher stopped");
}

static const rtmp_conn_cbs_t rtmp_cbs = {cb_publish, cb_media, cb_metadata,
                                         cb_unpublish};

static void on_accept(ingest_server_t *s)
{
    for (int i = 0; i < 64; i++) {
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

static const char *err_name(int rc)
{
    switch (rc) {
    case RTMP_CONN_EHANDSHAKE:
        return "bad handshake version";
    case RTMP_CONN_EOUTPUT:
        return "output buffer full";
    case RTMP_CONN_ELIMIT:
        return "too many streams on one connection";
    case RTMP_CONN_EAMF:
        return "malformed AMF command";
    case RTMP_CONN_ECLOSED:
        return "data after a refused publish";
    case RTMP_CHUNK_EMSGSIZE:
        return "message too large";
    case RTMP_CHUNK_ESTREAMS:
        return "too many chunk streams";
    case RTMP_CHUNK_ECHUNKSIZE:
        return "bad chunk size";
    case RTMP_CHUNK_EPROTO:
        return "chunk header out of sequence";
    case RTMP_CHUNK_ENOMEM:
        return "out of memory";
    case FLV_EINVAL:
        return "malformed audio/video tag";
    default:
        return "protocol error";
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
            conn_close(s, c, err_name(rc));
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
    for (int budget = 0; budget < 4096 && (it = srt_ingest_pop(s->srt));
         budget++) {
        publisher_t *p = it->publisher;
        switch (it->kind) {
        case SRTQ_ADMIT:
            admit_start(s, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT, NULL,
                        it->admit, it->admit->key, it->admit->addr, "");
            break;
        case SRTQ_TRACK:
            if (p) {
                hub_stream_set_track(s->hub, p->stream, it->track, &it->info);
                if (it->info.kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO) {
                    /* Placing waits for the size: say it now, not at the
                     * next stats interval, when the rate is known too (a
                     * rate measured now would span a moment). */
                    if (!(p->width && p->height) && it->info.width &&
                        it->info.height && it->fps > 0)
                        s->last_stats_ms = 0;
                    p->vcodec = it->info.codec;
                    p->width = it->info.width;
                    p->height = it->info.height;
                    /* The rate the stream declares, as onMetaData's for
                     * RTMP: the stats sent at once measure too short a
                     * window to fit the ladder to. */
                    if (it->fps > 0)
                        p->meta_fps = it->fps;
                } else {
                    p->acodec = it->info.codec;
                    p->sample_rate = it->info.sample_rate;
                    p->channels = it->info.channels;
                }
                if (it->client[0])
                    snprintf(p->client, sizeof(p->client), "%s", it->client);
            }
            break;
        case SRTQ_PKT:
            if (p)
                hub_stream_packet(s->hub, p->stream, &it->pkt);
            break;
        case SRTQ_END:
            if (p)
                pub_end(s, &p, it->why[0] ? it->why : "SRT publisher left");
            break;
        }
        srtq_free(&it);
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
            on_publish_reply(s, env->publish_reply);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_REGISTER_ACK) {
            const Prism__RegisterAck *a = env->register_ack;
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

/* How long a stream with audio waits for video before it is audio-only. */
#define AUDIO_ONLY_AFTER_MS 2000

/*
 * A stream whose audio came and whose video has not come
 * AUDIO_ONLY_AFTER_MS later is audio-only; its stats go at once (the
 * coordinator waits for them to place it).
 */
static void audio_only_scan(ingest_server_t *s, int64_t now)
{
    for (publisher_t *p = s->pubs; p; p = p->next) {
        if (!p->acodec || p->vcodec || p->audio_only)
            continue;
        if (!p->audio_since_ms)
            p->audio_since_ms = now;
        if (now - p->audio_since_ms < AUDIO_ONLY_AFTER_MS)
            continue;
        p->audio_only = true;
        s->last_stats_ms = 0;
        log_info("ingest", "Audio-only stream: no video came.",
                 "stream=%s codec=%u waited_ms=%lld", p->stream_id, p->acodec,
                 (long long)(now - p->audio_since_ms));
    }
}

static void send_stats(ingest_server_t *s, int64_t now)
{
    for (publisher_t *p = s->pubs; p; p = p->next) {
        const hub_stream_stats_t *st = hub_stream_stats(p->stream);
        double secs = (now - p->prev_ms) / 1000.0;
        if (secs <= 0)
            continue;
        p->kbps = (double)(st->bytes_in - p->prev_bytes) * 8 / 1000 / secs;
        p->fps = (double)(st->video_frames - p->prev_frames) / secs;
        p->prev_bytes = st->bytes_in;
        p->prev_frames = st->video_frames;
        p->prev_ms = now;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        Prism__IngestStats is = PRISM__INGEST_STATS__INIT;
        Prism__SourceInfo src = PRISM__SOURCE_INFO__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_INGEST_STATS;
        env.ingest_stats = &is;
        is.stream_id = p->stream_id;
        is.source = &src;
        /* Audio-only (radio, music): the audio codec is said only with
         * video, or once audio_only_scan found none (the coordinator
         * places a stream naming audio and no video as audio-only). */
        src.video_codec = (Prism__Codec)p->vcodec;
        src.audio_codec =
            (Prism__Codec)(p->vcodec || p->audio_only ? p->acodec : 0);
        src.width = p->width;
        src.height = p->height;
        /* The encoder's declared rate (onMetaData) when it gave one: the
         * rate measured over the first second is off, and the ladder is
         * fitted to it. */
        double rate = p->meta_fps > 0 ? p->meta_fps : p->fps;
        src.fps_num = (uint32_t)(rate * 1000 + 0.5);
        src.fps_den = 1000;
        src.sample_rate = p->sample_rate;
        src.channels = p->channels;
        src.video_kbps = (uint32_t)p->kbps;
        src.client = p->client;
        is.bitrate_kbps = p->kbps;
        is.fps = p->fps;
        is.keyframe_interval_s = st->key_interval_s;
        is.dropped_packets = st->dropped;
        is.bytes_in = st->bytes_in;
        is.subscribers = st->subscribers;
        send_coord(s, &env);
        log_debug("ingest", "Stream stats.",
                  "stream=%s kbps=%.0f fps=%.1f gop_s=%.2f dropped=%llu "
                  "subscribers=%u client=\"%s\"",
                  p->stream_id, p->kbps, p->fps, st->key_interval_s,
                  (unsigned long long)st->dropped, st->subscribers, p->client);
    }
}

static void scan_timeouts(ingest_server_t *s, int64_t now)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        pending_t *pd = &s->pending[i];
        if (pd->used && now >= pd->deadline)
            conn_after(s,
                       admit_result(s, pd, false, "coordinator did not answer",
                                    NULL, NULL, false));
    }
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
    o.sndhwm = 100000; /* credit bounds the bytes; this bounds messages */
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
        if (zmq_ipv6_for(s->coord, s->cfg.coordinator, "coordinator") < 0)
            return -EINVAL;
        if (zsock_connect(s->coord, s->cfg.coordinator) < 0)
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
        addr_limit_new(4096, (uint32_t)cfg->max_conns_per_addr,
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
    hub_limits_t hl = {
        (uint32_t)cfg->gop_max_packets, (uint64_t)cfg->gop_max_bytes,
        (uint32_t)cfg->max_subscribers, (uint32_t)cfg->max_streams};
    s->hub = hub_new(s->router, cfg->ingest_id, &hl);
    if (!s->hub)
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
            audio_only_scan(s, now);
        }
        if (now - s->last_stats_ms >= s->cfg.stats_interval_ms) {
            s->last_stats_ms = now;
            send_stats(s, now);
        }
        if (s->zap && s->cfg.allow_reload_ms > 0 &&
            now - s->last_allow_ms >= s->cfg.allow_reload_ms) {
            s->last_allow_ms = now;
            zap_reload_if_changed(s->zap); /* zap logs what it loads */
        }
        if (s->coord && now - s->last_hb_ms >= s->cfg.heartbeat_ms) {
            s->last_hb_ms = now;
            send_heartbeat(s);
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
    while (s->pubs) {
        publisher_t *p = s->pubs;
        pub_end(s, &p, "shutting down");
    }
    for (int i = 0; i < MAX_PENDING; i++)
        if (s->pending[i].used && s->pending[i].admit)
            srt_ingest_admit_done(s->pending[i].admit, false, 1503,
                                  "shutting down", NULL, NULL);
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
    o->publish_ok = atomic_load(&s->n.publish_ok);
    o->publish_refused = atomic_load(&s->n.publish_refused);
    o->live_streams = atomic_load(&s->n.live);
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
