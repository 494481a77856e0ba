/* SRT publisher threads: admission after the accept, MPEG-TS demux, close. */
#include "srt_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <srt/access_control.h>

#include "clock.h"
#include "log.h"
#include "srt_tracks.h"

/* Time allowed for probing (max_analyze_duration and some) on top of
 * idle_timeout_ms before the first media packet must have come. */
#define PROBE_MS 2000
/* The demuxer's probe: bytes and stream time it reads for the codecs. */
#define PROBE_BYTES      (1 << 20)
#define PROBE_ANALYZE_US 1500000
/* The AVIOContext's buffer. */
#define AVIO_BUF_BYTES 65536
/* Added to admit_timeout_ms for the loop's answer (a refusal then): it
 * covers the loop's scan interval. */
#define ADMIT_ANSWER_MARGIN_MS 1000
/* The longest single receive, so that stop and deadlines are seen. */
#define RECV_SLICE_MS 250

static const char *const end_names[] = {
    [SRT_END_NONE] = "stream ended",
    [SRT_END_PEER] = "publisher closed the connection",
    [SRT_END_IDLE] = "idle timeout: no data",
    [SRT_END_NO_MEDIA] = "no audio or video packet in time",
    [SRT_END_DEMUX] = "not a usable MPEG-TS stream",
    [SRT_END_NO_KEY] = "no video key frame with its size in time",
    [SRT_END_REFUSED] = "stream key refused after connecting",
    [SRT_END_NO_ANSWER] = "no admission answer in time",
    [SRT_END_STOP] = "ingest shutting down",
    [SRT_END_CODEC] = "unsupported codec",
};

const char *srt_conn_end_name(srt_end_why_t why)
{
    return end_names[why];
}

void srt_conn_drop_admit(srt_conn_env_t *env, srt_admit_t *a, const char *why)
{
    void *pub = srt_admit_abandon(a);
    if (pub)
        srt_queue_post_end(&env->queue, pub, why);
    srt_admit_unref(a);
    atomic_fetch_sub(&env->deferred_open, 1);
}

/* Sets why c ends, unless a cause is already set. */
static void conn_fail(srt_conn_t *c, srt_end_why_t why)
{
    if (c->why == SRT_END_NONE)
        c->why = why;
}

static const char *stream_name(const srt_conn_t *c)
{
    return c->stream_id[0] ? c->stream_id : "-";
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
    while (c->pending_len == 0 && c->why == SRT_END_NONE) {
        int64_t now = clock_mono_ms();
        if (atomic_load(&c->env->stop))
            conn_fail(c, SRT_END_STOP);
        else if (now - c->last_byte_ms >= c->env->idle_ms)
            conn_fail(c, SRT_END_IDLE);
        else if (now >= c->media_deadline)
            conn_fail(c, SRT_END_NO_MEDIA);
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
                    conn_fail(c, SRT_END_PEER);
            }
        }
    }
    if (c->why != SRT_END_NONE)
        return AVERROR_EOF;
    if (clock_mono_ms() >= c->media_deadline) {
        conn_fail(c, SRT_END_NO_MEDIA); /* bytes that never make a packet */
        return AVERROR_EOF;
    }
    int n = c->pending_len < size ? c->pending_len : size;
    memcpy(buf, c->pending + c->pending_off, (size_t)n);
    c->pending_off += n;
    c->pending_len -= n;
    return n;
}

/* A libavformat call failed: logged, unless the connection had already
 * failed (then the cause, a timeout say, says more than "End of file"). */
static void demux_failed(srt_conn_t *c, const char *what, const char *call,
                         int rc)
{
    if (c->why == SRT_END_NONE)
        log_warn("srt", what, "call=%s addr=%s key_len=%zu err=\"%s\"", call,
                 c->addr, strlen(c->key), av_err2str(rc));
    conn_fail(c, SRT_END_DEMUX);
}

/* Waits for an admission the listen callback did not see decided. Returns
 * 0 with c->publisher set, or -1 with c->why set (the connection closes). */
