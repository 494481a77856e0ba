/* The video of a transcode session: decode, scale, encode per rendition. */

/*
 * Per video packet (after the session's boundary decision): the decoder,
 * one filter graph (split, scale per distinct size, cascaded from a 2x
 * larger size where possible), then per rendition the frame selection
 * (segment_align_select: 60->30 by dropping, pts-based), the encoder and
 * hls_output_emit. A frame at an open boundary is encoded as a forced IDR in
 * every rendition. The graph is built at the first decoded frame (device
 * frames contexts come from the decoder) and again when the source changes
 * size or format; the encoders and muxers open after it.
 */
#include "transcode_video.h"

#include <errno.h>
#include <stdio.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>

#include "hls_master.h"
#include "hls_output.h"
#include "log.h"
#include "thumbnail.h"

#define MOD "transcode"

/* ------------------------------------------------------------- encoding */

void transcode_video_note_codec(transcode_session_t *s, rend_t *r,
                                const AVPacket *pkt, enum AVCodecID id)
{
    if (r->vcodec[0] || !(pkt->flags & AV_PKT_FLAG_KEY))
        return;
    /* The encoder's global header, or the source's avcC/hvcC record (MP4
     * and FLV packets carry no SPS, and their length prefixes could look
     * like start codes), then the keyframe's in-band SPS. */
    const AVCodecParameters *par = s->src->streams[s->vi].par;
    const uint8_t *ed = r->enc ? r->enc->extradata : par->extradata;
    int edlen = r->enc ? r->enc->extradata_size : par->extradata_size;
    int ret = -EINVAL;
    if (id == AV_CODEC_ID_AV1) {
        hls_codec_av1(r->r.width, r->r.height, ladder_rendition_fps(&r->r),
                      r->vcodec, sizeof(r->vcodec));
        ret = 0;
    }
    if (ret < 0 && ed && edlen > 0) {
        if (id == AV_CODEC_ID_H264)
            ret =
                hls_codec_h264(ed, (size_t)edlen, r->vcodec, sizeof(r->vcodec));
        else if (id == AV_CODEC_ID_HEVC)
            ret =
                hls_codec_hevc(ed, (size_t)edlen, r->vcodec, sizeof(r->vcodec));
    }
    if (ret < 0 && id == AV_CODEC_ID_H264)
        ret = hls_codec_h264(pkt->data, (size_t)pkt->size, r->vcodec,
                             sizeof(r->vcodec));
    else if (ret < 0 && id == AV_CODEC_ID_HEVC)
        ret = hls_codec_hevc(pkt->data, (size_t)pkt->size, r->vcodec,
                             sizeof(r->vcodec));
    if (ret < 0) {
        /* No SPS anywhere: leave CODECS out rather than guess. */
        log_warn(MOD, "No codec string for a rendition.", "rendition=%s",
                 r->r.name);
        snprintf(r->vcodec, sizeof(r->vcodec), "-");
    }
    hls_output_maybe_write_master(s);
}

static int drain_encoder(transcode_session_t *s, int i)
{
    rend_t *r = &s->rend[i];
    AVPacket *pkt = av_packet_alloc();
    int ret;
    if (!pkt)
        return AVERROR(ENOMEM);
    for (;;) {
        ret = avcodec_receive_packet(r->enc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            char why[160];
            snprintf(why, sizeof(why), "avcodec_receive_packet (%s): %s",
                     r->enc->codec->name, ERRSTR(ret));
            hls_output_rend_fail(s, i, why);
            ret = s->fatal;
            break;
        }
        if (!pkt->duration)
            pkt->duration = av_rescale_q(
                1, (AVRational){r->r.fps_den, r->r.fps_num}, r->enc->time_base);
        transcode_video_note_codec(s, r, pkt, r->enc->codec_id);
        if (pkt->flags & AV_PKT_FLAG_KEY)
            hls_output_boundary_reached(s, i, pkt->pts);
        ret = hls_output_emit(s, i, pkt, r->enc->time_base, false);
        av_packet_unref(pkt);
        if (ret < 0)
            break;
    }
    av_packet_free(&pkt);
    return ret;
}

