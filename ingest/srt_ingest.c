/* SRT publishing: listener and per-publisher demux threads feeding a queue. */
#include "srt_ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <srt/srt.h>
#include <srt/access_control.h>

#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "video_size.h"

#define MAX_CONNS 256

/* Why a publisher's connection ended (the first cause wins). */
typedef enum {
    END_NONE,
    END_PEER,      /* the publisher closed or the connection broke */
    END_IDLE,      /* no bytes for idle_timeout_ms */
    END_NO_MEDIA,  /* bytes, but no audio or video packet in time */
    END_DEMUX,     /* not a usable MPEG-TS stream */
    END_NO_KEY,    /* video, but no key frame with a known size in time */
    END_REFUSED,   /* a late admission answer refused the key */
    END_NO_ANSWER, /* no admission answer within admit_timeout_ms */
    END_STOP,      /* the ingest is shutting down */
    END_CODEC,     /* a codec Prism does not carry (refuse names it) */
} end_why_t;

static const char *const end_names[] = {
    [END_NONE] = "stream ended",
    [END_PEER] = "publisher closed the connection",
    [END_IDLE] = "idle timeout: no data",
    [END_NO_MEDIA] = "no audio or video packet in time",
    [END_DEMUX] = "not a usable MPEG-TS stream",
    [END_NO_KEY] = "no video key frame with its size in time",
    [END_REFUSED] = "stream key refused after connecting",
    [END_NO_ANSWER] = "no admission answer in time",
    [END_STOP] = "ingest shutting down",
    [END_CODEC] = "unsupported codec",
};

typedef struct srt_conn {
    srt_ingest_t *owner;
    SRTSOCKET sock;
    pthread_t thread;
    bool thread_started;
    atomic_bool finished;
    void *publisher;
    srt_admit_t *admit; /* an admission decided after the accept; ref held */
    char key[256];
    char addr[64];
    char stream_id[128];    /* the loop's name for it, for the log */
    end_why_t why;          /* set once: read_packet then fails at once */
    char refuse[200];       /* END_CODEC: the reason, naming the codec */
    int64_t last_byte_ms;   /* the last SRT message received */
    int64_t media_deadline; /* no packet by then: END_NO_MEDIA */
    uint64_t packets;
    uint8_t pending[1500];
    int pending_off, pending_len;
} srt_conn_t;

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

struct srt_ingest {
    SRTSOCKET listener;
    int eid; /* srt epoll watching the listener */
    int port;
    int latency_ms, idle_ms, admit_ms, admit_wait_ms;
    addr_limit_t *limits;
    int wake_fd;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t qmu;
    srtq_item_t *head, *tail;
    uint32_t qpkts, qmax;
    atomic_ullong dropped;
    atomic_int deferred_open; /* admissions accepted before their answer */
    atomic_ullong n_refused, n_deferred, n_timeout, n_error, n_late_refused;
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

static void wake(srt_ingest_t *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->wake_fd, &one, sizeof(one));
    (void)r;
}

/* Queues an item; PKT items beyond the bound are dropped. */
static void push(srt_ingest_t *s, srtq_item_t *it)
{
    pthread_mutex_lock(&s->qmu);
    if (it->kind == SRTQ_PKT && s->qpkts >= s->qmax) {
        pthread_mutex_unlock(&s->qmu);
        atomic_fetch_add(&s->dropped, 1);
        srtq_free(&it);
        return;
    }
    if (it->kind == SRTQ_PKT)
        s->qpkts++;
    bool was_empty = s->head == NULL;
    it->next = NULL;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    pthread_mutex_unlock(&s->qmu);
    if (was_empty)
        wake(s);
}

srtq_item_t *srt_ingest_pop(srt_ingest_t *s)
{
    pthread_mutex_lock(&s->qmu);
    srtq_item_t *it = s->head;
    if (it) {
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        if (it->kind == SRTQ_PKT)
            s->qpkts--;
    }
    pthread_mutex_unlock(&s->qmu);
    return it;
}

