/* A packet source fed by the ingest's media ROUTER over ZeroMQ. */
#include "zmq_source.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "media_frame.h"
#include "zsock.h"

#define MOD           "zmq_source"
#define RETRY_MS      200
#define POLL_MS       50
#define TRACK_MAX     8
#define EXTRADATA_MAX (1 << 20)

typedef struct {
    void *sock;
    char stream_id[128];
    char sender[64];
    uint64_t credit;   /* kept granted */
    uint64_t consumed; /* payload bytes since the last Credit */
    int idle_ms;
    uint32_t history_ms;
    int map[TRACK_MAX]; /* track index -> stream index, -1 = none */
    /* Extradata that changed, handed out with the track's next packet. */
    uint8_t *new_extra[TRACK_MAX];
    int new_extra_len[TRACK_MAX];
    atomic_bool interrupted;
    atomic_bool end_at_key;
    pthread_mutex_t lock;
    zmq_source_stats_t st;
} zsrc_t;

static enum AVCodecID codec_id(uint32_t c)
{
    switch (c) {
    case PRISM__CODEC__CODEC_H264:
        return AV_CODEC_ID_H264;
    case PRISM__CODEC__CODEC_HEVC:
        return AV_CODEC_ID_HEVC;
    case PRISM__CODEC__CODEC_AV1:
        return AV_CODEC_ID_AV1;
    case PRISM__CODEC__CODEC_AAC:
        return AV_CODEC_ID_AAC;
    case PRISM__CODEC__CODEC_OPUS:
        return AV_CODEC_ID_OPUS;
    case PRISM__CODEC__CODEC_MP3:
        return AV_CODEC_ID_MP3;
    default:
        return AV_CODEC_ID_NONE;
    }
}

static void send_env(zsrc_t *z, Prism__Envelope *env)
{
    int ret = envelope_send(z->sock, NULL, z->sender, env, ZMQ_DONTWAIT);
    if (ret < 0 && ret != -EAGAIN)
        log_warn(MOD, "Cannot send to the ingest.", "stream=%s err=\"%s\"",
                 z->stream_id, zmq_strerror(-ret));
}

static void send_subscribe(zsrc_t *z, const char *token)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Subscribe s = PRISM__SUBSCRIBE__INIT;
    s.stream_id = z->stream_id;
    s.token = (char *)token;
    s.credit_bytes = z->credit;
    s.history_ms = z->history_ms;
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &s;
    send_env(z, &env);
}

static void send_credit(zsrc_t *z, uint64_t bytes)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Credit c = PRISM__CREDIT__INIT;
    c.stream_id = z->stream_id;
    c.bytes = bytes;
    env.body_case = PRISM__ENVELOPE__BODY_CREDIT;
    env.credit = &c;
    send_env(z, &env);
}

