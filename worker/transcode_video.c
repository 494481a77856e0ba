/* The video of a transcode session: decode, scale, encode per rendition. */

/*
 * Per video packet (after the session's boundary decision): the decoder,
 * one filter graph (split, scale per distinct size, cascaded from a 2x
 * larger size where possible), then per rendition the frame selection
 * (segment_align_select: 60->30 by dropping, frames on an even grid of
 * the rendition's rate), the encoder and hls_output_emit. A frame at an
 * open boundary is encoded as a forced IDR in every rendition. The graph is
 * built at the first decoded frame (device frames contexts come from the
 * decoder) and again when the source changes size or format; the encoders and
 * muxers open after it.
 */
#include "transcode_video.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>

#include "avlog.h"
#include "hls_master.h"
#include "hls_output.h"
#include "log.h"
#include "probe.h"
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

/*
 * Drops rendition i whose encoder did not open, with the reason in one
 * line: the call, the size, FFmpeg's error and FFmpeg's own last line
 * (captured: the log level would drop it), and for NVENC the cause
 * (probe_classify_nvenc: the session limit, no NVENC, an old driver).
 */
static void encoder_open_failed(transcode_session_t *s, int i, const char *name,
                                int err, const char *fflog)
{
    rend_t *r = &s->rend[i];
    const char *last = avlog_capture_last(fflog);
    char why[160];
    if (strstr(name, "_nvenc")) {
        probe_nvenc_t c = probe_classify_nvenc(err, fflog);
        log_error(MOD, "NVENC refused an encode session.",
                  "rendition=%s cause=%s encoders_in_ladder=%d "
                  "ffmpeg=\"%s\"",
                  r->r.name, probe_nvenc_name(c), s->nencoded, last);
    }
    snprintf(why, sizeof(why), "avcodec_open2 (%s, %dx%d): %s%s%s", name,
             r->enc->width, r->enc->height, ERRSTR(err), last[0] ? "; " : "",
             last);
    hls_output_rend_fail(s, i, why);
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
        char fflog[1024];
        avlog_capture_begin(fflog, sizeof(fflog));
        ret = avcodec_open2(r->enc, codec, &opts);
        avlog_capture_end();
        av_dict_free(&opts);
        if (ret < 0) {
            /* This rendition goes; the session ends when none is left (a
             * missing device fails them all). */
            encoder_open_failed(s, i, codec->name, ret, fflog);
            if (s->fatal)
                return s->plan.hwdevice_type && s->backend != HWPLAN_HYBRID
                           ? -ENODEV
                           : ret; /* software encoders */
        }
    }
    s->encoders_open = true;
    return 0;
}

/* ---------------------------------------------------------------- video */

/* The format of a frame's pixels: for device frames the format inside
 * them (NVDEC's nv12 becomes p010 when the stream turns 10-bit, while the
 * frame format stays cuda). */
static int frame_format(const AVFrame *f)
{
    if (!f->hw_frames_ctx)
        return f->format;
    const AVHWFramesContext *fc =
        (const AVHWFramesContext *)f->hw_frames_ctx->data;
    return fc->sw_format;
}

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
    /* Device frames take the planned graph; CPU frames (a software
     * decoder, or the fallback when the hardware cannot take the stream)
     * the variant that starts from CPU frames. */
    const char *graph = f->hw_frames_ctx ? s->plan.graph : s->plan.graph_sw;
    ret = avfilter_graph_parse_ptr(s->graph, graph, &ins, &outs, NULL);
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
    s->g_fmt = frame_format(f);
    s->g_device = f->hw_frames_ctx != NULL;
end:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    if (ret < 0)
        log_error(MOD, "Cannot build the filter graph.",
                  "call=avfilter_graph_config graph=\"%s\" err=\"%s\"",
                  f->hw_frames_ctx ? s->plan.graph : s->plan.graph_sw,
                  ERRSTR(ret));
    return ret;
}

/* A time on a rendition's grid (microseconds) in the video time base,
 * rounded down: a time out is never after the frame's own. */
static int64_t grid_pts(const transcode_session_t *s, int64_t us)
{
    return av_rescale_q_rnd(us, AV_TIME_BASE_Q, s->vtb, AV_ROUND_DOWN);
}

/*
 * Encodes F (its own time PTS_US) in rendition i at AT_US on the
 * rendition's even grid (segment_align_select; a boundary keeps its own
 * time: the cut is found by it), after copies of it in the empty slots a
 * gap left (counted in `filled`), so the rendition has a frame in every
 * slot of the segment.
 */