static void admit_unref(srt_admit_t *a)
{
    if (atomic_fetch_sub(&a->ref, 1) == 1) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
    }
}

void srtq_free(srtq_item_t **ip)
{
    if (!ip || !*ip)
        return;
    srtq_item_t *it = *ip;
    free((void *)it->info.extradata);
    pktbuf_unref(it->pkt.buf);
    free(it);
    *ip = NULL;
}

bool srt_ingest_admit_done(srt_admit_t *a, bool accepted, int reject_code,
                           const char *reason, void *publisher,
                           const char *stream_id)
{
    pthread_mutex_lock(&a->mu);
    bool taken = !a->abandoned;
    a->done = true;
    a->accepted = accepted;
    a->reject_code = reject_code;
    a->publisher = publisher;
    snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
    snprintf(a->stream_id, sizeof(a->stream_id), "%s",
             stream_id ? stream_id : "");
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    admit_unref(a);
    return taken;
}

uint64_t srt_ingest_dropped(const srt_ingest_t *s)
{
    return atomic_load(&((srt_ingest_t *)s)->dropped);
}

void srt_ingest_counters(srt_ingest_t *s, srt_ingest_counters_t *out)
{
    out->refused = atomic_load(&s->n_refused);
    out->deferred = atomic_load(&s->n_deferred);
    out->late_refused = atomic_load(&s->n_late_refused);
    out->closed_timeout = atomic_load(&s->n_timeout);
    out->closed_error = atomic_load(&s->n_error);
}

int srt_ingest_port(const srt_ingest_t *s)
{
    return s->port;
}

/* Tells the loop that pub's publisher is gone, saying why. */
static void post_end(srt_ingest_t *s, void *pub, const char *why)
{
    srtq_item_t *end = calloc(1, sizeof(*end));
    if (!end) {
        log_error("srt", "Cannot tell the loop a publisher left.",
                  "call=calloc");
        return;
    }
    end->kind = SRTQ_END;
    end->publisher = pub;
    snprintf(end->why, sizeof(end->why), "%s", why);
    push(s, end);
}

/* Waits until a is answered or the monotonic clock reaches until_ms, in
 * slices so that the ingest's stop is seen. Returns whether it was
 * answered; a->mu is not held on return. */
