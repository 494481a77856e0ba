/* Packet sources: where a transcode session's compressed input comes from. */
#include "packet_source.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/time.h>

#include "log.h"
#include "ts_rise.h"

typedef struct {
    AVFormatContext *fmt;
    int map[64]; /* input stream index -> streams[] index, or -1 */
    bool realtime;
    int64_t wall_start_us; /* first packet's wall time when pacing */
    int64_t ts_start_us;   /* first packet's dts when pacing */
    ts_rise_t rise[PACKET_SOURCE_MAX_STREAMS]; /* see rising_dts */
    int64_t raised;
    atomic_bool stop;
} lavf_t;

/* Keeps each stream's dts rising as the ingest does for what it forwards
 * (ts_rise.h says why: an FLV that GStreamer's flvmux wrote through an
 * encoder stall holds bursts of frames with one timestamp), a second back
 * at most; the first raise is logged. */
static void rising_dts(packet_source_t *src, lavf_t *l, AVPacket *pkt,
                       AVRational tb)
{
    int i = pkt->stream_index;
    if (pkt->dts == AV_NOPTS_VALUE)
        return;
    int64_t window = tb.num > 0 ? tb.den / tb.num : 0;
    int64_t was = pkt->dts, last = l->rise[i].last;
    if (ts_rise(&l->rise[i], window, &pkt->pts, &pkt->dts) && !l->raised++)
        log_warn("source", "Raising timestamps that do not increase.",
                 "input=\"%s\" stream=%d dts=%lld last_dts=%lld", src->name, i,
                 (long long)was, (long long)last);
}

static int lavf_interrupt_cb(void *opaque)
{
    lavf_t *l = opaque;
    return atomic_load(&l->stop);
}

static int lavf_read(packet_source_t *src, AVPacket *pkt)
{
    lavf_t *l = src->priv;
    for (;;) {
        int ret = av_read_frame(l->fmt, pkt);
        if (ret < 0)
            return atomic_load(&l->stop) ? AVERROR_EXIT : ret;
        int idx = pkt->stream_index;
        if (idx < 0 || idx >= 64 || l->map[idx] < 0) {
            av_packet_unref(pkt);
            continue;
        }
        pkt->stream_index = l->map[idx];
        rising_dts(src, l, pkt, l->fmt->streams[idx]->time_base);
        if (l->realtime && pkt->dts != AV_NOPTS_VALUE) {
            AVRational tb = l->fmt->streams[idx]->time_base;
            int64_t ts = av_rescale_q(pkt->dts, tb, AV_TIME_BASE_Q);
            if (!l->wall_start_us) {
                l->wall_start_us = av_gettime_relative();
                l->ts_start_us = ts;
            }
            int64_t due = l->wall_start_us + (ts - l->ts_start_us);
            int64_t now = av_gettime_relative();
            /* Never sleep more than a second: a timestamp jump is not a
             * reason to stall a live feed. */
            if (due > now && !atomic_load(&l->stop))
                av_usleep((unsigned)FFMIN(due - now, 1000000));
        }
        return 0;
    }
}

static void lavf_interrupt(packet_source_t *src)
{
    lavf_t *l = src->priv;
    atomic_store(&l->stop, true);
}

static void lavf_close(packet_source_t *src)
{
    lavf_t *l = src->priv;
    if (l)
        avformat_close_input(&l->fmt);
    free(l);
    src->priv = NULL;
}

static const packet_source_ops_t lavf_ops = {
    .kind = "lavf",
    .read = lavf_read,
    .interrupt = lavf_interrupt,
    .close = lavf_close,
};

static bool url_is_live(const char *url)
{
    static const char *const live[] = {"rtmp://", "rtmps://", "srt://",
                                       "udp://",  "rtp://",   "rtsp://"};
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        if (!strncmp(url, live[i], strlen(live[i])))
            return true;
    }
    return false;
}

packet_source_t *packet_source_open_url(const char *url, bool realtime)
{
    packet_source_t *src = calloc(1, sizeof(*src));
    lavf_t *l = calloc(1, sizeof(*l));
    AVDictionary *opts = NULL;
    int ret;

    if (!src || !l) {
        log_error("source", "Out of memory opening the input.", "input=\"%s\"",
                  url);
        goto err;
    }
    src->ops = &lavf_ops;
    src->priv = l;
    snprintf(src->name, sizeof(src->name), "%s", url);
    src->live = realtime || url_is_live(url);
    l->realtime = realtime;
    l->fmt = avformat_alloc_context();
    if (!l->fmt)
        goto err;
    l->fmt->interrupt_callback.callback = lavf_interrupt_cb;
    l->fmt->interrupt_callback.opaque = l;
    if (!strncmp(url, "rtmp://", 7))
        av_dict_set(&opts, "rtmp_live", "live", 0);
    if (url_is_live(url))
        av_dict_set(&opts, "rw_timeout", "10000000", 0);
    ret = avformat_open_input(&l->fmt, url, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_error("source", "Cannot open the input.",
                  "call=avformat_open_input input=\"%s\" err=\"%s\"", url,
                  av_err2str(ret));
        goto err;
    }
    ret = avformat_find_stream_info(l->fmt, NULL);
    if (ret < 0) {
        log_error("source", "Cannot read the input's stream info.",
                  "call=avformat_find_stream_info input=\"%s\" err=\"%s\"", url,
                  av_err2str(ret));
        goto err;
    }
    for (unsigned i = 0; i < l->fmt->nb_streams && i < 64; i++) {
        AVStream *st = l->fmt->streams[i];
        enum AVMediaType t = st->codecpar->codec_type;
        l->map[i] = -1;
        if ((t != AVMEDIA_TYPE_VIDEO && t != AVMEDIA_TYPE_AUDIO) ||
            (st->disposition & AV_DISPOSITION_ATTACHED_PIC) ||
            src->nb_streams == PACKET_SOURCE_MAX_STREAMS)
            continue;
        packet_source_stream_t *s = &src->streams[src->nb_streams];
        s->type = t;
        s->par = avcodec_parameters_alloc();
        if (!s->par || avcodec_parameters_copy(s->par, st->codecpar) < 0) {
            avcodec_parameters_free(&s->par);
            goto err;
        }
        s->time_base = st->time_base;
        s->frame_rate = av_guess_frame_rate(l->fmt, st, NULL);
        l->map[i] = src->nb_streams++;
    }
    for (unsigned i = l->fmt->nb_streams; i < 64; i++)
        l->map[i] = -1;
    return src;
err:
    if (src && src->priv) {
        packet_source_free(&src); /* closes l too */
    } else {
        free(l);
        free(src);
    }
    return NULL;
}

int packet_source_read(packet_source_t *src, AVPacket *pkt)
{
    return src->ops->read(src, pkt);
}

void packet_source_interrupt(packet_source_t *src)
{
    if (src && src->ops->interrupt)
        src->ops->interrupt(src);
}

void packet_source_free(packet_source_t **srcp)
{
    packet_source_t *src = srcp ? *srcp : NULL;
    if (!src)
        return;
    if (src->ops && src->ops->close)
        src->ops->close(src);
    for (int i = 0; i < src->nb_streams; i++)
        avcodec_parameters_free(&src->streams[i].par);
    free(src);
    *srcp = NULL;
}