static int encode_frame(transcode_session_t *s, int i, AVFrame *frame)
{
    rend_t *r = &s->rend[i];
    if (r->failed)
        return s->fatal;
    int ret = avcodec_send_frame(r->enc, frame);
    if (ret < 0 && ret != AVERROR_EOF) {
        char why[160];
        snprintf(why, sizeof(why), "avcodec_send_frame (%s): %s",
                 r->enc->codec->name, ERRSTR(ret));
        hls_output_rend_fail(s, i, why);
        return s->fatal;
    }
    if (frame) {
        r->frames++;
        transcode_stats_add(s, &s->st.frames_encoded, 1);
    }
    return drain_encoder(s, i);
}

static int open_encoders(transcode_session_t *s)
{
    for (int i = 0; i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        if (!r->pe || !r->pe->encoder[0])
            continue;
        const AVCodec *codec = avcodec_find_encoder_by_name(r->pe->encoder);
        AVFilterContext *sink = s->sinks[r->size];
        AVDictionary *opts = NULL;
        int ret;
        if (!codec) {
            log_error(MOD, "This FFmpeg has no such encoder.",
                      "encoder=%s rendition=%s", r->pe->encoder, r->r.name);
            return AVERROR_ENCODER_NOT_FOUND;
        }
        r->enc = avcodec_alloc_context3(codec);
        if (!r->enc)
            return AVERROR(ENOMEM);
        r->enc->width = av_buffersink_get_w(sink);
        r->enc->height = av_buffersink_get_h(sink);
        r->enc->pix_fmt = av_buffersink_get_format(sink);
        r->enc->sample_aspect_ratio =
            av_buffersink_get_sample_aspect_ratio(sink);
        r->enc->time_base = s->vtb;
        r->enc->framerate = (AVRational){r->r.fps_num, r->r.fps_den};
        AVBufferRef *hwfc = av_buffersink_get_hw_frames_ctx(sink);
        if (hwfc) {
            r->enc->hw_frames_ctx = av_buffer_ref(hwfc);
            if (!r->enc->hw_frames_ctx)
                return AVERROR(ENOMEM);
        }
        r->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        av_dict_parse_string(&opts, r->pe->opts, "=", " ", 0);
        ret = avcodec_open2(r->enc, codec, &opts);
        av_dict_free(&opts);
        if (ret < 0) {
            /* This rendition goes; the session ends when none is left (a
             * missing device fails them all). */
            char why[160];
            snprintf(why, sizeof(why), "avcodec_open2 (%s, %dx%d): %s",
                     codec->name, r->enc->width, r->enc->height, ERRSTR(ret));
            hls_output_rend_fail(s, i, why);
            if (s->fatal)
                return s->backend == HWPLAN_SOFTWARE ? ret : -ENODEV;
        }
    }
    s->encoders_open = true;
    return 0;
}

/* ---------------------------------------------------------------- video */

static int configure_graph(transcode_session_t *s, const AVFrame *f)
{
    AVFilterInOut *outs = NULL, *ins = NULL;
    char args[512];
    int ret;

    avfilter_graph_free(&s->graph);
    s->graph = avfilter_graph_alloc();
    if (!s->graph)
        return AVERROR(ENOMEM);
    /* Scalers run in this thread: slice threads beside the encoders'
     * own threads only add synchronisation CPU. */
    s->graph->nb_threads = 1;
    AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio
                                                : (AVRational){1, 1};
    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, s->vtb.num, s->vtb.den, sar.num,
             sar.den);
    ret = avfilter_graph_create_filter(&s->bsrc, avfilter_get_by_name("buffer"),
                                       "in", args, NULL, s->graph);
    if (ret < 0)
        goto end;
    if (f->hw_frames_ctx) {
        AVBufferSrcParameters *par = av_buffersrc_parameters_alloc();
        if (!par) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        par->hw_frames_ctx = f->hw_frames_ctx;
        ret = av_buffersrc_parameters_set(s->bsrc, par);
        av_free(par);
        if (ret < 0)
            goto end;
    }
    for (int k = 0; k < s->plan.nsizes; k++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", k);
        ret = avfilter_graph_create_filter(&s->sinks[k],
                                           avfilter_get_by_name("buffersink"),
                                           name, NULL, NULL, s->graph);
        if (ret < 0)
            goto end;
        AVFilterInOut *io = avfilter_inout_alloc();
        if (!io) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        io->name = av_strdup(name);
        io->filter_ctx = s->sinks[k];
        io->next = ins;
        ins = io;
    }
    outs = avfilter_inout_alloc();
    if (!outs) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    outs->name = av_strdup("in");
    outs->filter_ctx = s->bsrc;
    ret = avfilter_graph_parse_ptr(s->graph, s->plan.graph, &ins, &outs, NULL);
    if (ret < 0)
        goto end;
    if (s->hwdev) {
        for (unsigned i = 0; i < s->graph->nb_filters; i++) {
            s->graph->filters[i]->hw_device_ctx = av_buffer_ref(s->hwdev);
            if (!s->graph->filters[i]->hw_device_ctx) {
                ret = AVERROR(ENOMEM);
                goto end;
            }
        }
    }
    ret = avfilter_graph_config(s->graph, NULL);
    if (ret < 0)
        goto end;
    s->g_w = f->width;
    s->g_h = f->height;
    s->g_fmt = f->format;
end:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    if (ret < 0)
        log_error(MOD, "Cannot build the filter graph.",
                  "call=avfilter_graph_config graph=\"%s\" err=\"%s\"",
                  s->plan.graph, ERRSTR(ret));
    return ret;
}

static int pull_sinks(transcode_session_t *s, bool boundary)
{
    AVFrame *f = av_frame_alloc();
    int ret = 0;
    if (!f)
        return AVERROR(ENOMEM);
    for (int k = 0; k < s->plan.nsizes && ret >= 0; k++) {
        for (;;) {
            ret = av_buffersink_get_frame(s->sinks[k], f);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
                ret = 0;
                break;
            }
            if (ret < 0)
                break;
            int64_t pts_us = transcode_us_of(f->pts, s->vtb);
            if (k == s->thumb_size && s->o.thumbnail_s > 0 &&
                pts_us >= s->next_thumb_us) {
                thumbnail(s, f);
                s->next_thumb_us =
                    pts_us + (int64_t)(s->o.thumbnail_s * AV_TIME_BASE);
            }
            for (int i = 0; i < s->nrend && ret >= 0; i++) {
                rend_t *r = &s->rend[i];
                if (!r->enc || r->failed || r->size != k ||
                    !segment_align_select(&r->sel, r->r.frame_step,
                                          r->r.fps_num, r->r.fps_den, pts_us,
                                          boundary))
                    continue;
                f->pict_type =
                    boundary ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
                ret = encode_frame(s, i, f);
            }
            av_frame_unref(f);
        }
    }
    av_frame_free(&f);
    return ret;
}

static int filter_frame(transcode_session_t *s, AVFrame *f)
{
    int ret;
    if (!s->plan.nsizes)
        return 0;
    if (!s->graph || f->width != s->g_w || f->height != s->g_h ||
        f->format != s->g_fmt) {
        if (s->graph)
            log_info(MOD, "The source changed size or format.", "size=%dx%d",
                     f->width, f->height);
        if ((ret = configure_graph(s, f)) < 0)
            return ret;
        if (!s->encoders_open) {
            if ((ret = open_encoders(s)) < 0)
                return ret;
            if ((ret = hls_output_open_muxers(s)) < 0)
                return ret;
        }
    }
    bool boundary = segment_align_ring_has(&s->bnd, f->pts);
    ret = av_buffersrc_add_frame_flags(s->bsrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        log_error(MOD, "The filter graph refused a frame.",
                  "call=av_buffersrc_add_frame_flags err=\"%s\"", ERRSTR(ret));
        return ret;
    }
    return pull_sinks(s, boundary);
}