static bool admit_wait(srt_ingest_t *s, srt_admit_t *a, int64_t until_ms)
{
    pthread_mutex_lock(&a->mu);
    while (!a->done && !atomic_load(&s->stop)) {
        int64_t now = clock_mono_ms();
        if (now >= until_ms)
            break;
        int64_t t = now + (until_ms - now > 200 ? 200 : until_ms - now);
        struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    bool done = a->done;
    pthread_mutex_unlock(&a->mu);
    return done;
}

/* Gives up an admission decided after the accept (its reference is
 * released): an acceptance given before is ended here, one given later is
 * undone by the loop (srt_ingest_admit_done returns false). */
static void admit_drop(srt_ingest_t *s, srt_admit_t *a, const char *why)
{
    pthread_mutex_lock(&a->mu);
    void *pub = a->done && a->accepted ? a->publisher : NULL;
    a->abandoned = true;
    pthread_mutex_unlock(&a->mu);
    if (pub)
        post_end(s, pub, why);
    admit_unref(a);
    atomic_fetch_sub(&s->deferred_open, 1);
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

/*
 * libsrt's listen callback. It runs on libsrt's receiver thread, which
 * also reads every accepted socket of this port: while it waits, every SRT
 * publisher here is frozen. So it waits for the loop's answer at most
 * admit_wait_ms (and not at all while an earlier admission is still open,
 * so that slow answers do not add up); an answer in that time gives a real
 * SRT rejection code. Without one, the connection is accepted and its
 * publisher thread waits for the answer (conn_main), closing the
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
        atomic_fetch_add(&s->n_refused, 1);
        srt_setrejectreason(ns, SRT_REJX_BAD_REQUEST);
        return -1;
    }
    if (addr_limit_blocked(s->limits, addr, clock_mono_ms())) {
        log_warn("srt", "Refusing a rate-limited address.", "addr=%s", addr);
        atomic_fetch_add(&s->n_refused, 1);
        srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
        return -1;
    }
    srt_admit_t *a = calloc(1, sizeof(*a));
    srtq_item_t *it = calloc(1, sizeof(*it));
    if (!a || !it) {
        free(a);
        free(it);
        atomic_fetch_add(&s->n_refused, 1);
        srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
        return -1;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&a->ref, 2); /* this side and the loop */
    a->asked_ms = clock_mono_ms();
    snprintf(a->key, sizeof(a->key), "%s", key);
    snprintf(a->addr, sizeof(a->addr), "%s", addr);
    it->kind = SRTQ_ADMIT;
    it->admit = a;
    push(s, it);

    int wait = s->admit_wait_ms < s->admit_ms ? s->admit_wait_ms : s->admit_ms;
    if (wait < s->admit_ms && atomic_load(&s->deferred_open) > 0)
        wait = 0;
    bool done = admit_wait(s, a, a->asked_ms + wait);
    if (!done && wait >= s->admit_ms) {
        /* Configured to decide in the callback only. */
        pthread_mutex_lock(&a->mu);
        done = a->done;
        if (!done)
            a->abandoned = true;
        pthread_mutex_unlock(&a->mu);
        if (!done) {
            admit_unref(a);
            log_warn("srt", "No admission answer in time.",
                     "key_len=%zu addr=%s", strlen(key), addr);
            srt_setrejectreason(ns, SRT_REJX_DOWN);
            return -1;
        }
    }
    if (!done) {
        atomic_fetch_add(&s->deferred_open, 1);
        if (!remember_admitted(s, ns, NULL, a, key, "")) {
            admit_drop(s, a, "ingest busy");
            atomic_fetch_add(&s->n_refused, 1);
            srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
            return -1;
        }
        atomic_fetch_add(&s->n_deferred, 1);
        log_info("srt", "Accepting before the admission answer.",
                 "key_len=%zu addr=%s waited_ms=%d", strlen(key), addr, wait);
        return 0;
    }
    pthread_mutex_lock(&a->mu);
    bool ok = a->accepted;
    int code = a->reject_code;
    void *pub = a->publisher;
    char sid[128];
    snprintf(sid, sizeof(sid), "%s", a->stream_id);
    pthread_mutex_unlock(&a->mu);
    admit_unref(a);
    if (!ok) {
        srt_setrejectreason(ns, code ? code : SRT_REJX_FORBIDDEN);
        return -1;
    }
    if (!remember_admitted(s, ns, pub, NULL, key, sid)) {
        /* The loop holds a publisher for this; END releases it. */
        post_end(s, pub, "ingest busy");
        atomic_fetch_add(&s->n_refused, 1);
        srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
        return -1;
    }
    return 0;
}

/* Sets why c ends, unless a cause is already set. */
static void conn_fail(srt_conn_t *c, end_why_t why)
{
    if (c->why == END_NONE)
        c->why = why;
}

/*
 * libavformat's read callback. libavformat calls it again after an EOF
 * (avio_feof, probing), so the first failure is kept and every later call
 * fails at once: without that, each call waited another receive timeout.
 * srt_recvmsg waits in slices (SRTO_RCVTIMEO) so that silence longer than
 * idle_timeout_ms, no media packet by media_deadline, and the ingest's
 * stop all end the connection within a slice.
 */
static int read_packet(void *opaque, uint8_t *buf, int size)
{
    srt_conn_t *c = opaque;
    while (c->pending_len == 0 && c->why == END_NONE) {
        int64_t now = clock_mono_ms();
        if (atomic_load(&c->owner->stop))
            conn_fail(c, END_STOP);
        else if (now - c->last_byte_ms >= c->owner->idle_ms)
            conn_fail(c, END_IDLE);
        else if (now >= c->media_deadline)
            conn_fail(c, END_NO_MEDIA);
        else {
            int n =
                srt_recvmsg(c->sock, (char *)c->pending, sizeof(c->pending));
            if (n > 0) {
                c->pending_off = 0;
                c->pending_len = n;
                c->last_byte_ms = clock_mono_ms();
            } else {
                int err = n < 0 ? srt_getlasterror(NULL) : SRT_ECONNLOST;
                if (err != SRT_EASYNCRCV && err != SRT_ETIMEOUT)
                    conn_fail(c, END_PEER);
            }
        }
    }
    if (c->why != END_NONE)
        return AVERROR_EOF;
    if (clock_mono_ms() >= c->media_deadline) {
        conn_fail(c, END_NO_MEDIA); /* bytes that never make a packet */
        return AVERROR_EOF;
    }
    int n = c->pending_len < size ? c->pending_len : size;
    memcpy(buf, c->pending + c->pending_off, (size_t)n);
    c->pending_off += n;
    c->pending_len -= n;
    return n;
}

static uint32_t codec_of(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_H264:
        return 1;
    case AV_CODEC_ID_HEVC:
        return 2;
    case AV_CODEC_ID_AV1:
        return 3;
    case AV_CODEC_ID_AAC:
        return 4;
    case AV_CODEC_ID_OPUS:
        return 5;
    case AV_CODEC_ID_MP3:
        return 6;
    default:
        return 0;
    }
}