static int conn_admit(srt_conn_t *c)
{
    srt_conn_env_t *env = c->env;
    srt_admit_t *a = c->admit;
    c->admit = NULL;
    int64_t asked_ms = a->asked_ms;
    bool done = srt_admit_wait(
        a, asked_ms + env->admit_ms + ADMIT_ANSWER_MARGIN_MS, &env->stop);
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
        srt_admit_unref(a);
        atomic_fetch_sub(&env->deferred_open, 1);
        log_info("srt", "Admitted after the accept.",
                 "stream=%s key_len=%zu addr=%s waited_ms=%lld", c->stream_id,
                 strlen(c->key), c->addr,
                 (long long)(clock_mono_ms() - asked_ms));
        return 0;
    }
    c->why =
        done && code != SRT_REJX_DOWN ? SRT_END_REFUSED : SRT_END_NO_ANSWER;
    if (!done && atomic_load(&env->stop)) {
        c->why = SRT_END_STOP;
        srt_conn_drop_admit(env, a, end_names[SRT_END_STOP]);
        return -1;
    }
    log_warn("srt", "Closing a connection whose admission failed.",
             "key_len=%zu addr=%s code=%d reason=\"%s\"", strlen(c->key),
             c->addr, done ? code : SRT_REJX_DOWN,
             done ? reason : "no answer in time");
    srt_conn_drop_admit(env, a, "admission failed"); /* a is freed here */
    atomic_fetch_add(&env->n_late_refused, 1);
    return -1;
}

/* Opens the MPEG-TS demuxer over c's socket and probes its codecs. Returns
 * 0, or -1 with c->why set; *fmt and *avio are the caller's to free either
 * way. */
static int demux_open(srt_conn_t *c, AVFormatContext **fmt, AVIOContext **avio)
{
    uint8_t *iobuf = av_malloc(AVIO_BUF_BYTES);
    if (!iobuf)
        return -1;
    *avio = avio_alloc_context(iobuf, AVIO_BUF_BYTES, 0, c, read_packet, NULL,
                               NULL);
    if (!*avio) {
        av_free(iobuf);
        return -1;
    }
    *fmt = avformat_alloc_context();
    if (!*fmt)
        return -1;
    (*fmt)->pb = *avio;
    (*fmt)->probesize = PROBE_BYTES;
    (*fmt)->max_analyze_duration = PROBE_ANALYZE_US;
    int rc =
        avformat_open_input(fmt, NULL, av_find_input_format("mpegts"), NULL);
    if (rc < 0) {
        demux_failed(c, "Cannot open the MPEG-TS stream.",
                     "avformat_open_input", rc);
        return -1;
    }
    rc = avformat_find_stream_info(*fmt, NULL);
    if (rc < 0) {
        demux_failed(c, "Cannot find the stream's codecs.",
                     "avformat_find_stream_info", rc);
        return -1;
    }
    return 0;
}

