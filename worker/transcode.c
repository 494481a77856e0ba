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
 * Alignment. A segment boundary is decided on source packets
 * (segment_align_decide, in segment_align.c with the other pure decisions):
 * a target after the last boundary when every rendition is encoded; with a
 * Source remux, the source keyframe nearest the target, at least half a
 * segment after the last boundary (or, when the source has no keyframe for
 * two segments, the next packet). The frame with that pts is encoded as a
 * forced IDR in every rendition, and the Source rendition keeps the keyframe
 * flag only on boundary packets. Every HLS muxer runs with hls_time=0, i.e. it
 * cuts at every keyframe it sees, so all renditions cut at exactly the same
 * source timestamps, and dropped frames or 60->30 reduction cannot shift a cut
 * (boundary frames are never dropped). Encoders get a keyframe interval of four
 * segments and no scene-cut detection, so only the forced IDRs cut.
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
 * the packet loop (the boundary decision, the Source remux, where a
 * continued stream resumes, timestamp jumps), the stats, the reconnect hold
 * and the end. segment_align.c makes the segment decisions as pure
 * functions (boundaries, frame selection, jumps, resume point);
 * transcode_video.c decodes, filters and encodes the video per rendition;
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
#include <libavformat/avformat.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include "hls_output.h"
#include "hls_parts.h"
#include "log.h"
#include "origin.h"
#include "pkt_queue.h"
#include "transcode_audio.h"
#include "transcode_int.h"
#include "transcode_plan.h"
#include "transcode_video.h"

#define MOD       "transcode"
#define TS_OFFSET (10 * (int64_t)AV_TIME_BASE)

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
    o->max_decode_errors = TRANSCODE_MAX_DECODE_ERRORS;
    origin_policy_default(&o->origin);
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
 * published twice (segment_align_resume decides). Returns whether PTS
 * (time base TB) begins the output.
 */