static void post_track(srt_conn_t *c, uint32_t idx, const AVStream *st,
                       const uint8_t *extra, int extra_len, const char *client,
                       double fps)
{
    srtq_item_t *it = calloc(1, sizeof(*it));
    if (!it)
        return;
    const AVCodecParameters *p = st->codecpar;
    it->kind = SRTQ_TRACK;
    it->publisher = c->publisher;
    it->track = idx;
    it->info.kind = p->codec_type == AVMEDIA_TYPE_VIDEO ? 1 : 2;
    it->info.codec = codec_of(p->codec_id);
    it->info.width = (uint32_t)p->width;
    it->info.height = (uint32_t)p->height;
    it->info.sample_rate = (uint32_t)p->sample_rate;
    it->info.channels = (uint32_t)p->ch_layout.nb_channels;
    it->info.tb_num = (uint32_t)st->time_base.num;
    it->info.tb_den = (uint32_t)st->time_base.den;
    if (extra && extra_len > 0) {
        uint8_t *x = malloc((size_t)extra_len);
        if (x) {
            memcpy(x, extra, (size_t)extra_len);
            it->info.extradata = x;
            it->info.extradata_len = (uint32_t)extra_len;
        }
    }
    if (client)
        snprintf(it->client, sizeof(it->client), "%s", client);
    it->fps = fps;
    push(c->owner, it);
}

/* A libavformat call failed: logged, unless the connection had already
 * failed (then the cause, a timeout say, says more than "End of file"). */
static void demux_failed(srt_conn_t *c, const char *what, const char *call,
                         int rc)
{
    if (c->why == END_NONE)
        log_warn("srt", what, "call=%s addr=%s key_len=%zu err=\"%s\"", call,
                 c->addr, strlen(c->key), av_err2str(rc));
    conn_fail(c, END_DEMUX);
}

/*
 * Learning a video size after the probe. avformat_find_stream_info reads
 * the start of the stream only (max_analyze_duration); when the video's
 * parameter sets are not in it, the size stays 0 and the coordinator never
 * places the stream. A stream joined mid-way looks like that (a relay, a
 * sender whose first packets were lost), and its parameter sets come again
 * only with the next IDR. So every video track still without a size gets a
 * parser that reads its packets until an SPS gives the size, and the track
 * is then posted again with it. Video that never gets a key frame with a
 * size is closed (END_NO_KEY): GStreamer 1.22's `mpegtsmux ! srtsink`
 * sends no key frame at all (srtsink drops the buffers mpegtsmux flags as
 * headers, which are the key frames' packets), and waiting for one would
 * hold the key with nothing to show for it.
 */