/* Queues pkt (track idx) as a PKT item; dropped when out of memory. */
static void post_packet(srt_conn_t *c, AVPacket *pkt, int idx)
{
    srtq_item_t *it = calloc(1, sizeof(*it));
    pktbuf_t *b = it ? pktbuf_new((uint32_t)pkt->size) : NULL;
    if (!b) {
        free(it);
        av_packet_unref(pkt);
        return;
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
    c->media_deadline = clock_mono_ms() + c->env->idle_ms;
    srt_queue_push(&c->env->queue, it);
}

/* Reads packets until the stream or the connection ends (c->why set);
 * after a failure, the packets the demuxer still holds. */
static void demux_read(srt_conn_t *c, AVFormatContext *fmt, srt_tracks_t *t,
                       AVPacket *pkt)
{
    int64_t key_deadline = c->media_deadline;
    for (;;) {
        int rc = av_read_frame(fmt, pkt);
        if (rc < 0) {
            if (rc == AVERROR_EOF)
                conn_fail(c, SRT_END_PEER);
            else
                demux_failed(c, "Cannot read the MPEG-TS stream.",
                             "av_read_frame", rc);
            break;
        }
        int idx = srt_tracks_packet(t, fmt, pkt, c->packets);
        if (idx < 0) {
            av_packet_unref(pkt);
            continue;
        }
        if (t->need_key && clock_mono_ms() >= key_deadline) {
            conn_fail(c, SRT_END_NO_KEY);
            av_packet_unref(pkt);
            break;
        }
        post_packet(c, pkt, idx);
    }
}

/* Demuxes c's MPEG-TS into tracks and packets until it ends. */
static void conn_demux(srt_conn_t *c)
{
    AVFormatContext *fmt = NULL;
    AVIOContext *avio = NULL;
    AVPacket *pkt = av_packet_alloc();
    srt_tracks_t tracks;
    srt_tracks_init(&tracks, &c->env->queue, c->publisher, c->addr,
                    c->stream_id);
    if (pkt && demux_open(c, &fmt, &avio) == 0) {
        if (srt_tracks_open(&tracks, fmt, c->refuse, sizeof(c->refuse)) < 0)
            conn_fail(c, SRT_END_CODEC);
        else
            demux_read(c, fmt, &tracks, pkt);
    }
    srt_tracks_close(&tracks);
    avformat_close_input(&fmt);
    if (avio) {
        av_freep(&avio->buffer);
        avio_context_free(&avio);
    }
    av_packet_free(&pkt);
}

/* Counts and logs why c ended. */
static void conn_log_end(srt_conn_t *c)
{
    srt_conn_env_t *env = c->env;
    srt_end_why_t why = c->why;
    if (why == SRT_END_IDLE || why == SRT_END_NO_MEDIA || why == SRT_END_NO_KEY)
        atomic_fetch_add(&env->n_timeout, 1);
    else if (why == SRT_END_DEMUX)
        atomic_fetch_add(&env->n_error, 1);
    if (why == SRT_END_IDLE || why == SRT_END_NO_MEDIA ||
        why == SRT_END_DEMUX || why == SRT_END_NO_KEY)
        log_warn("srt", "Closing an SRT publisher.",
                 "stream=%s addr=%s key_len=%zu why=\"%s\" "
                 "idle_timeout_ms=%d packets=%llu",
                 stream_name(c), c->addr, strlen(c->key), end_names[why],
                 env->idle_ms, (unsigned long long)c->packets);
    log_info("srt", "Publisher left.",
             "stream=%s addr=%s key_len=%zu why=\"%s\" packets=%llu",
             stream_name(c), c->addr, strlen(c->key), end_names[why],
             (unsigned long long)c->packets);
}

/* One publisher: demux MPEG-TS from the SRT socket until it ends. */
static void *conn_main(void *arg)
{
    srt_conn_t *c = arg;
    if (!c->admit || conn_admit(c) == 0) {
        c->last_byte_ms = clock_mono_ms();
        c->media_deadline = c->last_byte_ms + c->env->idle_ms + PROBE_MS;
        conn_demux(c);
    }
    conn_log_end(c);
    if (c->publisher)
        srt_queue_post_end(&c->env->queue, c->publisher,
                           c->why == SRT_END_CODEC ? c->refuse
                                                   : end_names[c->why]);
    srt_close(c->sock);
    atomic_store(&c->finished, true);
    return NULL;
}

int srt_conn_start(srt_conn_t *c)
{
    /* Receive in slices; read_packet keeps the idle clock. */
    int tmo = c->env->idle_ms < RECV_SLICE_MS ? c->env->idle_ms : RECV_SLICE_MS;
    int yes = 1;
    srt_setsockflag(c->sock, SRTO_RCVSYN, &yes, sizeof(yes));
    srt_setsockflag(c->sock, SRTO_RCVTIMEO, &tmo, sizeof(tmo));
    if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
        log_error("srt", "Cannot start a publisher thread.",
                  "call=pthread_create addr=%s", c->addr);
        return -1;
    }
    c->thread_started = true;
    return 0;
}

bool srt_conn_finished(srt_conn_t *c)
{
    return atomic_load(&c->finished);
}

void srt_conn_free(srt_conn_t **cp)
{
    if (!cp || !*cp)
        return;
    srt_conn_t *c = *cp;
    if (!atomic_load(&c->finished))
        srt_close(c->sock); /* makes its srt_recvmsg return */
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    free(c);
    *cp = NULL;
}