static bool resume_here(transcode_session_t *s, int64_t pts, AVRational tb,
                        int64_t tol)
{
    int64_t out = transcode_us_of(pts, tb) + s->ts_offset_us;
    uint64_t was = s->tl.source_id, now = s->src->publish_id;
    bool other = was && now && was != now;
    segment_align_resume_t at =
        segment_align_resume(out, s->resume_us, tol, was, now);
    if (at == SEGMENT_ALIGN_PUBLISHED)
        return false;
    if (at == SEGMENT_ALIGN_REBASE) {
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

static int handle_video(transcode_session_t *s, AVPacket *pkt,
                        pkt_times_t times)
{
    int64_t read_us = times.read_us;
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
        /* The first boundary of a continued stream is where it resumes. */
        bool first_ok = s->align.have_bnd || !key || !s->cont ||
                        resume_here(s, pkt->pts, s->vtb, s->half_us);
        boundary = segment_align_decide(&s->align, pkt->pts, key,
                                        transcode_remuxing(s), first_ok);
        if (boundary) {
            segment_align_ring_push(&s->bnd, pkt->pts, read_us);
            hls_parts_note_date(
                s, transcode_us_of(pkt->pts, s->vtb) + s->ts_offset_us,
                times.arrival_unix_us);
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
        transcode_video_note_codec(s, r, copy,
                                   s->src->streams[s->vi].par->codec_id);
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
    return transcode_video_decode(s, pkt);
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
    s->last_frame_pts = INT64_MIN;
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
 * far forward (an encoder restart, a concatenated file, a wrap; see
 * segment_align_disc), every later packet of every stream is shifted so the
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
    int64_t step = pkt->duration > 0 ? transcode_us_of(pkt->duration, tb)
                                     : (video ? 33333 : 21333);
    int64_t shift = 0;
    if (segment_align_disc(&s->disc, video ? 0 : 1,
                           transcode_us_of(pkt->dts, tb), step, &shift))
        log_warn(MOD, "Input timestamps jumped; output continues.",
                 "stream=%s shift_ms=%lld", video ? "video" : "audio",
                 (long long)(shift / 1000));
    if (s->disc.shift_us) {
        int64_t d = av_rescale_q(s->disc.shift_us, AV_TIME_BASE_Q, tb);
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
        /* Dated by the ingest's clock, else by this read. */
        pkt_times_t times = {.read_us = av_gettime_relative(),
                             .arrival_unix_us = s->src->arrival_unix_us};
        if (times.arrival_unix_us <= 0)
            times.arrival_unix_us = av_gettime();
        int r = pkt_queue_put(s->q, pkt, times);
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
    s->st.queue_depth = s->q ? pkt_queue_depth(s->q) : 0;
    if (s->have_media) {
        rate_window_rates_t rw;
        rate_window_push(&s->rates,
                         &(rate_window_sample_t){
                             now, s->last_media_us - s->first_media_us,
                             s->st.frames_decoded, s->st.frames_encoded});
        rate_window_rates(&s->rates, &rw);
        s->st.speed_10s = rw.speed;
        s->st.fps_in_10s = rw.fps_in;
        s->st.fps_out_10s = rw.fps_out;
    }
    s->st.renditions = s->nrend;
    s->st.backend = s->backend;
    if (s->origin)
        origin_stats(s->origin, &s->st.origin);
    s->st.master_out =
        s->http ? s->st.origin.master_accepted : s->master_written;
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
    int ret = transcode_video_flush(s);
    if (ret < 0)
        return ret;
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
    /* Abandoned: another worker writes the playlists (nothing was sent). */
    if (atomic_load(&s->abandoned))
        return ret;
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
        int64_t half_frame =
            fr.num > 0
                ? av_rescale_q(1, (AVRational){fr.den, 2 * fr.num}, s->vtb)
                : 0;
        segment_align_init(&s->align,
                           av_rescale_q((int64_t)(s->o.segment_s * 1000),
                                        (AVRational){1, 1000}, s->vtb),
                           half_frame);
        s->half_us = transcode_us_of(half_frame, s->vtb);
    }
    if ((ret = transcode_plan_check_codecs(s)) < 0 ||
        (ret = transcode_plan_ladder(s)) < 0 ||
        (ret = transcode_plan_session(s)) < 0 ||
        (ret = hls_output_prepare(s)) < 0 ||
        (ret = hls_output_open_playlists(s)) < 0)
        return ret;
    if (s->ai >= 0 && (ret = transcode_audio_open(s)) < 0)
        return ret;
    if (s->vi >= 0 && (ret = transcode_video_open(s)) < 0)
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
        pkt_times_t times = {0};
        /* Stopped: what is still queued is not worked through (a session
         * that lags would spend as long again on a backlog that nobody
         * waits for); the encoders' last frames still go out. */
        if (atomic_load(&s->stop)) {
            int left = pkt_queue_depth(s->q);
            if (left)
                log_info(MOD, "Stopped; the input still queued is dropped.",
                         "input=\"%s\" packets=%d", s->src->name, left);
            break;
        }
        ret = pkt_queue_get(s->q, pkt, &times);
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
            ret = handle_video(s, pkt, times);
        else if (s->vi < 0 && pkt->pts != AV_NOPTS_VALUE)
            hls_parts_note_date(
                s, transcode_us_of(pkt->pts, s->atb) + s->ts_offset_us,
                times.arrival_unix_us);
        if (pkt->stream_index != s->vi)
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
             "unordered=%lld filled=%lld dropped=%lld put_failed=%lld "
             "deleted=%lld delete_failed=%lld upload_dropped=%lld "
             "result=\"%s\"",
             s->src->name, st.media_s, st.wall_s, st.speed,
             (long long)st.frames_decoded, (long long)st.frames_encoded,
             (long long)st.segments, (long long)st.corrupt,
             (long long)st.skipped_packets, (long long)st.frames_unordered,
             (long long)st.frames_filled, (long long)st.dropped_packets,
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

void transcode_session_abandon(transcode_session_t *s)
{
    atomic_store(&s->abandoned, true);
    transcode_session_continues_elsewhere(s);
    if (s->origin)
        origin_discard(s->origin);
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
        av_packet_free(&r->vnext);
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