/* The rate the stream declares (the probe's), else 0. */
static double declared_fps(const AVStream *st)
{
    AVRational r =
        st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    double fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    return fps > 0 && fps <= 240 ? fps : 0;
}

/* Sets up *vp for st when its video size is unknown. */
static void probe_init(srt_conn_t *c, video_size_t **vp, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO ||
        (par->width > 0 && par->height > 0))
        return;
    *vp = video_size_new(par->codec_id, par->extradata, par->extradata_size);
    if (!*vp) {
        log_warn("srt", "Cannot watch for the video size.",
                 "call=video_size_new addr=%s codec=%s", c->addr,
                 avcodec_get_name(par->codec_id));
        return;
    }
    log_info("srt", "The probe found no video size; watching for it.",
             "stream=%s addr=%s codec=%s", c->stream_id[0] ? c->stream_id : "-",
             c->addr, avcodec_get_name(par->codec_id));
}

/* Parses one packet of a watched track; true once the size is known (it
 * is then in st->codecpar, the rate in *fps, and *vp is freed). */
static bool probe_feed(srt_conn_t *c, video_size_t **vp, AVStream *st,
                       const AVPacket *pkt, double *fps)
{
    if (!*vp)
        return false;
    /* Before the codec is known the demuxer may leave dts unset. */
    int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    video_size_info_t info;
    if (!video_size_feed(*vp, pkt->data, pkt->size, ts, st->time_base, &info))
        return false;
    st->codecpar->width = info.width;
    st->codecpar->height = info.height;
    *fps = info.fps;
    log_info("srt", "Video size found after the probe.",
             "stream=%s addr=%s width=%d height=%d fps=%.2f packets=%llu",
             c->stream_id[0] ? c->stream_id : "-", c->addr, info.width,
             info.height, info.fps, (unsigned long long)c->packets);
    video_size_free(vp);
    return true;
}

/* Time allowed for probing (max_analyze_duration and some) on top of
 * idle_timeout_ms before the first media packet must have come. */
#define PROBE_MS 2000

/* Waits for an admission the listen callback did not see decided. Returns
 * 0 with c->publisher set, or -1 with c->why set (the connection closes). */
static int conn_admit(srt_conn_t *c)
{
    srt_ingest_t *s = c->owner;
    srt_admit_t *a = c->admit;
    c->admit = NULL;
    /* The loop answers by admit_timeout_ms (a refusal then); the margin
     * covers its scan interval. */
    int64_t asked_ms = a->asked_ms;
    bool done = admit_wait(s, a, asked_ms + s->admit_ms + 1000);
    pthread_mutex_lock(&a->mu);
    bool ok = done && a->accepted;
    int code = a->reject_code;
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", a->reason);
    if (ok) {
        c->publisher = a->publisher;
        snprintf(c->stream_id, sizeof(c->stream_id), "%s", a->stream_id);
    }
    pthread_mutex_unlock(&a->mu);
    if (ok) {
        admit_unref(a);
        atomic_fetch_sub(&s->deferred_open, 1);
        log_info("srt", "Admitted after the accept.",
                 "stream=%s key_len=%zu addr=%s waited_ms=%lld", c->stream_id,
                 strlen(c->key), c->addr,
                 (long long)(clock_mono_ms() - asked_ms));
        return 0;
    }
    c->why = done && code != SRT_REJX_DOWN ? END_REFUSED : END_NO_ANSWER;
    if (!done && atomic_load(&s->stop)) {
        c->why = END_STOP;
        admit_drop(s, a, end_names[END_STOP]);
        return -1;
    }
    log_warn("srt", "Closing a connection whose admission failed.",
             "key_len=%zu addr=%s code=%d reason=\"%s\"", strlen(c->key),
             c->addr, done ? code : SRT_REJX_DOWN,
             done ? reason : "no answer in time");
    admit_drop(s, a, "admission failed"); /* a is freed here */
    atomic_fetch_add(&s->n_late_refused, 1);
    return -1;
}

