/* Learning a video track's size from the parameter sets in its packets. */
#include "video_size.h"

#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>

struct video_size {
    AVCodecParserContext *pc;
    AVCodecContext *ctx;
    int64_t first_ts, last_ts; /* for the rate, with n */
    int64_t n;
};

video_size_t *video_size_new(enum AVCodecID id, const uint8_t *extradata,
                             int extradata_len)
{
    video_size_t *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->pc = av_parser_init(id);
    v->ctx = avcodec_alloc_context3(NULL);
    if (!v->pc || !v->ctx)
        goto err;
    v->ctx->codec_id = id;
    v->ctx->codec_type = AVMEDIA_TYPE_VIDEO;
    /* The H.264 parser reads the SPS timing as fields: two per frame, as
     * the decoder would have set it. */
    if (id == AV_CODEC_ID_H264)
        v->ctx->ticks_per_frame = 2;
    if (extradata && extradata_len > 0) {
        v->ctx->extradata =
            av_mallocz((size_t)extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!v->ctx->extradata)
            goto err;
        memcpy(v->ctx->extradata, extradata, (size_t)extradata_len);
        v->ctx->extradata_size = extradata_len;
    }
    v->pc->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    return v;
err:
    video_size_free(&v);
    return NULL;
}

bool video_size_feed(video_size_t *v, const uint8_t *data, int size, int64_t ts,
                     AVRational tb, video_size_info_t *out)
{
    if (ts != AV_NOPTS_VALUE) {
        if (!v->n++)
            v->first_ts = ts;
        v->last_ts = ts;
    }
    /* The parser reads up to 64 bytes past the end: a padded copy. */
    uint8_t *buf = av_malloc((size_t)size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!buf)
        return false;
    memcpy(buf, data, (size_t)size);
    memset(buf + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    uint8_t *o = NULL;
    int osize = 0;
    av_parser_parse2(v->pc, v->ctx, &o, &osize, buf, size, AV_NOPTS_VALUE,
                     AV_NOPTS_VALUE, -1);
    av_free(buf);
    if (v->pc->width <= 0 || v->pc->height <= 0)
        return false;
    out->width = v->pc->width;
    out->height = v->pc->height;
    AVRational fr = v->ctx->framerate;
    out->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    if ((out->fps <= 0 || out->fps > 240) && v->n >= 2 &&
        v->last_ts > v->first_ts && tb.num > 0 && tb.den > 0)
        out->fps = (double)(v->n - 1) /
                   ((double)(v->last_ts - v->first_ts) * av_q2d(tb));
    if (out->fps <= 0 || out->fps > 240)
        out->fps = 0;
    return true;
}

void video_size_free(video_size_t **vp)
{
    if (!vp || !*vp)
        return;
    video_size_t *v = *vp;
    av_parser_close(v->pc);
    avcodec_free_context(&v->ctx); /* frees the extradata too */
    free(v);
    *vp = NULL;
}