int transcode_video_decode(transcode_session_t *s, const AVPacket *pkt)
{
    AVFrame *f = av_frame_alloc();
    int ret;
    if (!f)
        return AVERROR(ENOMEM);
    ret = avcodec_send_packet(s->vdec, pkt);
    if (ret < 0 && ret != AVERROR_EOF) {
        if (ret == AVERROR(EAGAIN)) {
            ret = 0;
        } else {
            transcode_count_corrupt(s, "video_packet", ret);
            ret = 0;
            goto end;
        }
    }
    for (;;) {
        ret = avcodec_receive_frame(s->vdec, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            if (ret == AVERROR(ENOMEM))
                break;
            transcode_count_corrupt(s, "video_frame", ret);
            ret = 0;
            continue;
        }
        if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
            transcode_count_corrupt(s, "video_frame", AVERROR_INVALIDDATA);
            av_frame_unref(f);
            continue;
        }
        f->pts = f->best_effort_timestamp;
        if (f->pts == AV_NOPTS_VALUE) {
            av_frame_unref(f);
            continue;
        }
        transcode_stats_add(s, &s->st.frames_decoded, 1);
        transcode_media_time(s, transcode_us_of(f->pts, s->vtb));
        if (s->cont && (!s->have_first || f->pts < s->first_pts)) {
            av_frame_unref(f); /* published already */
            continue;
        }
        ret = filter_frame(s, f);
        av_frame_unref(f);
        if (ret < 0)
            break;
    }
end:
    av_frame_free(&f);
    return ret;
}

/* ------------------------------------------------------- video decoding */

static enum AVPixelFormat get_hw_format(AVCodecContext *ctx,
                                        const enum AVPixelFormat *fmts)
{
    enum AVPixelFormat want = *(enum AVPixelFormat *)ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        if (*p == want)
            return *p;
    }
    log_error(MOD, "The hardware decoder cannot decode this stream.", "want=%s",
              av_get_pix_fmt_name(want));
    return AV_PIX_FMT_NONE;
}

int transcode_video_open(transcode_session_t *s)
{
    const AVCodecParameters *par = s->src->streams[s->vi].par;
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    int ret;

    if (!dec)
        /* transcode_plan_check_codecs said why. */
        return AVERROR_DECODER_NOT_FOUND;
    if (s->plan.hwdevice_type) {
        enum AVHWDeviceType t =
            av_hwdevice_find_type_by_name(s->plan.hwdevice_type);
        ret = av_hwdevice_ctx_create(
            &s->hwdev, t, s->o.device[0] ? s->o.device : NULL, NULL, 0);
        if (ret < 0) {
            log_error(MOD, "The hardware device is missing.",
                      "call=av_hwdevice_ctx_create type=%s device=\"%s\" "
                      "err=\"%s\"",
                      s->plan.hwdevice_type, s->o.device, ERRSTR(ret));
            return -ENODEV;
        }
    }
    if (!s->nencoded)
        return 0; /* Source remux only: nothing to decode */
    s->vdec = avcodec_alloc_context3(dec);
    if (!s->vdec)
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(s->vdec, par)) < 0)
        return ret;
    s->vdec->pkt_timebase = s->vtb;
    s->vdec->err_recognition |= AV_EF_EXPLODE | AV_EF_CRCCHECK;
    if (s->plan.hw_decode && s->hwdev) {
        s->hw_pix_fmt =
            s->backend == HWPLAN_NVENC ? AV_PIX_FMT_CUDA : AV_PIX_FMT_VAAPI;
        s->vdec->opaque = &s->hw_pix_fmt;
        s->vdec->get_format = get_hw_format;
        s->vdec->hw_device_ctx = av_buffer_ref(s->hwdev);
        if (!s->vdec->hw_device_ctx)
            return AVERROR(ENOMEM);
        /* Surfaces held downstream (split, same-size renditions, encoder
         * lookahead) must not starve the decoder's pool. */
        s->vdec->extra_hw_frames = 16;
    }
    if ((ret = avcodec_open2(s->vdec, dec, NULL)) < 0) {
        log_error(MOD, "Cannot open the video decoder.",
                  "call=avcodec_open2 codec=%s err=\"%s\"", dec->name,
                  ERRSTR(ret));
        return ret;
    }
    return 0;
}

int transcode_video_flush(transcode_session_t *s)
{
    int ret = 0;
    if (s->vdec && (ret = transcode_video_decode(s, NULL)) < 0)
        return ret;
    if (s->graph) {
        if ((ret = av_buffersrc_add_frame(s->bsrc, NULL)) < 0 ||
            (ret = pull_sinks(s, false)) < 0)
            return ret;
    }
    for (int i = 0; i < s->nrend; i++) {
        if (s->rend[i].enc && !s->rend[i].failed && s->encoders_open &&
            (ret = encode_frame(s, i, NULL)) < 0)
            return ret;
    }
    return 0;
}