/* One publisher: demux MPEG-TS from the SRT socket until it ends. */
static void *conn_main(void *arg)
{
    srt_conn_t *c = arg;
    srt_ingest_t *s = c->owner;
    AVFormatContext *fmt = NULL;
    AVIOContext *avio = NULL;
    AVPacket *pkt = av_packet_alloc();
    uint8_t *iobuf = av_malloc(65536);
    int map[64];
    video_size_t *probes[HUB_MAX_TRACKS] = {0};
    for (int i = 0; i < 64; i++)
        map[i] = -1;
    if (c->admit && conn_admit(c) < 0)
        goto end;
    c->last_byte_ms = clock_mono_ms();
    c->media_deadline = c->last_byte_ms + s->idle_ms + PROBE_MS;
    if (!pkt || !iobuf)
        goto end;
    avio = avio_alloc_context(iobuf, 65536, 0, c, read_packet, NULL, NULL);
    if (!avio)
        goto end;
    iobuf = NULL;
    fmt = avformat_alloc_context();
    if (!fmt)
        goto end;
    fmt->pb = avio;
    fmt->probesize = 1 << 20;
    fmt->max_analyze_duration = 1500000;
    int rc =
        avformat_open_input(&fmt, NULL, av_find_input_format("mpegts"), NULL);
    if (rc < 0) {
        demux_failed(c, "Cannot open the MPEG-TS stream.",
                     "avformat_open_input", rc);
        goto end;
    }
    rc = avformat_find_stream_info(fmt, NULL);
    if (rc < 0) {
        demux_failed(c, "Cannot find the stream's codecs.",
                     "avformat_find_stream_info", rc);
        goto end;
    }
    const AVDictionaryEntry *enc =
        av_dict_get(fmt->metadata, "service_provider", NULL, 0);
    uint32_t ntracks = 0;
    for (unsigned i = 0; i < fmt->nb_streams && i < 64; i++) {
        AVStream *st = fmt->streams[i];
        enum AVMediaType t = st->codecpar->codec_type;
        if (t != AVMEDIA_TYPE_VIDEO && t != AVMEDIA_TYPE_AUDIO)
            continue;
        if (codec_of(st->codecpar->codec_id) == 0) {
            /* Refused, not carried without it: the coordinator would
             * place a stream whose video (or audio) never comes. */
            bool v = t == AVMEDIA_TYPE_VIDEO;
            snprintf(c->refuse, sizeof(c->refuse),
                     "unsupported %s codec: %s (MPEG-TS stream %u); Prism "
                     "takes %s",
                     v ? "video" : "audio",
                     st->codecpar->codec_id == AV_CODEC_ID_NONE
                         ? "unknown"
                         : avcodec_get_name(st->codecpar->codec_id),
                     i, v ? "H.264, HEVC or AV1" : "AAC, MP3 or Opus");
            log_warn("srt", "Publish refused.",
                     "stream=%s addr=%s reason=\"%s\"",
                     c->stream_id[0] ? c->stream_id : "-", c->addr, c->refuse);
            conn_fail(c, END_CODEC);
            goto end;
        }
        if (ntracks >= HUB_MAX_TRACKS)
            continue;
        map[i] = (int)ntracks;
        post_track(c, ntracks, st, st->codecpar->extradata,
                   st->codecpar->extradata_size, enc ? enc->value : NULL,
                   declared_fps(st));
        probe_init(c, &probes[ntracks], st);
        ntracks++;
    }
    /* The video must become decodable: a key frame, its size known. */
    bool need_key = false;
    for (unsigned i = 0; i < fmt->nb_streams && i < 64; i++)
        need_key |= map[i] >= 0 &&
                    fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    int64_t key_deadline = c->media_deadline;
    for (;;) { /* after a failure, the packets the demuxer still holds */
        rc = av_read_frame(fmt, pkt);
        if (rc < 0) {
            if (rc == AVERROR_EOF)
                conn_fail(c, END_PEER);
            else
                demux_failed(c, "Cannot read the MPEG-TS stream.",
                             "av_read_frame", rc);
            break;
        }
        int idx = pkt->stream_index < 64 ? map[pkt->stream_index] : -1;
        if (idx < 0 || pkt->size <= 0) {
            av_packet_unref(pkt);
            continue;
        }
        size_t xl = 0;
        const uint8_t *x =
            av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &xl);
        if (x && xl)
            post_track(c, (uint32_t)idx, fmt->streams[pkt->stream_index], x,
                       (int)xl, NULL,
                       declared_fps(fmt->streams[pkt->stream_index]));
        AVStream *pst = fmt->streams[pkt->stream_index];
        double fps = 0;
        if (probe_feed(c, &probes[idx], pst, pkt, &fps))
            post_track(c, (uint32_t)idx, pst, pst->codecpar->extradata,
                       pst->codecpar->extradata_size, NULL,
                       declared_fps(pst) > 0 ? declared_fps(pst) : fps);
        if (need_key && (pkt->flags & AV_PKT_FLAG_KEY) &&
            pst->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            pst->codecpar->width > 0 && pst->codecpar->height > 0)
            need_key = false;
        if (need_key && clock_mono_ms() >= key_deadline) {
            conn_fail(c, END_NO_KEY);
            av_packet_unref(pkt);
            break;
        }
        srtq_item_t *it = calloc(1, sizeof(*it));
        pktbuf_t *b = it ? pktbuf_new((uint32_t)pkt->size) : NULL;
        if (!b) {
            free(it);
            av_packet_unref(pkt);
            continue;
        }
        memcpy(b->data, pkt->data, (size_t)pkt->size);
        it->kind = SRTQ_PKT;
        it->publisher = c->publisher;
        it->pkt.buf = b;
        it->pkt.len = (uint32_t)pkt->size;
        it->pkt.track = (uint32_t)idx;
        it->pkt.dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        it->pkt.pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : it->pkt.dts;
        it->pkt.duration = (uint32_t)pkt->duration;
        it->pkt.keyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        it->pkt.recv_us = clock_mono_us();
        av_packet_unref(pkt);
        c->packets++;
        c->media_deadline = clock_mono_ms() + s->idle_ms;
        push(s, it);
    }