static int set_extradata(AVCodecParameters *par, const ProtobufCBinaryData *x)
{
    av_freep(&par->extradata);
    par->extradata_size = 0;
    if (!x->len)
        return 0;
    if (x->len > EXTRADATA_MAX)
        return AVERROR(EINVAL);
    par->extradata = av_mallocz(x->len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return AVERROR(ENOMEM);
    memcpy(par->extradata, x->data, x->len);
    par->extradata_size = (int)x->len;
    return 0;
}

/* The H.264 profile_idc in an avcC record or in the SPS of Annex B
 * extradata; FF_PROFILE_UNKNOWN when there is none. The session leaves the
 * Source rendition out for profiles browsers cannot play (4:4:4, 10-bit). */
static int h264_profile(const uint8_t *x, size_t len)
{
    if (len >= 4 && x[0] == 1)
        return x[1];
    for (size_t i = 0; i + 4 < len; i++)
        if (x[i] == 0 && x[i + 1] == 0 && x[i + 2] == 1 &&
            (x[i + 3] & 0x1f) == 7)
            return x[i + 4];
    return FF_PROFILE_UNKNOWN;
}

/* Fills the source's streams from an accepting SubscribeReply. */
static int take_tracks(packet_source_t *src, zsrc_t *z,
                       const Prism__SubscribeReply *r,
                       const zmq_source_opts_t *o)
{
    for (size_t i = 0; i < r->n_tracks; i++) {
        const Prism__Track *t = r->tracks[i];
        enum AVCodecID id = codec_id(t->codec);
        if (t->index >= TRACK_MAX || id == AV_CODEC_ID_NONE ||
            src->nb_streams >= PACKET_SOURCE_MAX_STREAMS ||
            z->map[t->index] >= 0) {
            log_warn(MOD, "Skipping a track the worker cannot use.",
                     "stream=%s track=%u codec=%d", z->stream_id, t->index,
                     (int)t->codec);
            continue;
        }
        packet_source_stream_t *s = &src->streams[src->nb_streams];
        s->par = avcodec_parameters_alloc();
        if (!s->par)
            return AVERROR(ENOMEM);
        src->nb_streams++;
        AVCodecParameters *par = s->par;
        par->codec_id = id;
        if (t->kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO) {
            par->codec_type = AVMEDIA_TYPE_VIDEO;
            par->width = (int)t->width;
            par->height = (int)t->height;
            s->frame_rate = o->fps_num > 0 && o->fps_den > 0
                                ? (AVRational){o->fps_num, o->fps_den}
                                : (AVRational){0, 1};
        } else {
            par->codec_type = AVMEDIA_TYPE_AUDIO;
            par->sample_rate = (int)t->sample_rate;
            av_channel_layout_default(&par->ch_layout,
                                      t->channels ? (int)t->channels : 2);
            s->frame_rate = (AVRational){0, 1};
        }
        s->type = par->codec_type;
        if (!t->timebase_num || !t->timebase_den) {
            log_error(MOD, "A track has no time base.", "stream=%s track=%u",
                      z->stream_id, t->index);
            return AVERROR_INVALIDDATA;
        }
        s->time_base = (AVRational){(int)t->timebase_num, (int)t->timebase_den};
        int ret = set_extradata(par, &t->extradata);
        if (ret < 0)
            return ret;
        if (id == AV_CODEC_ID_H264)
            par->profile =
                h264_profile(par->extradata, (size_t)par->extradata_size);
        z->map[t->index] = src->nb_streams - 1;
    }
    if (!src->nb_streams) {
        log_error(MOD, "The stream has no usable track.", "stream=%s",
                  z->stream_id);
        return AVERROR_STREAM_NOT_FOUND;
    }
    return 0;
}

/* A SubscribeReply after the first: extradata that changed goes out with
 * the track's next packet as side data. */
static void take_new_extradata(packet_source_t *src, zsrc_t *z,
                               const Prism__SubscribeReply *r)
{
    for (size_t i = 0; i < r->n_tracks; i++) {
        const Prism__Track *t = r->tracks[i];
        if (t->index >= TRACK_MAX || z->map[t->index] < 0)
            continue;
        const AVCodecParameters *par = src->streams[z->map[t->index]].par;
        if (!t->extradata.len || t->extradata.len > EXTRADATA_MAX ||
            ((size_t)par->extradata_size == t->extradata.len &&
             !memcmp(par->extradata, t->extradata.data, t->extradata.len)))
            continue;
        av_freep(&z->new_extra[t->index]);
        z->new_extra[t->index] = av_malloc(t->extradata.len);
        if (!z->new_extra[t->index])
            continue;
        memcpy(z->new_extra[t->index], t->extradata.data, t->extradata.len);
        z->new_extra_len[t->index] = (int)t->extradata.len;
    }
}

static int to_packet(packet_source_t *src, zsrc_t *z,
                     const Prism__MediaHeader *m, zmq_msg_t *payload,
                     AVPacket *pkt)
{
    size_t len = zmq_msg_size(payload);
    int si = m->track < TRACK_MAX ? z->map[m->track] : -1;
    z->consumed += len;
    if (z->consumed >= z->credit / 4) {
        send_credit(z, z->consumed);
        z->consumed = 0;
    }
    if (si < 0)
        return AVERROR(EAGAIN);
    if (m->keyframe && src->streams[si].type == AVMEDIA_TYPE_VIDEO &&
        atomic_load(&z->end_at_key)) {
        log_info(MOD, "Input ends at this keyframe, as asked.",
                 "stream=%s dts=%" PRId64, z->stream_id, m->dts);
        return AVERROR_EOF;
    }
    /* One copy: decoders read past the end, so the bytes need padding
     * that a ZeroMQ frame does not have. */
    int ret = av_new_packet(pkt, (int)len);
    if (ret < 0)
        return ret;
    memcpy(pkt->data, zmq_msg_data(payload), len);
    pkt->stream_index = si;
    pkt->pts = m->pts;
    pkt->dts = m->dts;
    pkt->duration = m->duration;
    if (m->keyframe)
        pkt->flags |= AV_PKT_FLAG_KEY;
    src->arrival_unix_us = m->arrival_unix_us;
    if (z->new_extra[m->track]) {
        ret = av_packet_add_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA,
                                      z->new_extra[m->track],
                                      (size_t)z->new_extra_len[m->track]);
        if (ret < 0)
            av_freep(&z->new_extra[m->track]);
        z->new_extra[m->track] = NULL; /* the packet owns it now */
    }
    int64_t now = clock_mono_us();
    AVRational tb = src->streams[si].time_base;
    pthread_mutex_lock(&z->lock);
    z->st.packets++;
    z->st.bytes += (int64_t)len;
    z->st.dropped = (int64_t)m->dropped;
    z->st.last_input_ms = av_rescale_q(m->dts, tb, (AVRational){1, 1000});
    z->st.last_packet_us = now;
    if (!z->st.first_packet_us)
        z->st.first_packet_us = now;
    pthread_mutex_unlock(&z->lock);
    return 0;
}

