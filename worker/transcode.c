/* Transcode session: one input to an aligned HLS ABR ladder. */

/*
 * How this works
 * --------------
 * Two threads per session. The reader thread pulls packets from the
 * packet source (libavformat now, ZeroMQ later) into a bounded queue: a
 * file waits for room, a live feed drops to the next keyframe and counts
 * it. The session thread does everything else, in this order per packet:
 *
 *   video packet -> boundary decision -> Source remux (copied packet)
 *                -> decoder -> one filter graph (split, scale per distinct
 *                   size, cascaded from a 2x larger size where possible)
 *                -> per rendition: frame selection (60->30 by dropping,
 *                   pts-based), encoder, HLS muxer
 *   audio packet -> copied when AAC, else decoder -> resampler -> one AAC
 *                   encoder; the packets go to every rendition's muxer.
 *
 * Alignment. A segment boundary is decided on source packets: the first
 * source keyframe at or after the next point of a segment-length grid
 * that starts at the first keyframe, and half a segment after the last
 * boundary (or, when the source has no keyframe for two segments, the
 * next packet). The frame with that pts is encoded as a forced IDR in
 * every rendition, and the Source rendition keeps the keyframe flag only on
 * boundary packets.
 * Every HLS muxer runs with hls_time=0, i.e. it cuts at every keyframe it
 * sees, so all renditions cut at exactly the same source timestamps, and
 * dropped frames or 60->30 reduction cannot shift a cut (boundary frames
 * are never dropped). Encoders get a keyframe interval of four segments and
 * no scene-cut detection, so only the forced IDRs cut.
 *
 * Timestamps. All outputs share one offset (the first packet's dts maps to
 * 10 s), so no muxer shifts one rendition alone for negative timestamps.
 * A dts that jumps back, or more than 10 s forward, shifts every later
 * packet so each stream goes on one frame after its last.
 *
 * Muxers open once every encoder is open (after the first decoded frame,
 * since device frames contexts come from the decoder); packets made
 * before that wait in a bounded pending list.
 *
 * Errors. Decode errors (the decoder runs with AV_EF_EXPLODE) and packets
 * flagged corrupt are counted, and input is skipped to the next video
 * keyframe. A failure of one rendition's own (its encoder, the Source
 * remux, its muxer or its files) drops that rendition (hls_output_rend_fail):
 * it gets no more packets, boundaries stop waiting for it, the master playlist
 * is written again without it, and the stats list it. Fatal errors (the device,
 * the decoder, the filter graph, the audio all share, an origin past its
 * policy, every rendition failed) are logged once where they happen and end the
 * session with a negative code.
 *
 * Files. This one holds the session and its threads: setup, the reader,
 * the packet loop, the boundary decision, video decode, filter and
 * encode per rendition, the stats, the reconnect hold and the end.
 * hls_output.c writes the output (muxers, segments, playlists, master;
 * hls_output_rend_fail is there), transcode_audio.c does the audio,
 * thumbnail.c the thumbnail, transcode_plan.c the codec check, ladder and
 * backend plan, transcode_util.c small shared helpers, and transcode_int.h
 * holds the session struct they share. None of them calls back into this
 * file.
 */
#include "transcode.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include "hls_master.h"
#include "hls_output.h"
#include "log.h"
#include "origin.h"
#include "pkt_queue.h"
#include "thumbnail.h"
#include "transcode_audio.h"
#include "transcode_int.h"
#include "transcode_plan.h"

#define MOD "transcode"
/* A continued stream's first packet mapped further back than this from
 * the published end is not the same timeline (a publisher reconnect). */
#define RESUME_BACK_US (15 * (int64_t)AV_TIME_BASE)
#define TS_OFFSET      (10 * (int64_t)AV_TIME_BASE)
/* A dts this far behind, or this far ahead of, the last is a break. */
#define DISC_BACK_US 500000
#define DISC_JUMP_US (10 * (int64_t)AV_TIME_BASE)

void transcode_opts_default(transcode_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->backend = HWPLAN_AUTO;
    o->segment_s = 2.0;
    o->list_size = 6;
    o->bframes = -1;
    o->audio_kbps = 128;
    o->thumbnail_s = 4.0;
    o->queue_packets = 128;
    origin_policy_default(&o->origin);
}

/* ----------------------------------------------------------- boundaries */