end:
    if (c->why == END_IDLE || c->why == END_NO_MEDIA || c->why == END_NO_KEY)
        atomic_fetch_add(&s->n_timeout, 1);
    else if (c->why == END_DEMUX)
        atomic_fetch_add(&s->n_error, 1);
    if (c->why == END_IDLE || c->why == END_NO_MEDIA || c->why == END_DEMUX ||
        c->why == END_NO_KEY)
        log_warn("srt", "Closing an SRT publisher.",
                 "stream=%s addr=%s key_len=%zu why=\"%s\" "
                 "idle_timeout_ms=%d packets=%llu",
                 c->stream_id[0] ? c->stream_id : "-", c->addr, strlen(c->key),
                 end_names[c->why], s->idle_ms, (unsigned long long)c->packets);
    log_info("srt", "Publisher left.",
             "stream=%s addr=%s key_len=%zu why=\"%s\" packets=%llu",
             c->stream_id[0] ? c->stream_id : "-", c->addr, strlen(c->key),
             end_names[c->why], (unsigned long long)c->packets);
    for (int i = 0; i < HUB_MAX_TRACKS; i++)
        video_size_free(&probes[i]);
    avformat_close_input(&fmt);
    if (avio) {
        av_freep(&avio->buffer);
        avio_context_free(&avio);
    }
    av_free(iobuf);
    av_packet_free(&pkt);
    if (c->publisher)
        post_end(s, c->publisher,
                 c->why == END_CODEC ? c->refuse : end_names[c->why]);
    srt_close(c->sock);
    atomic_store(&c->finished, true);
    return NULL;
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
            post_end(s, d.publisher, "connection never established");
        if (d.admit)
            admit_drop(s, d.admit, "connection never established");
    }
}