static int zs_read(packet_source_t *src, AVPacket *pkt)
{
    zsrc_t *z = src->priv;
    int64_t last = clock_mono_ms();
    for (;;) {
        if (atomic_load(&z->interrupted))
            return AVERROR_EXIT;
        zmq_pollitem_t pi = {z->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&pi, 1, POLL_MS);
        if (n < 0 && zmq_errno() != EINTR) {
            log_error(MOD, "Polling the media socket failed.",
                      "call=zmq_poll stream=%s err=\"%s\"", z->stream_id,
                      zmq_strerror(zmq_errno()));
            return AVERROR(EIO);
        }
        if (n <= 0) {
            if (clock_mono_ms() - last > z->idle_ms) {
                log_warn(MOD, "No media from the ingest; ending the input.",
                         "stream=%s idle_ms=%d", z->stream_id, z->idle_ms);
                return AVERROR_EOF;
            }
            continue;
        }
        Prism__Envelope *env = NULL;
        zmq_msg_t payload;
        int ret = media_frame_recv(z->sock, ZMQ_DONTWAIT, NULL, &env, &payload);
        if (ret < 0)
            continue;
        ret = AVERROR(EAGAIN);
        if (env->body_case == PRISM__ENVELOPE__BODY_MEDIA_HEADER) {
            last = clock_mono_ms();
            ret = to_packet(src, z, env->media_header, &payload, pkt);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY &&
                   env->subscribe_reply->accepted) {
            take_new_extradata(src, z, env->subscribe_reply);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY) {
            log_error(MOD, "The ingest ended the subscription.",
                      "stream=%s reason=\"%s\"", z->stream_id,
                      env->subscribe_reply->reason);
            ret = AVERROR_EOF;
        } else if (env->body_case == PRISM__ENVELOPE__BODY_STREAM_END) {
            /* The publisher left; its last packets came before this. */
            log_info(MOD, "The publish ended at the ingest.",
                     "stream=%s reason=\"%s\"", z->stream_id,
                     env->stream_end->reason);
            ret = AVERROR_EOF;
        }
        zmq_msg_close(&payload);
        envelope_free(&env);
        if (ret != AVERROR(EAGAIN))
            return ret;
    }
}

static void zs_interrupt(packet_source_t *src)
{
    zsrc_t *z = src->priv;
    atomic_store(&z->interrupted, true);
}

void zmq_source_end_at_keyframe(packet_source_t *src)
{
    zsrc_t *z = src->priv;
    atomic_store(&z->end_at_key, true);
}

static void zs_close(packet_source_t *src)
{
    zsrc_t *z = src->priv;
    if (!z)
        return;
    if (z->sock) {
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        Prism__Unsubscribe u = PRISM__UNSUBSCRIBE__INIT;
        u.stream_id = z->stream_id;
        env.body_case = PRISM__ENVELOPE__BODY_UNSUBSCRIBE;
        env.unsubscribe = &u;
        send_env(z, &env);
        zsock_close(&z->sock);
    }
    for (int i = 0; i < TRACK_MAX; i++)
        av_freep(&z->new_extra[i]);
    pthread_mutex_destroy(&z->lock);
    free(z);
    src->priv = NULL;
}