static void push_boundary(transcode_session_t *s, int64_t pts, int64_t read_us)
{
    if (s->bnd_head - s->bnd_tail == BND_RING)
        s->bnd_tail++; /* oldest never completed (a rendition lost it) */
    boundary_t *b = &s->bnd[s->bnd_head % BND_RING];
    b->pts = pts;
    b->read_us = read_us;
    b->reached = 0;
    s->bnd_head++;
    s->have_bnd = true;
    s->last_bnd = pts;
}

static bool is_boundary(const transcode_session_t *s, int64_t pts)
{
    for (int64_t k = s->bnd_tail; k < s->bnd_head; k++) {
        if (s->bnd[k % BND_RING].pts == pts)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------- encoding */

static void note_codec(transcode_session_t *s, rend_t *r, const AVPacket *pkt,
                       enum AVCodecID id)
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
        note_codec(s, r, pkt, r->enc->codec_id);
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

/*
 * Keeps 1 of frame_step frames by pts: a frame is kept when it starts a new
 * output frame slot, slots counted from the last boundary, which is always
 * kept. So 60->30 keeps every other frame in phase with the boundaries, and
 * a dropped source frame does not shift the later ones.
 */
static bool select_frame(rend_t *r, int64_t pts_us, bool boundary)
{
    if (r->r.frame_step <= 1)
        return true;
    if (boundary || !r->selected_any) {
        r->phase_us = pts_us;
        r->last_slot = 0;
        r->selected_any = true;
        return true;
    }
    double t = (pts_us - r->phase_us) / 1e6 * r->r.fps_num / r->r.fps_den;
    int64_t slot = (int64_t)(t + 1e-3 >= 0 ? t + 1e-3 : t - 1);
    if (slot <= r->last_slot)
        return false;
    r->last_slot = slot;
    return true;
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
                    !select_frame(r, pts_us, boundary))
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
    bool boundary = is_boundary(s, f->pts);
    ret = av_buffersrc_add_frame_flags(s->bsrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) {
        log_error(MOD, "The filter graph refused a frame.",
                  "call=av_buffersrc_add_frame_flags err=\"%s\"", ERRSTR(ret));
        return ret;
    }
    return pull_sinks(s, boundary);
}

static int decode_video(transcode_session_t *s, const AVPacket *pkt)
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

/*
 * Where a continued stream's output begins: at the first packet (a
 * source keyframe for video) whose output time, under the stream's
 * mapping, reaches the published end (resume_us) within TOL; earlier ones
 * were published (decoded, not written). When the input does not follow
 * on (another publish: the publisher reconnected and its timestamps
 * started again; or it moved on during the take-over), the mapping is
 * re-based so that this packet lands on resume_us: the output goes on
 * from the last published frame, without a gap and without media
 * published twice. The publish is known by its id where both the
 * timeline and the source carry one; without them, a packet more than
 * RESUME_BACK_US before the end counts as another publish. Returns
 * whether PTS (time base TB) begins the output.
 */
static bool resume_here(transcode_session_t *s, int64_t pts, AVRational tb,
                        int64_t tol)
{
    int64_t out = transcode_us_of(pts, tb) + s->ts_offset_us;
    uint64_t was = s->tl.source_id, now = s->src->publish_id;
    bool known = was && now, other = known && was != now;
    if (!other && out < s->resume_us - tol &&
        (known || out >= s->resume_us - RESUME_BACK_US))
        return false;
    if (other || out > s->resume_us + tol || out < s->resume_us - tol) {
        log_info(MOD,
                 "The input does not follow on from the published "
                 "media; its timeline is re-based onto it.",
                 "input=\"%s\" gap_ms=%lld new_publish=%d", s->src->name,
                 (long long)((out - s->resume_us) / 1000), other);
        s->ts_offset_us += s->resume_us - out;
    }
    s->have_first = true;
    s->first_pts = pts;
    return true;
}

static int handle_video(transcode_session_t *s, AVPacket *pkt, int64_t read_us)
{
    int ret;
    bool key = pkt->flags & AV_PKT_FLAG_KEY;

    if (pkt->flags & AV_PKT_FLAG_CORRUPT) {
        transcode_count_corrupt(s, "packet_flag", AVERROR_INVALIDDATA);
        return 0;
    }
    if (s->skip_to_key && !key) {
        transcode_stats_add(s, &s->st.skipped_packets, 1);
        return 0;
    }
    s->skip_to_key = false;
    bool boundary = false;
    if (pkt->pts != AV_NOPTS_VALUE) {
        /* A boundary is the source keyframe nearest the target after the
         * last one: this keyframe when the next, expected one GOP later
         * (the last keyframe interval), would be further from it. So a
         * 59-frame GOP at 30 fps against a 2 s target cuts every 1.967 s,
         * not every other keyframe (3.93 s). */
        int64_t since = s->have_bnd ? pkt->pts - s->last_bnd : INT64_MAX;
        if (key) {
            if (s->have_key && pkt->pts > s->last_key)
                s->key_gap = pkt->pts - s->last_key;
            s->last_key = pkt->pts;
            s->have_key = true;
        }
        int64_t tol =
            s->key_gap / 2 > s->half_frame ? s->key_gap / 2 : s->half_frame;
        if (!s->have_bnd) {
            boundary = key && (!s->cont ||
                               resume_here(s, pkt->pts, s->vtb, s->half_us));
            s->next_bnd = pkt->pts;
        } else if (!transcode_remuxing(s)) {
            /* Every rendition is encoded (a forced IDR can go anywhere):
             * on the grid, so no segment outgrows TARGETDURATION however
             * long or irregular the source's GOP is. */
            boundary = since >= s->seg_ticks - s->half_frame;
        } else if (key) {
            boundary = since >= s->seg_ticks - tol && since >= s->seg_ticks / 2;
        } else {
            boundary = since >= 2 * s->seg_ticks;
        }
        if (boundary) {
            push_boundary(s, pkt->pts, read_us);
            while (s->next_bnd <= pkt->pts + s->half_frame)
                s->next_bnd += s->seg_ticks;
        }
    }
    for (int i = 0; i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        if (!r->r.remux || r->failed)
            continue;
        AVPacket *copy = av_packet_clone(pkt);
        if (!copy)
            return AVERROR(ENOMEM);
        /* Only boundary keyframes may cut the Source rendition. */
        if (boundary && key)
            copy->flags |= AV_PKT_FLAG_KEY;
        else
            copy->flags &= ~AV_PKT_FLAG_KEY;
        note_codec(s, r, copy, s->src->streams[s->vi].par->codec_id);
        if (copy->flags & AV_PKT_FLAG_KEY)
            hls_output_boundary_reached(s, i, copy->pts);
        if (copy->pts != AV_NOPTS_VALUE && !s->nencoded)
            transcode_media_time(s, transcode_us_of(copy->pts, s->vtb));
        ret = hls_output_emit(s, i, copy, s->vtb, false);
        av_packet_free(&copy);
        if (ret < 0)
            return ret;
    }
    if (!s->vdec)
        return 0;
    return decode_video(s, pkt);
}

/* ---------------------------------------------------------------- audio */

/* An audio packet (NULL at the end): media time for an audio-only input,
 * and where a continued audio-only stream begins; transcode_audio.c copies
 * or encodes the rest. */
static int handle_audio(transcode_session_t *s, const AVPacket *pkt)
{
    if (pkt && pkt->pts != AV_NOPTS_VALUE && s->vi < 0)
        transcode_media_time(s, transcode_us_of(pkt->pts, s->atb));
    if (s->cont && s->vi < 0 && !s->have_first &&
        (!pkt || pkt->pts == AV_NOPTS_VALUE ||
         !resume_here(s, pkt->pts, s->atb, 25000)))
        return 0; /* an audio-only stream's published part */
    return transcode_audio_packet(s, pkt);
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

static int open_video(transcode_session_t *s)
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

/* ------------------------------------------------------------ lifecycle */

transcode_session_t *transcode_session_new(packet_source_t *src,
                                           const ladder_profile_t *profile,
                                           const transcode_opts_t *opts)
{
    transcode_session_t *s = calloc(1, sizeof(*s));
    if (!s) {
        packet_source_free(&src);
        return NULL;
    }
    s->src = src;
    s->o = *opts;
    s->profile = *profile;
    s->vi = s->ai = -1;
    s->thumb_size = -1;
    pthread_mutex_init(&s->stats_lock, NULL);
    if (s->o.segment_s < 0.5 || s->o.segment_s > 60) {
        log_error(MOD, "The segment duration is out of range.",
                  "segment=%g min=0.5 max=60", s->o.segment_s);
        transcode_session_free(&s);
        return NULL;
    }
    s->http = !strncmp(s->o.output, "http://", 7) ||
              !strncmp(s->o.output, "https://", 8);
    if (s->http && !(s->origin = origin_new(src->name, &s->o.origin))) {
        transcode_session_free(&s);
        return NULL;
    }
    return s;
}

/*
 * Keeps input timestamps continuous: when a stream's dts jumps back, or
 * forward by more than DISC_JUMP_US (an encoder restart, a concatenated
 * file, a wrap), every later packet of every stream is shifted so the
 * stream goes on one frame after its last packet. All streams jump
 * together in such inputs, so one session-wide shift keeps them in sync.
 */
static void fix_discontinuity(transcode_session_t *s, AVPacket *pkt)
{
    int i = pkt->stream_index;
    bool video = i == s->vi;
    AVRational tb = video ? s->vtb : s->atb;
    if (pkt->dts == AV_NOPTS_VALUE || (i != s->vi && i != s->ai))
        return;
    int k = video ? 0 : 1;
    int64_t us = transcode_us_of(pkt->dts, tb) + s->disc_us;
    if (s->have_last_dts[k] && (us < s->last_dts_us[k] - DISC_BACK_US ||
                                us > s->last_dts_us[k] + DISC_JUMP_US)) {
        int64_t step = pkt->duration > 0 ? transcode_us_of(pkt->duration, tb)
                                         : (video ? 33333 : 21333);
        int64_t shift = s->last_dts_us[k] + step - us;
        s->disc_us += shift;
        us += shift;
        log_warn(MOD, "Input timestamps jumped; output continues.",
                 "stream=%s shift_ms=%lld", video ? "video" : "audio",
                 (long long)(shift / 1000));
    }
    s->last_dts_us[k] = us;
    s->have_last_dts[k] = true;
    if (s->disc_us) {
        int64_t d = av_rescale_q(s->disc_us, AV_TIME_BASE_Q, tb);
        pkt->dts += d;
        if (pkt->pts != AV_NOPTS_VALUE)
            pkt->pts += d;
    }
}

static void *reader_main(void *arg)
{
    transcode_session_t *s = arg;
    AVPacket *pkt = av_packet_alloc();
    int ret = pkt ? 0 : AVERROR(ENOMEM);
    while (ret >= 0 && !atomic_load(&s->stop)) {
        ret = packet_source_read(s->src, pkt);
        if (ret < 0)
            break;
        int idx = pkt->stream_index;
        if (idx != s->vi && idx != s->ai) {
            av_packet_unref(pkt);
            continue;
        }
        transcode_stats_add(s, &s->st.packets_in, 1);
        int r = pkt_queue_put(s->q, pkt, av_gettime_relative());
        if (r < 0 && r != 1)
            ret = r;
    }
    if (ret != AVERROR_EOF && ret != AVERROR_EXIT && ret < 0 &&
        !atomic_load(&s->stop)) {
        log_error(MOD, "Reading the input failed.",
                  "call=packet_source_read input=\"%s\" err=\"%s\"",
                  s->src->name, ERRSTR(ret));
        atomic_store(&s->reader_err, ret);
    }
    pkt_queue_finish(s->q);
    av_packet_free(&pkt);
    return NULL;
}

static void update_stats(transcode_session_t *s, bool final)
{
    int64_t now = av_gettime_relative();
    pthread_mutex_lock(&s->stats_lock);
    s->st.wall_s = (now - s->start_us) / 1e6;
    s->st.media_s =
        s->have_media ? (s->last_media_us - s->first_media_us) / 1e6 : 0;
    /* Speed counts from the first media, not from the session's setup. */
    double since = s->have_media ? (now - s->media_wall_us) / 1e6 : 0;
    s->st.speed = since > 0 ? s->st.media_s / since : 0;
    s->st.fps = since > 0 ? s->st.frames_decoded / since : 0;
    s->st.dropped_packets = s->q ? pkt_queue_dropped(s->q) : 0;
    s->st.renditions = s->nrend;
    s->st.backend = s->backend;
    if (s->origin)
        origin_stats(s->origin, &s->st.origin);
    transcode_stats_t st = s->st;
    int64_t media_us = s->last_media_us - s->first_media_us;
    pthread_mutex_unlock(&s->stats_lock);

    if (s->o.progress && (final || now - s->last_progress_us > 500000)) {
        s->last_progress_us = now;
        fprintf(stderr,
                "\rfps=%.1f speed=%.2fx time=%.1fs renditions=%d "
                "segments=%lld corrupt=%lld dropped=%lld   %s",
                st.fps, st.speed, st.media_s, st.renditions,
                (long long)st.segments, (long long)st.corrupt,
                (long long)st.dropped_packets, final ? "\n" : "");
    }
    /* A live feed: report when the last 10 s ran slower than real time. */
    if (!s->have_media || !s->src->live)
        return;
    if (!s->win_wall_us) {
        s->win_wall_us = now;
        s->win_media_us = media_us;
        return;
    }
    if (now - s->win_wall_us < 10 * 1000000LL)
        return;
    double wspeed =
        (double)(media_us - s->win_media_us) / (double)(now - s->win_wall_us);
    if (wspeed < 0.95)
        log_warn(MOD, "The session is slower than real time.",
                 "input=\"%s\" speed=%.2f dropped=%lld", s->src->name, wspeed,
                 (long long)st.dropped_packets);
    s->win_wall_us = now;
    s->win_media_us = media_us;
}

/*
 * A live input that ended by itself (the publisher left): the last
 * segments and the playlists, still open, go out now, and the playlists
 * wait up to end_wait_ms for the coordinator's word through the agent:
 * transcode_session_stop (the stream ended: they end after this) or
 * transcode_session_continues_elsewhere (the publisher came back and a
 * new session continues them). Renditions finished here are not finished
 * again; the end writes only their playlists.
 */
static void hold_for_reconnect(transcode_session_t *s)
{
    if (!s->src->live || s->o.vod || s->o.end_wait_ms <= 0 ||
        atomic_load(&s->stop) || atomic_load(&s->keep_open) || !s->muxers_open)
        return;
    for (int i = 0; i < s->nrend; i++) {
        if (hls_output_rend_finish(s, &s->rend[i], false) < 0)
            return; /* the end reports it */
        s->rend[i].finished = true;
    }
    log_info(MOD, "The input ended; the playlists wait for the publisher.",
             "input=\"%s\" wait_ms=%d", s->src->name, s->o.end_wait_ms);
    int64_t until = av_gettime_relative() + s->o.end_wait_ms * 1000LL;
    while (!atomic_load(&s->stop) && !atomic_load(&s->keep_open) &&
           av_gettime_relative() < until)
        av_usleep(20000);
}

static int flush_all(transcode_session_t *s)
{
    int ret = 0;
    if (s->vdec) {
        ret = decode_video(s, NULL);
        if (ret < 0)
            return ret;
    }
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
    if (s->adec) {
        ret = handle_audio(s, NULL);
        if (ret < 0)
            return ret;
        if ((ret = transcode_audio_flush(s)) < 0)
            return ret;
    }
    return 0;
}

/*
 * The end of the output, after the reader stopped: every rendition's last
 * segment and playlist, the final master when the stream ends here, and
 * the origin drained. Returns RET, the session's result so far, or the
 * first failure of these when RET was not one.
 */
static int session_close(transcode_session_t *s, int ret)
{
    /* A live stream's playlists end (EXT-X-ENDLIST) only when the stream
     * does: not when another session continues them (a take-over, or a
     * restart after this one failed). */
    bool endlist = s->o.vod || (ret >= 0 && !atomic_load(&s->keep_open));
    for (int i = 0; i < s->nrend && s->muxers_open; i++) {
        int r = hls_output_rend_finish(s, &s->rend[i], endlist);
        if (r < 0 && ret >= 0)
            ret = r;
    }
    /* The final master (measured rates), when the stream ends here: a
     * session that another continues leaves it to that one (an older
     * copy, with fewer segments measured or another set of renditions,
     * would overwrite the newer). */
    if (s->muxers_open && ret >= 0 && endlist) {
        int r = hls_output_write_master(s, true);
        if (r < 0)
            ret = r;
    }
    if (s->origin) {
        /* The last segments and playlists reach the origin before the
         * session reports its end (bounded by the request deadline). */
        origin_drain(s->origin);
        if (ret >= 0)
            ret = origin_fatal(s->origin);
    }
    if (s->origin && ret >= 0 && s->muxers_open) {
        origin_stats_t os;
        origin_stats(s->origin, &os);
        if (!os.puts) {
            log_error(MOD, "The origin accepted no file of the session.",
                      "input=\"%s\" output=\"%s\" failed=%lld", s->src->name,
                      s->o.output, (long long)os.put_failed);
            ret = -EIO;
        }
    }
    return ret;
}

/*
 * Everything before the first packet: the streams, the plan, the output
 * directories and playlists, the decoders and encoders that can open now
 * (the video encoders wait for the first decoded frame), and for a remux-only
 * ladder the muxers.
 */
static int session_open(transcode_session_t *s)
{
    int ret;

    for (int i = 0; i < s->src->nb_streams; i++) {
        if (s->src->streams[i].type == AVMEDIA_TYPE_VIDEO && s->vi < 0)
            s->vi = i;
        if (s->src->streams[i].type == AVMEDIA_TYPE_AUDIO && s->ai < 0)
            s->ai = i;
    }
    if (s->vi < 0 && s->ai < 0) {
        log_error(MOD, "The input has neither audio nor video.", "input=\"%s\"",
                  s->src->name);
        return AVERROR_STREAM_NOT_FOUND;
    }
    if (s->vi >= 0) {
        s->vtb = s->src->streams[s->vi].time_base;
        AVRational fr = s->src->streams[s->vi].frame_rate;
        s->seg_ticks = av_rescale_q((int64_t)(s->o.segment_s * 1000),
                                    (AVRational){1, 1000}, s->vtb);
        s->half_frame =
            fr.num > 0
                ? av_rescale_q(1, (AVRational){fr.den, 2 * fr.num}, s->vtb)
                : 0;
        s->half_us = transcode_us_of(s->half_frame, s->vtb);
    }
    if ((ret = transcode_plan_check_codecs(s)) < 0 ||
        (ret = transcode_plan_ladder(s)) < 0 ||
        (ret = transcode_plan_session(s)) < 0 ||
        (ret = hls_output_prepare(s)) < 0 ||
        (ret = hls_output_open_playlists(s)) < 0)
        return ret;
    if (s->ai >= 0 && (ret = transcode_audio_open(s)) < 0)
        return ret;
    if (s->vi >= 0 && (ret = open_video(s)) < 0)
        return ret;
    s->skip_to_key = s->vi >= 0; /* a decoder needs a keyframe to start */
    log_info(MOD, "Session started.",
             "input=\"%s\" output=\"%s\" backend=%s renditions=%d "
             "encoded=%d audio=%s",
             s->src->name, s->o.output, hwplan_backend_name(s->backend),
             s->nrend, s->nencoded,
             s->ai < 0  ? "none"
             : s->acopy ? "copy"
                        : "aac");
    if (!s->nencoded && (ret = hls_output_open_muxers(s)) < 0)
        return ret;
    return 0;
}

int transcode_session_run(transcode_session_t *s)
{
    AVPacket *pkt = NULL;
    int ret;

    s->start_us = av_gettime_relative();
    if ((ret = session_open(s)) < 0)
        return ret;

    /* transcode_session_stop (another thread) reads s->q under stats_lock;
     * a stop that came before the queue existed finishes it at once. */
    pkt_queue_t *q = pkt_queue_new(s->o.queue_packets, s->src->live, s->vi);
    pthread_mutex_lock(&s->stats_lock);
    s->q = q;
    if (q && atomic_load(&s->stop))
        pkt_queue_finish(q);
    pthread_mutex_unlock(&s->stats_lock);
    pkt = av_packet_alloc();
    if (!s->q || !pkt) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0) {
        ret = AVERROR(errno);
        goto end;
    }
    s->reader_started = true;
    for (;;) {
        int64_t read_us = 0;
        ret = pkt_queue_get(s->q, pkt, &read_us);
        if (ret < 0)
            break;
        fix_discontinuity(s, pkt);
        if (!s->have_offset && pkt->dts != AV_NOPTS_VALUE) {
            /* A continued stream keeps its mapping (checked at the first
             * boundary); a new one starts at TS_OFFSET. */
            AVRational tb = pkt->stream_index == s->vi ? s->vtb : s->atb;
            s->ts_offset_us = s->cont
                                  ? s->tl.offset_us
                                  : TS_OFFSET - transcode_us_of(pkt->dts, tb);
            s->have_offset = true;
        }
        if (pkt->stream_index == s->vi)
            ret = handle_video(s, pkt, read_us);
        else
            ret = handle_audio(s, pkt);
        av_packet_unref(pkt);
        if (s->origin && !s->fatal)
            s->fatal = origin_fatal(s->origin);
        if (ret >= 0 && s->fatal)
            ret = s->fatal;
        if (ret < 0)
            break;
        update_stats(s, false);
    }
    if (ret == AVERROR_EOF || ret == AVERROR_EXIT)
        ret = atomic_load(&s->reader_err);
    if (ret >= 0 && (ret = flush_all(s)) >= 0 && s->fatal)
        ret = s->fatal;
    if (ret >= 0 && !s->muxers_open && s->nencoded) {
        log_error(MOD, "No video could be decoded from the input.",
                  "input=\"%s\"", s->src->name);
        ret = AVERROR_INVALIDDATA;
    }
    if (ret >= 0)
        hold_for_reconnect(s);
end:
    if (s->reader_started) {
        atomic_store(&s->stop, true);
        packet_source_interrupt(s->src);
        pkt_queue_close(s->q);
        pthread_join(s->reader, NULL);
        s->reader_started = false;
    }
    ret = session_close(s, ret);
    update_stats(s, true);
    if (ret < 0) {
        pthread_mutex_lock(&s->stats_lock);
        if (!s->st.error[0])
            snprintf(s->st.error, sizeof(s->st.error), "%s", ERRSTR(ret));
        pthread_mutex_unlock(&s->stats_lock);
    }
    transcode_stats_t st;
    transcode_session_stats(s, &st);
    log_info(MOD, "Session finished.",
             "input=\"%s\" media_s=%.2f wall_s=%.2f speed=%.2f frames=%lld "
             "encoded=%lld segments=%lld corrupt=%lld skipped=%lld "
             "dropped=%lld put_failed=%lld deleted=%lld delete_failed=%lld "
             "upload_dropped=%lld result=\"%s\"",
             s->src->name, st.media_s, st.wall_s, st.speed,
             (long long)st.frames_decoded, (long long)st.frames_encoded,
             (long long)st.segments, (long long)st.corrupt,
             (long long)st.skipped_packets, (long long)st.dropped_packets,
             (long long)st.origin.put_failed, (long long)st.origin.deletes,
             (long long)st.origin.delete_failed, (long long)st.origin.dropped,
             ret >= 0 ? "ok" : ERRSTR(ret));
    av_packet_free(&pkt);
    return ret < 0 ? ret : 0;
}

void transcode_session_stop(transcode_session_t *s)
{
    atomic_store(&s->stop, true);
    packet_source_interrupt(s->src);
    pthread_mutex_lock(&s->stats_lock);
    if (s->q)
        pkt_queue_finish(s->q);
    pthread_mutex_unlock(&s->stats_lock);
}

void transcode_session_continues_elsewhere(transcode_session_t *s)
{
    atomic_store(&s->handed_over, true);
    atomic_store(&s->keep_open, true);
}

void transcode_session_leave_open(transcode_session_t *s)
{
    atomic_store(&s->keep_open, true);
}

void transcode_session_stats(transcode_session_t *s, transcode_stats_t *out)
{
    pthread_mutex_lock(&s->stats_lock);
    *out = s->st;
    pthread_mutex_unlock(&s->stats_lock);
}

void transcode_session_free(transcode_session_t **sp)
{
    transcode_session_t *s = sp ? *sp : NULL;
    if (!s)
        return;
    for (int i = 0; i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        avcodec_free_context(&r->enc);
        hls_segmenter_free(&r->seg);
        r->mux = NULL;
        hls_writer_free(&r->pl);
        for (int k = 0; k < r->nhold; k++)
            av_packet_free(&r->hold[k]);
        av_freep(&r->vod_data);
        av_freep(&r->first_data);
    }
    for (int i = 0; i < s->npending; i++)
        av_packet_free(&s->pending[i].pkt);
    avcodec_free_context(&s->vdec);
    avcodec_free_context(&s->adec);
    avcodec_free_context(&s->aenc);
    avcodec_free_context(&s->jpeg);
    sws_freeContext(s->sws);
    avfilter_graph_free(&s->graph);
    avfilter_graph_free(&s->agraph);
    av_buffer_unref(&s->hwdev);
    origin_free(&s->origin); /* after the muxers, which may close files */
    pkt_queue_free(&s->q);
    packet_source_free(&s->src);
    pthread_mutex_destroy(&s->stats_lock);
    free(s);
    *sp = NULL;
}
