/* HLS segmenter: one rendition's MPEG-TS or fMP4 muxer, whose output is
 * cut into whole segments in memory on the caller's command. */
#include "hls_segmenter.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavutil/opt.h>

#include "log.h"

#define MOD "hls_segmenter"

struct hls_segmenter {
    char name[64];
    bool fmp4, started, finished;
    AVFormatContext *mux;
    int64_t pending; /* bytes written into the current segment */
    bool unflushed;  /* packets written since the last fragment (fMP4) */
    int part_off;    /* bytes of the current segment returned as parts */
};

static const char *err_text(int err, char *buf, size_t len)
{
    av_strerror(err, buf, len);
    return buf;
}
#define ERRSTR(e) err_text((e), (char[AV_ERROR_MAX_STRING_SIZE]){0}, 64)

hls_segmenter_t *hls_segmenter_new(const char *name, bool fmp4)
{
    hls_segmenter_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->fmp4 = fmp4;
    int ret = avformat_alloc_output_context2(&s->mux, NULL,
                                             fmp4 ? "mp4" : "mpegts", NULL);
    if (ret < 0) {
        log_error(MOD, "Cannot create the segment muxer.",
                  "call=avformat_alloc_output_context2 rendition=%s "
                  "format=%s err=\"%s\"",
                  name, fmp4 ? "mp4" : "mpegts", ERRSTR(ret));
        free(s);
        return NULL;
    }
    return s;
}

void hls_segmenter_free(hls_segmenter_t **sp)
{
    hls_segmenter_t *s = sp ? *sp : NULL;
    if (!s)
        return;
    if (s->mux && s->mux->pb) {
        uint8_t *buf = NULL;
        avio_close_dyn_buf(s->mux->pb, &buf);
        av_free(buf);
        s->mux->pb = NULL;
    }
    avformat_free_context(s->mux);
    free(s);
    *sp = NULL;
}

AVFormatContext *hls_segmenter_mux(hls_segmenter_t *s)
{
    return s->mux;
}

static int open_buf(hls_segmenter_t *s)
{
    int ret = avio_open_dyn_buf(&s->mux->pb);
    if (ret < 0)
        log_error(MOD, "Cannot open a segment buffer.",
                  "call=avio_open_dyn_buf rendition=%s err=\"%s\"", s->name,
                  ERRSTR(ret));
    s->pending = 0;
    s->unflushed = false;
    s->part_off = 0;
    return ret;
}

/* Closes the muxer's buffer; its bytes go to *data (NULL when empty). */
static size_t close_buf(hls_segmenter_t *s, uint8_t **data)
{
    uint8_t *buf = NULL;
    int len = avio_close_dyn_buf(s->mux->pb, &buf);
    s->mux->pb = NULL;
    if (len <= 0) {
        av_free(buf);
        *data = NULL;
        return 0;
    }
    *data = buf;
    return (size_t)len;
}

int hls_segmenter_start(hls_segmenter_t *s, uint8_t **init, size_t *len)
{
    AVDictionary *opts = NULL;
    int ret;
    *init = NULL;
    *len = 0;
    if ((ret = open_buf(s)) < 0)
        return ret;
    if (s->fmp4) {
        /* The init segment (ftyp, moov without samples) is the header;
         * each segment is one fragment (moof, mdat) cut on command, with
         * its decode time (tfdt) as the timeline. */
        av_dict_set(&opts, "movflags",
                    "+frag_custom+empty_moov+default_base_moof", 0);
    } else {
        /* One PAT/PMT at the start of each segment (resend_headers, set
         * again at every cut), none in between. */
        char period[24];
        snprintf(period, sizeof(period), "%d", INT_MAX / 2 - 1);
        av_dict_set(&opts, "pat_period", period, 0);
        av_dict_set(&opts, "sdt_period", period, 0);
    }
    ret = avformat_write_header(s->mux, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_error(MOD, "Cannot start the segment muxer.",
                  "call=avformat_write_header rendition=%s err=\"%s\"", s->name,
                  ERRSTR(ret));
        return ret;
    }
    s->started = true;
    if (s->fmp4) {
        avio_flush(s->mux->pb);
        *len = close_buf(s, init);
        if ((ret = open_buf(s)) < 0) {
            av_freep(init);
            return ret;
        }
    }
    return 0;
}

int hls_segmenter_write(hls_segmenter_t *s, AVPacket *pkt)
{
    if (!s->started || s->finished)
        return AVERROR(EINVAL);
    int size = pkt->size;
    int ret = av_write_frame(s->mux, pkt);
    if (ret < 0) {
        log_error(MOD, "Cannot write a packet into a segment.",
                  "call=av_write_frame rendition=%s err=\"%s\"", s->name,
                  ERRSTR(ret));
        return ret;
    }
    s->pending += size;
    s->unflushed = true;
    return 0;
}

int hls_segmenter_cut_part(hls_segmenter_t *s, const uint8_t **data,
                           size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!s->started || s->finished || !s->fmp4)
        return AVERROR(EINVAL);
    if (!s->unflushed)
        return 0;
    int ret = av_write_frame(s->mux, NULL); /* a fragment: moof, mdat */
    if (ret < 0) {
        log_error(MOD, "Cannot end a part.",
                  "call=av_write_frame rendition=%s err=\"%s\"", s->name,
                  ERRSTR(ret));
        return ret;
    }
    s->unflushed = false;
    avio_flush(s->mux->pb);
    uint8_t *buf = NULL;
    int size = avio_get_dyn_buf(s->mux->pb, &buf);
    if (size > s->part_off) {
        *data = buf + s->part_off;
        *len = (size_t)(size - s->part_off);
        s->part_off = size;
    }
    return 0;
}

int hls_segmenter_cut(hls_segmenter_t *s, bool final, uint8_t **data,
                      size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!s->started || s->finished)
        return AVERROR(EINVAL);
    /* A flush packet: TS writes its buffered PES data, fMP4 a fragment
     * (unless the last part just wrote it). */
    int ret = s->pending && (s->unflushed || !s->fmp4)
                  ? av_write_frame(s->mux, NULL)
                  : 0;
    if (ret < 0) {
        log_error(MOD, "Cannot end a segment.",
                  "call=av_write_frame rendition=%s err=\"%s\"", s->name,
                  ERRSTR(ret));
        return ret;
    }
    avio_flush(s->mux->pb);
    *len = close_buf(s, data);
    if ((ret = open_buf(s)) < 0) {
        av_freep(data);
        *len = 0;
        return ret;
    }
    if (final) {
        s->finished = true;
        ret = av_write_trailer(s->mux); /* into a buffer thrown away */
        if (ret < 0)
            log_error(MOD, "Cannot finish the segment muxer.",
                      "call=av_write_trailer rendition=%s err=\"%s\"", s->name,
                      ERRSTR(ret));
        return ret;
    }
    if (!s->fmp4 && s->mux->priv_data)
        av_opt_set(s->mux->priv_data, "mpegts_flags", "+resend_headers", 0);
    return 0;
}

int64_t hls_segmenter_pending(const hls_segmenter_t *s)
{
    return s->pending;
}