static const packet_source_ops_t zs_ops = {"zmq", zs_read, zs_interrupt,
                                           zs_close};

void zmq_source_stats(packet_source_t *src, zmq_source_stats_t *out)
{
    zsrc_t *z = src->priv;
    pthread_mutex_lock(&z->lock);
    *out = z->st;
    pthread_mutex_unlock(&z->lock);
}

/* Waits for an accepting SubscribeReply; 0 or a negative code. */
static int subscribe(packet_source_t *src, zsrc_t *z,
                     const zmq_source_opts_t *o)
{
    int64_t end = clock_mono_ms() + o->timeout_ms, next = 0;
    char reason[128] = "no answer";
    while (clock_mono_ms() < end) {
        int64_t now = clock_mono_ms();
        if (now >= next) {
            send_subscribe(z, o->token);
            next = now + RETRY_MS;
        }
        zmq_pollitem_t pi = {z->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, POLL_MS) <= 0)
            continue;
        Prism__Envelope *env = NULL;
        zmq_msg_t payload;
        if (media_frame_recv(z->sock, ZMQ_DONTWAIT, NULL, &env, &payload) < 0)
            continue;
        int ret = 1;
        if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY) {
            const Prism__SubscribeReply *r = env->subscribe_reply;
            if (r->accepted) {
                src->publish_id = r->publish_id;
                ret = take_tracks(src, z, r, o);
            } else {
                snprintf(reason, sizeof(reason), "%s", r->reason);
                /* Unknown until the ingest has the publish: keep asking.
                 * A wrong token will not get better. */
                if (strcmp(r->reason, "unknown stream") != 0)
                    ret = -EACCES;
            }
        }
        zmq_msg_close(&payload);
        envelope_free(&env);
        if (ret <= 0) {
            if (ret < 0)
                log_error(MOD, "The ingest refused the subscription.",
                          "stream=%s endpoint=%s reason=\"%s\"", z->stream_id,
                          o->endpoint, ret == -EACCES ? reason : "bad tracks");
            return ret;
        }
    }
    log_error(MOD, "No subscription at the ingest in time.",
              "stream=%s endpoint=%s timeout_ms=%d last=\"%s\"", z->stream_id,
              o->endpoint, o->timeout_ms, reason);
    return -ETIMEDOUT;
}

packet_source_t *zmq_source_open(const zmq_source_opts_t *o)
{
    packet_source_t *src = calloc(1, sizeof(*src));
    zsrc_t *z = calloc(1, sizeof(*z));
    if (!src || !z) {
        free(src);
        free(z);
        return NULL;
    }
    pthread_mutex_init(&z->lock, NULL);
    src->ops = &zs_ops;
    src->priv = z;
    src->live = true;
    snprintf(src->name, sizeof(src->name), "zmq:%s/%s", o->endpoint,
             o->stream_id);
    snprintf(z->stream_id, sizeof(z->stream_id), "%s", o->stream_id);
    snprintf(z->sender, sizeof(z->sender), "worker");
    z->credit = o->credit_bytes ? o->credit_bytes : 8u << 20;
    z->idle_ms = o->idle_ms > 0 ? o->idle_ms : 15000;
    z->history_ms = o->history_ms;
    for (int i = 0; i < TRACK_MAX; i++)
        z->map[i] = -1;

    zsock_opts_t so;
    zsock_opts_default(&so);
    so.rcvhwm = 100000; /* credit bounds what the ingest sends */
    so.sndtimeo_ms = 0;
    so.max_msg_size = 32 << 20;
    z->sock = zsock_new(ZMQ_DEALER, &so);
    if (!z->sock)
        goto err;
    if (o->server_key && o->server_key[0] && o->client_key &&
        zsock_curve_client(z->sock, o->client_key, o->server_key) < 0)
        goto err;
    if (zsock_connect(z->sock, o->endpoint) < 0)
        goto err;
    if (subscribe(src, z, o) < 0)
        goto err;
    log_info(MOD, "Subscribed at the ingest.",
             "stream=%s endpoint=%s tracks=%d", z->stream_id, o->endpoint,
             src->nb_streams);
    return src;
err:
    packet_source_free(&src);
    return NULL;
}