static int encode_on_grid(transcode_session_t *s, int i, AVFrame *f,
                          int64_t pts_us, int64_t at_us, bool boundary)
{
    rend_t *r = &s->rend[i];
    int64_t own = f->pts;
    int ret = 0;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    for (int64_t k = r->sel.fill; k > 0 && ret >= 0; k--) {
        f->pts = grid_pts(s, segment_align_slot_us(&r->sel, r->r.fps_num,
                                                   r->r.fps_den,
                                                   r->sel.last_slot - k));
        transcode_stats_add(s, &s->st.frames_filled, 1);
        ret = encode_frame(s, i, f);
    }
    if (ret < 0)
        return ret;
    f->pts = at_us == pts_us ? own : grid_pts(s, at_us);
    f->pict_type = boundary ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    return encode_frame(s, i, f);
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
            int64_t pts = f->pts, at_us;
            for (int i = 0; i < s->nrend && ret >= 0; i++) {
                rend_t *r = &s->rend[i];
                if (!r->enc || r->failed || r->size != k ||
                    !segment_align_select(&r->sel, r->r.frame_step,
                                          r->r.fps_num, r->r.fps_den, pts_us,
                                          boundary, &at_us))
                    continue;
                ret = encode_on_grid(s, i, f, pts_us, at_us, boundary);
                f->pts = pts;
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
        frame_format(f) != s->g_fmt || !f->hw_frames_ctx != !s->g_device) {
        if (s->graph)
            log_info(MOD, "The source changed size or format.",
                     "size=%dx%d format=%s device_frames=%d", f->width,
                     f->height, av_get_pix_fmt_name(frame_format(f)),
                     f->hw_frames_ctx != NULL);
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

/*
 * A video decode error: counted (and the input skipped to the next
 * keyframe), and after o.max_decode_errors in a row without a good frame
 * the end of the session, with the reason, instead of skipping from
 * keyframe to keyframe forever. Returns 0 or AVERROR_INVALIDDATA.
 */
static int decode_error(transcode_session_t *s, const char *what, int err)
{
    transcode_count_corrupt(s, what, err);
    if (s->o.max_decode_errors <= 0 ||
        ++s->decode_errors < s->o.max_decode_errors)
        return 0;
    const char *codec = s->vdec && s->vdec->codec ? s->vdec->codec->name : "?";
    log_error(MOD, "The video cannot be decoded; the session ends.",
              "errors_in_a_row=%d decoder=%s hw_decode=%d last_err=\"%s\"",
              s->decode_errors, codec, s->plan.hw_decode && !s->sw_fallback,
              ERRSTR(err));
    pthread_mutex_lock(&s->stats_lock);
    snprintf(s->st.error, sizeof(s->st.error),
             "%d video decode errors in a row (decoder %s): %s",
             s->decode_errors, codec, ERRSTR(err));
    pthread_mutex_unlock(&s->stats_lock);
    return AVERROR_INVALIDDATA;
}

/*
 * Whether decoded frame F goes on, with its time in f->pts: the time its
 * packet gave it, which is what the segment boundaries were decided on.
 * (FFmpeg's best_effort_timestamp turns to the decode times once it has
 * seen more display times out of order than decode times, as GStreamer's
 * live B-frames give, and then no frame is ever on a boundary: encoded
 * segments ran to x264's own keyframe, 8 s.) A frame without one takes
 * the best effort; a frame whose time is not after the frame before
 * (GStreamer's live B-frames on a loaded host come more than a frame
 * late) takes a time one tick after it, so it is shown in order and the
 * encoded renditions count it onto their grids (said once; counted in
 * the session's last line, `unordered`).
 */
static bool frame_in_order(transcode_session_t *s, AVFrame *f)
{
    if (f->pts == AV_NOPTS_VALUE)
        f->pts = f->best_effort_timestamp;
    if (f->pts == AV_NOPTS_VALUE)
        return false;
    if (f->pts <= s->last_frame_pts) {
        if (!s->st.frames_unordered)
            log_warn(MOD,
                     "A decoded frame's time is not after the frame "
                     "before; it is given a time just after it (the "
                     "publisher's timestamps are out of order).",
                     "input=\"%s\" pts=%lld previous=%lld", s->src->name,
                     (long long)f->pts, (long long)s->last_frame_pts);
        transcode_stats_add(s, &s->st.frames_unordered, 1);
        f->pts = s->last_frame_pts + 1;
    }
    s->last_frame_pts = f->pts;
    return true;
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
            ret = decode_error(s, "video_packet", ret);
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
            if (ret == AVERROR(ENOMEM) ||
                (ret = decode_error(s, "video_frame", ret)) < 0)
                break;
            continue;
        }
        if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
            av_frame_unref(f);
            if ((ret = decode_error(s, "video_frame", AVERROR_INVALIDDATA)) < 0)
                break;
            continue;
        }
        s->decode_errors = 0;
        if (!frame_in_order(s, f)) {
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

/*
 * The decoder's get_format: the device frames format when offered, else a
 * software one (hwplan_pick_format). A hardware decoder that cannot take
 * the stream (H.264 10-bit or 4:2:2, a size over NVDEC's limits: FFmpeg
 * drops the format whose initialisation failed and asks again) does not
 * end the session: it decodes on the CPU, and the filter graph switches to
 * its CPU-frames variant at the first such frame.
 */
static enum AVPixelFormat get_hw_format(AVCodecContext *ctx,
                                        const enum AVPixelFormat *fmts)
{
    transcode_session_t *s = ctx->opaque;
    enum AVPixelFormat got = hwplan_pick_format(s->hw_pix_fmt, fmts);
    if (got == s->hw_pix_fmt) {
        s->sw_fallback = false;
        return got;
    }
    const char *prof = avcodec_profile_name(ctx->codec_id, ctx->profile);
    if (got == AV_PIX_FMT_NONE)
        log_error(MOD,
                  "The hardware decoder cannot decode this stream and the "
                  "decoder has no software format.",
                  "decoder=%s profile=\"%s\" want=%s", ctx->codec->name,
                  prof ? prof : "", av_get_pix_fmt_name(s->hw_pix_fmt));
    else if (!s->sw_fallback)
        log_warn(MOD,
                 "The hardware decoder cannot take this stream; it decodes "
                 "in software.",
                 "decoder=%s profile=\"%s\" size=%dx%d format=%s",
                 ctx->codec->name, prof ? prof : "", ctx->coded_width,
                 ctx->coded_height, av_get_pix_fmt_name(got));
    s->sw_fallback = got != AV_PIX_FMT_NONE;
    return got;
}

/* Opens the plan's hardware device (its options: CUDA's primary context). */
static int open_device(transcode_session_t *s)
{
    enum AVHWDeviceType t =
        av_hwdevice_find_type_by_name(s->plan.hwdevice_type);
    AVDictionary *opts = NULL;
    av_dict_parse_string(&opts, s->plan.hwdevice_opts, "=", " ", 0);
    int ret = av_hwdevice_ctx_create(
        &s->hwdev, t, s->o.device[0] ? s->o.device : NULL, opts, 0);
    av_dict_free(&opts);
    if (ret < 0) {
        log_error(MOD, "The hardware device is missing.",
                  "call=av_hwdevice_ctx_create type=%s device=\"%s\" "
                  "backend=%s err=\"%s\"",
                  s->plan.hwdevice_type, s->o.device,
                  hwplan_backend_name(s->backend), ERRSTR(ret));
        pthread_mutex_lock(&s->stats_lock);
        snprintf(s->st.error, sizeof(s->st.error),
                 "the %s device is missing (%s backend): %s",
                 s->plan.hwdevice_type, hwplan_backend_name(s->backend),
                 ERRSTR(ret));
        pthread_mutex_unlock(&s->stats_lock);
        return -ENODEV;
    }
    return 0;
}

int transcode_video_open(transcode_session_t *s)
{
    const AVCodecParameters *par = s->src->streams[s->vi].par;
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    int ret;

    if (s->plan.hw_decode && s->plan.decoder)
        /* The decoder with the device's hwaccel (av1, not libdav1d). */
        dec = avcodec_find_decoder_by_name(s->plan.decoder);
    if (!dec)
        /* transcode_plan_check_codecs said why. */
        return AVERROR_DECODER_NOT_FOUND;
    if (s->plan.hwdevice_type && (ret = open_device(s)) < 0)
        return ret;
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
        s->hw_pix_fmt = !strcmp(s->plan.hwdevice_type, "cuda")
                            ? AV_PIX_FMT_CUDA
                            : AV_PIX_FMT_VAAPI;
        s->vdec->opaque = s;
        s->vdec->get_format = get_hw_format;
        s->vdec->hw_device_ctx = av_buffer_ref(s->hwdev);
        if (!s->vdec->hw_device_ctx)
            return AVERROR(ENOMEM);
        /* The plan says how many surfaces frames held downstream need:
         * VAAPI's pool is fixed, NVDEC copies out into its own. */
        s->vdec->extra_hw_frames = s->plan.extra_hw_frames;
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