/* Joins finished connection threads; with `all`, every thread. */
static void reap(srt_ingest_t *s, bool all)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        pthread_mutex_lock(&s->cmu);
        srt_conn_t *c = s->conns[i];
        bool take = c && (all || atomic_load(&c->finished));
        if (take)
            s->conns[i] = NULL;
        pthread_mutex_unlock(&s->cmu);
        if (!take)
            continue;
        if (all && !atomic_load(&c->finished))
            srt_close(c->sock); /* makes its srt_recvmsg return */
        if (c->thread_started)
            pthread_join(c->thread, NULL);
        free(c);
    }
}

static void *listener_main(void *arg)
{
    srt_ingest_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct sockaddr_storage ss;
        int sl = sizeof(ss);
        SRT_EPOLL_EVENT ev[4];
        /* Waits in slices so that srt_ingest_free's stop is seen: closing
         * a listener does not wake a blocked srt_accept. */
        int nev = srt_epoll_uwait(s->eid, ev, 4, 200);
        reap(s, false);
        sweep_admitted(s);
        if (nev <= 0)
            continue;
        SRTSOCKET ns = srt_accept(s->listener, (struct sockaddr *)&ss, &sl);
        if (ns == SRT_INVALID_SOCK) {
            if (atomic_load(&s->stop))
                break;
            int err = srt_getlasterror(NULL);
            if (err == SRT_EASYNCRCV || err == SRT_ETIMEOUT)
                continue;
            log_error("srt", "Accept failed.", "call=srt_accept err=\"%s\"",
                      srt_getlasterror_str());
            break;
        }
        srt_conn_t *c = calloc(1, sizeof(*c));
        int slot = -1;
        pthread_mutex_lock(&s->cmu);
        void *pub = NULL;
        srt_admit_t *adm = NULL;
        for (int i = 0; i < MAX_CONNS; i++) {
            admitted_t *d = &s->admitted[i];
            if (d->used && d->sock == ns) {
                pub = d->publisher;
                adm = d->admit;
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
        bool known = pub || adm;
        if (c && slot >= 0 && known)
            s->conns[slot] = c;
        pthread_mutex_unlock(&s->cmu);
        if (!c || slot < 0 || !known) {
            free(c);
            if (pub)
                post_end(s, pub, "ingest busy");
            if (adm)
                admit_drop(s, adm, "ingest busy");
            srt_close(ns);
            continue;
        }
        c->owner = s;
        c->sock = ns;
        c->publisher = pub;
        c->admit = adm;
        netaddr_str((struct sockaddr *)&ss, c->addr, sizeof(c->addr));
        /* Receive in slices; read_packet keeps the idle clock. */
        int tmo = s->idle_ms < 250 ? s->idle_ms : 250, yes = 1;
        srt_setsockflag(ns, SRTO_RCVSYN, &yes, sizeof(yes));
        srt_setsockflag(ns, SRTO_RCVTIMEO, &tmo, sizeof(tmo));
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
            log_error("srt", "Cannot start a publisher thread.",
                      "call=pthread_create addr=%s", c->addr);
            if (pub)
                post_end(s, pub, "ingest busy");
            if (adm)
                admit_drop(s, adm, "ingest busy");
            srt_close(ns);
            atomic_store(&c->finished, true);
            continue;
        }
        c->thread_started = true;
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
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    s->latency_ms = latency_ms;
    s->idle_ms = idle_timeout_ms;
    s->admit_ms = admit_timeout_ms;
    s->admit_wait_ms = admit_wait_ms;
    s->qmax = queue_packets;
    s->limits = limits;
    s->wake_fd = wake_fd;
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
    if (srt_listen(s->listener, 64) < 0)
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
    atomic_store(&s->stop, true);
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
            admit_drop(s, d->admit, end_names[END_STOP]);
        d->used = false;
    }
    srtq_item_t *it;
    while ((it = srt_ingest_pop(s))) {
        if (it->kind == SRTQ_ADMIT)
            srt_ingest_admit_done(it->admit, false, SRT_REJX_DOWN,
                                  "shutting down", NULL, NULL);
        srtq_free(&it);
    }
    srt_cleanup();
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->cmu);
    free(s);
    *sp = NULL;
}
