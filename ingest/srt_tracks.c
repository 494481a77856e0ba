/* SRT publishers' MPEG-TS streams as Prism tracks (codec check, size watch). */
#include "srt_tracks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "log.h"

/* The highest frame rate believed when a stream declares one. */
#define DECLARED_FPS_MAX 240

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

/* The rate the stream declares (the probe's), else 0. */
static double declared_fps(const AVStream *st)
{
    AVRational r =
        st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    double fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    return fps > 0 && fps <= DECLARED_FPS_MAX ? fps : 0;
}

static void post_track(srt_tracks_t *t, uint32_t idx, const AVStream *st,
                       const uint8_t *extra, int extra_len, const char *client,
                       double fps)
{
    srtq_item_t *it = calloc(1, sizeof(*it));
    if (!it)
        return;
    const AVCodecParameters *p = st->codecpar;
    it->kind = SRTQ_TRACK;
    it->publisher = t->publisher;
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
    srt_queue_push(t->queue, it);
}

static const char *stream_name(const srt_tracks_t *t)
{
    return t->stream_id[0] ? t->stream_id : "-";
}

/* Sets up a size watch for st, track idx, when its video size is unknown. */
static void probe_init(srt_tracks_t *t, uint32_t idx, const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO ||
        (par->width > 0 && par->height > 0))
        return;
    video_size_t **vp = &t->probes[idx];
    *vp = video_size_new(par->codec_id, par->extradata, par->extradata_size);
    if (!*vp) {
        log_warn("srt", "Cannot watch for the video size.",
                 "call=video_size_new addr=%s codec=%s", t->addr,
                 avcodec_get_name(par->codec_id));
        return;
    }
    log_info("srt", "The probe found no video size; watching for it.",
             "stream=%s addr=%s codec=%s", stream_name(t), t->addr,
             avcodec_get_name(par->codec_id));
}

/* Parses one packet of a watched track; true once the size is known (it
 * is then in st->codecpar, the rate in *fps, and the watch is freed). */
static bool probe_feed(srt_tracks_t *t, uint32_t idx, AVStream *st,
                       const AVPacket *pkt, uint64_t packets, double *fps)
{
    video_size_t **vp = &t->probes[idx];
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
             stream_name(t), t->addr, info.width, info.height, info.fps,
             (unsigned long long)packets);
    video_size_free(vp);
    return true;
}

void srt_tracks_init(srt_tracks_t *t, srt_queue_t *q, void *pub,
                     const char *addr, const char *stream_id)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < SRT_TRACKS_MAX_STREAMS; i++)
        t->map[i] = -1;
    t->queue = q;
    t->publisher = pub;
    t->addr = addr;
    t->stream_id = stream_id;
}

/* Refused, not carried without it: the coordinator would place a stream
 * whose video (or audio) never comes. */
static void refuse_codec(const srt_tracks_t *t, const AVStream *st, unsigned i,
                         char *refuse, size_t refuselen)
{
    bool v = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    snprintf(refuse, refuselen,
             "unsupported %s codec: %s (MPEG-TS stream %u); Prism "
             "takes %s",
             v ? "video" : "audio",
             st->codecpar->codec_id == AV_CODEC_ID_NONE
                 ? "unknown"
                 : avcodec_get_name(st->codecpar->codec_id),
             i, v ? "H.264, HEVC or AV1" : "AAC, MP3 or Opus");
    log_warn("srt", "Publish refused.", "stream=%s addr=%s reason=\"%s\"",
             stream_name(t), t->addr, refuse);
}

int srt_tracks_open(srt_tracks_t *t, AVFormatContext *fmt, char *refuse,
                    size_t refuselen)
{
    const AVDictionaryEntry *enc =
        av_dict_get(fmt->metadata, "service_provider", NULL, 0);
    for (unsigned i = 0; i < fmt->nb_streams && i < SRT_TRACKS_MAX_STREAMS;
         i++) {
        AVStream *st = fmt->streams[i];
        enum AVMediaType type = st->codecpar->codec_type;
        if (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (codec_of(st->codecpar->codec_id) == 0) {
            refuse_codec(t, st, i, refuse, refuselen);
            return -1;
        }
        if (t->n >= HUB_MAX_TRACKS)
            continue;
        t->map[i] = (int)t->n;
        post_track(t, t->n, st, st->codecpar->extradata,
                   st->codecpar->extradata_size, enc ? enc->value : NULL,
                   declared_fps(st));
        probe_init(t, t->n, st);
        t->n++;
    }
    /* The video must become decodable: a key frame, its size known. */
    t->need_key = false;
    for (unsigned i = 0; i < fmt->nb_streams && i < SRT_TRACKS_MAX_STREAMS; i++)
        t->need_key |=
            t->map[i] >= 0 &&
            fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    return 0;
}

int srt_tracks_packet(srt_tracks_t *t, AVFormatContext *fmt,
                      const AVPacket *pkt, uint64_t packets)
{
    int idx = pkt->stream_index < SRT_TRACKS_MAX_STREAMS
                  ? t->map[pkt->stream_index]
                  : -1;
    if (idx < 0 || pkt->size <= 0)
        return -1;
    AVStream *pst = fmt->streams[pkt->stream_index];
    size_t xl = 0;
    const uint8_t *x =
        av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &xl);
    if (x && xl)
        post_track(t, (uint32_t)idx, pst, x, (int)xl, NULL, declared_fps(pst));
    double fps = 0;
    if (probe_feed(t, (uint32_t)idx, pst, pkt, packets, &fps))
        post_track(t, (uint32_t)idx, pst, pst->codecpar->extradata,
                   pst->codecpar->extradata_size, NULL,
                   declared_fps(pst) > 0 ? declared_fps(pst) : fps);
    if (t->need_key && (pkt->flags & AV_PKT_FLAG_KEY) &&
        pst->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
        pst->codecpar->width > 0 && pst->codecpar->height > 0)
        t->need_key = false;
    return idx;
}

void srt_tracks_close(srt_tracks_t *t)
{
    for (int i = 0; i < HUB_MAX_TRACKS; i++)
        video_size_free(&t->probes[i]);
}
