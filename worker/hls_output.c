/* The HLS output of a transcode session: files, segments, playlists. */

/*
 * What is here: the output paths and directories; each rendition's muxer
 * (hls_segmenter) and media playlist (hls_writer); the packets handed to
 * them (hls_output_emit keeps what comes before the muxers open, and
 * mux_write holds a rendition's audio until its video has passed it,
 * and its newest video frame until the next one says where it ends, and
 * cuts a segment at each video keyframe, a part where the next frame
 * would pass the part target); publishing a segment or part and retiring
 * old ones; a continued stream's held first segment (reading back and
 * continuing the playlists is hls_handover.c's); the end of a
 * rendition's output. The master playlist is hls_output_master.c's.
 *
 * Calls go one way: transcode.c, transcode_audio.c and thumbnail.c call
 * in here, and nothing here calls back into them. So two functions live
 * here that the session needs as well: hls_output_rend_fail, which drops
 * a rendition (called here when its muxer or files fail, by the session
 * when its encoder does) and writes the master again, and
 * hls_output_boundary_reached, which hls_output_rend_fail needs to stop
 * boundaries waiting for the dropped rendition, and which reports a segment
 * that every video rendition has reached (on_segment, stats.segments). The
 * audio hold (release_audio) is here rather than in transcode_audio.c
 * because the muxing fills and releases it.
 */
#include "hls_output.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/time.h>

#include "hls_handover.h"
#include "hls_master.h"
#include "hls_parts.h"
#include "log.h"
#include "origin.h"
#include "output_files.h"
#include "segment_align.h"

#define MOD "transcode"
/* How often a continued stream's held first segment looks again for the
 * end of the session before it (its playlist's #PRISM-WRITER-DONE). */
#define FIRST_POLL_US 200000

int hls_output_prepare(transcode_session_t *s)
{
    if (s->http)
        return 0;
    if (output_files_make_dir(s->o.output) < 0) {
        pthread_mutex_lock(&s->stats_lock);
        snprintf(s->st.error, sizeof(s->st.error),
                 "cannot create the output directory");
        pthread_mutex_unlock(&s->stats_lock);
        return -EIO;
    }
    for (int i = 0; i < s->nrend; i++) {
        char dir[1400];
        output_files_path(s, s->rend[i].r.name, dir, sizeof(dir));
        if (output_files_make_dir(dir) < 0) /* make_dir said why */
            hls_output_rend_fail(s, i, "cannot create its output directory");
    }
    return s->fatal;
}

/*
 * output_files_put for a file of rendition r (a segment, its playlist, its
 * init section): a local write that fails drops that rendition
 * (hls_output_rend_fail), not the session, which goes on with the others. An
 * origin's refusals stay the origin policy's (every rendition shares the
 * origin).
 */
static int rend_put(transcode_session_t *s, rend_t *r, const char *rel,
                    const void *data, size_t len)
{
    if (s->fatal || r->failed)
        return s->fatal;
    int ret = output_files_put(s, rel, data, len);
    if (ret < 0 && !s->http) {
        /* The fatal code is output_files_put's, for this rendition's
         * file only. */
        s->fatal = 0;
        char why[160];
        snprintf(why, sizeof(why), "cannot write %s: %s", rel, ERRSTR(ret));
        hls_output_rend_fail(s, (int)(r - s->rend), why);
        return s->fatal;
    }
    return ret;
}

static int put_playlist(transcode_session_t *s, rend_t *r, bool endlist)
{
    if (r->yielded)
        return 0;
    if (hls_parts_on(s)) {
        hls_writer_report_t rep[HLS_WRITER_MAX_REPORTS];
        hls_writer_set_reports(
            r->pl, rep, hls_parts_reports(s, r, rep, HLS_WRITER_MAX_REPORTS));
    }
    size_t len;
    char *text = hls_writer_text(r->pl, endlist, &len);
    if (!text)
        return AVERROR(ENOMEM);
    char rel[160];
    output_files_rend_rel(r, "index.m3u8", rel, sizeof(rel));
    int ret = rend_put(s, r, rel, text, len);
    free(text);
    return ret;
}

static void remove_file(transcode_session_t *s, const rend_t *r,
                        const char *uri)
{
    char rel[200], path[1400];
    output_files_rend_rel(r, uri, rel, sizeof(rel));
    output_files_path(s, rel, path, sizeof(path));
    if (s->http) {
        origin_send_delete(s->origin, path);
    } else if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        log_warn(MOD, "Cannot delete an old segment.",
                 "call=unlink path=\"%s\" err=\"%s\"", path, strerror(e));
    }
}

/* Deletes a segment's file and its NPARTS parts' (seg_..._tag.K.m4s). */
static void remove_segment(transcode_session_t *s, const rend_t *r,
                           const char *uri, int nparts)
{
    remove_file(s, r, uri);
    size_t stem = strlen(uri) > 4 ? strlen(uri) - 4 : 0; /* ".m4s" */
    for (int k = 0; k < nparts; k++) {
        char part[HLS_WRITER_URI_MAX + 8];
        snprintf(part, sizeof(part), "%.*s.%d.m4s", (int)stem, uri, k);
        remove_file(s, r, part);
    }
}

/* A segment left the live playlist: its file (and its parts') stays for
 * as long as a player may still load it (RFC 8216 6.2.2: the window
 * again), then goes. */
static void retire_segment(transcode_session_t *s, rend_t *r, const char *uri,
                           int nparts)
{
    int keep = s->o.list_size + 1 < GONE_MAX ? s->o.list_size + 1 : GONE_MAX;
    if (r->ngone == keep) {
        remove_segment(s, r, r->gone[0], r->gone_parts[0]);
        memmove(r->gone[0], r->gone[1],
                (size_t)(keep - 1) * sizeof(r->gone[0]));
        memmove(r->gone_parts, r->gone_parts + 1,
                (size_t)(keep - 1) * sizeof(r->gone_parts[0]));
        r->ngone--;
    }
    r->gone_parts[r->ngone] = nparts;
    snprintf(r->gone[r->ngone++], sizeof(r->gone[0]), "%s", uri);
}

/* Writes one segment's file, then (live) the playlist that lists it. */
static int publish_segment(transcode_session_t *s, rend_t *r,
                           const uint8_t *data, size_t len, double dur,
                           int64_t end_us)
{
    if (hls_handover_yielded(s, r))
        return 0;
    char uri[64], rel[200], gone[HLS_WRITER_URI_MAX];
    int64_t seq = hls_writer_next_sequence(r->pl);
    hls_parts_segment_name(s, seq, uri, sizeof(uri));
    output_files_rend_rel(r, uri, rel, sizeof(rel));
    int ret = rend_put(s, r, rel, data, len);
    if (ret < 0 || r->failed)
        return ret;
    /* The peak over the duration as EXTINF lists it (to the millisecond),
     * which is what a player or a validator divides by. */
    double listed = round(dur * 1000) / 1000;
    if (listed > 0 && len * 8.0 / listed > r->peak_bps)
        r->peak_bps = len * 8.0 / listed;
    r->pub_s += dur;
    r->pub_bytes += (int64_t)len;
    bool disc = r->nseg == 0 && s->o.discontinuity;
    int left = ret = hls_writer_add(r->pl, uri, dur, disc, gone, sizeof(gone));
    if (ret < 0) {
        log_error(MOD, "Cannot list a segment.",
                  "call=hls_writer_add rendition=%s segment=%s err=\"%s\"",
                  r->r.name, uri, strerror(-ret));
        return s->fatal = ret;
    }
    r->nseg++;
    if (hls_parts_on(s)) {
        char hint[HLS_WRITER_URI_MAX];
        hls_parts_part_name(s, seq + 1, 0, hint, sizeof(hint));
        hls_writer_set_hint(r->pl, hint);
    }
    hls_writer_set_timeline(r->pl, s->ts_offset_us, end_us, s->src->publish_id);
    hls_rates_t rates = {
        .peak_bps = r->peak_bps, .bytes = r->pub_bytes, .seconds = r->pub_s};
    hls_writer_set_rates(r->pl, &rates);
    /* A live master whose BANDWIDTH a segment exceeds is written again
     * with what was measured (by the session that owns the stream: not
     * once another continues it; still when the worker is going away
     * and the last, short segment of its stop goes out). */
    if (!s->o.vod && s->master_written && r->peak_bps > r->adv_bps &&
        !atomic_load(&s->handed_over) &&
        (ret = hls_output_write_master(s, true)) < 0)
        return ret;
    if (left == 1 && !s->o.vod)
        retire_segment(s, r, gone, hls_writer_evicted_parts(r->pl));
    /* A VOD playlist never changes: it is written once, at the end. */
    if (s->o.vod)
        return 0;
    if ((ret = put_playlist(s, r, false)) < 0)
        return ret;
    return hls_output_maybe_write_master(s);
}

/* Whether output time T is before what rendition r continues from. */
static bool before_resume(const transcode_session_t *s, const rend_t *r,
                          int64_t t)
{
    return s->cont && r->resume_us != INT64_MIN &&
           t < r->resume_us - s->half_us;
}

/*
 * A continued rendition's held first segment: once the session before
 * has said it is done with the playlist, or when FORCE (the next segment
 * is cut: the hold ends there), publishes it, unless that session
 * published its time meanwhile; otherwise looks again FIRST_POLL_US later.
 */
static int flush_first(transcode_session_t *s, rend_t *r, bool force)
{
    int ret = 0;
    bool done;
    if (!r->first_data)
        return 0;
    hls_handover_recheck(s, r, &done);
    if (!done && !force) {
        r->first_due_us = av_gettime_relative() + FIRST_POLL_US;
        return 0;
    }
    if (!done)
        log_info(MOD,
                 "The session before did not say it was done with the "
                 "playlist; the first segment goes out with the next.",
                 "rendition=%s", r->r.name);
    if (!before_resume(s, r, r->first_start_us))
        ret = publish_segment(s, r, r->first_data, r->first_len, r->first_dur,
                              r->first_end_us);
    av_freep(&r->first_data);
    return ret;
}

/*
 * Low-Latency HLS: ends the rendition's current part at END_US (output
 * time) and, when its segment's parts are published, writes it and lists
 * it with the next part as the preload hint, and the playlist when
 * PUT_PLAYLIST (not for a segment's last part: the segment's playlist
 * follows at once).
 */
static int part_cut(transcode_session_t *s, rend_t *r, int64_t end_us,
                    bool put_pl)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    if (r->failed)
        return s->fatal;
    if (hls_segmenter_cut_part(r->seg, &data, &len) < 0) {
        hls_output_rend_fail(s, (int)(r - s->rend),
                             "hls_segmenter_cut_part failed");
        return s->fatal;
    }
    double dur = (end_us - r->part_out_us) / 1e6;
    bool indep = r->part_indep;
    r->part_out_us = end_us;
    r->part_indep = r->audio_only; /* video: only a segment's first */
    r->part_any = false;
    if (!len || dur <= 0 || !r->parts_ok || r->yielded)
        return 0;
    int64_t seq = hls_writer_next_sequence(r->pl);
    int k = hls_writer_parts_pending(r->pl);
    char uri[HLS_WRITER_URI_MAX], rel[200];
    hls_parts_part_name(s, seq, k, uri, sizeof(uri));
    output_files_rend_rel(r, uri, rel, sizeof(rel));
    int ret = rend_put(s, r, rel, data, len);
    if (ret < 0 || r->failed)
        return ret;
    if ((ret = hls_writer_add_part(r->pl, uri, dur, indep)) < 0) {
        log_error(MOD, "Cannot list a part.",
                  "call=hls_writer_add_part rendition=%s part=%s err=\"%s\"",
                  r->r.name, uri, strerror(-ret));
        r->parts_ok = false; /* the segment goes out whole */
        return 0;
    }
    hls_parts_part_name(s, seq, k + 1, uri, sizeof(uri));
    hls_writer_set_hint(r->pl, uri);
    return put_pl ? put_playlist(s, r, false) : 0;
}

/* A segment (or a part of it) begins at OUT_US, with a keyframe: its date,
 * and whether its parts are published: not while a continued stream's
 * first segment is held, nor for time another session published. */
static void segment_begins(transcode_session_t *s, rend_t *r, int64_t out_us)
{
    r->part_out_us = out_us;
    r->part_indep = true;
    r->part_any = false;
    r->parts_ok = hls_parts_on(s) && !before_resume(s, r, out_us) &&
                  !(r->continued && !s->o.previous_gone && r->nseg == 0);
    if (!s->o.vod)
        hls_writer_set_date(r->pl, hls_parts_date(s, out_us));
}

/*
 * Ends the rendition's current segment at end_us (output time: where the
 * next one starts). VOD holds each segment back by one, so that a last
 * segment shorter than a quarter of the target joins the one before
 * instead of being a segment of its own.
 */
static int rend_cut(transcode_session_t *s, rend_t *r, int64_t end_us,
                    bool final)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (r->failed)
        return s->fatal;
    int ret = r->parts_ok && r->part_any ? part_cut(s, r, end_us, false) : 0;
    if (ret < 0 || r->failed)
        return ret < 0 ? ret : s->fatal;
    ret = hls_segmenter_cut(r->seg, final, &data, &len);
    if (ret < 0) {
        hls_output_rend_fail(s, (int)(r - s->rend), "hls_segmenter_cut failed");
        return s->fatal;
    }
    double dur = (end_us - r->seg_out_us) / 1e6;
    bool any = r->seg_any;
    int64_t start_us = r->seg_out_us;
    r->seg_out_us = end_us;
    r->seg_any = false;
    if (!any || !len) {
        av_free(data);
        data = NULL;
        len = 0;
    }
    if (r->first_data && (ret = flush_first(s, r, true)) < 0) {
        av_free(data);
        return ret;
    }
    /* A continued stream: time another session published is not
     * published again. */
    if (len && before_resume(s, r, start_us)) {
        av_freep(&data);
        len = 0;
    }
    /* Another session may still be finishing the stream (a move: the old
     * worker stops at its next keyframe, about when this one reaches it):
     * the first segment waits until that session's playlist says it is
     * done (#PRISM-WRITER-DONE), at most until the next segment is cut,
     * and the playlist read then decides where this one goes on. Only
     * when there was a playlist to continue (a new stream's has no one
     * before it), and not after a worker died: nothing else writes, and a
     * viewer's buffer is running down meanwhile. */
    if (len && !final && !s->o.vod && r->continued && !s->o.previous_gone &&
        r->nseg == 0) {
        r->first_data = data;
        r->first_len = len;
        r->first_dur = dur;
        r->first_start_us = start_us;
        r->first_end_us = end_us;
        r->first_due_us = av_gettime_relative(); /* look at once */
        return 0;
    }
    if (!s->o.vod) {
        ret = len ? publish_segment(s, r, data, len, dur, end_us) : 0;
        av_free(data);
        return ret;
    }
    if (r->vod_data && final && len &&
        segment_align_joins_tail(dur, s->o.segment_s)) {
        uint8_t *both = av_realloc(r->vod_data, r->vod_len + len);
        if (!both) {
            av_free(data);
            return AVERROR(ENOMEM);
        }
        memcpy(both + r->vod_len, data, len);
        r->vod_data = both;
        r->vod_len += len;
        r->vod_dur += dur;
        r->vod_end_us = end_us;
        av_freep(&data);
        len = 0;
    }
    if (r->vod_data && (len || final)) {
        ret = publish_segment(s, r, r->vod_data, r->vod_len, r->vod_dur,
                              r->vod_end_us);
        av_freep(&r->vod_data);
        if (ret < 0) {
            av_free(data);
            return ret;
        }
    }
    if (len && final) {
        ret = publish_segment(s, r, data, len, dur, end_us);
        av_free(data);
        return ret;
    }
    if (len) {
        r->vod_data = data;
        r->vod_len = len;
        r->vod_dur = dur;
        r->vod_end_us = end_us;
    }
    return 0;
}

/* The renditions' playlists, continued from the output's when asked. */
int hls_output_open_playlists(transcode_session_t *s)
{
    /* TARGETDURATION must hold every segment and never change. Encoded
     * renditions are cut on the grid; a remuxed Source can only be cut at
     * the source's keyframes, which real encoders place late by a frame
     * or a stall (GStreamer's flvmux after a freeze: 2.74 s segments on a
     * 2 s target), so a live ladder with a remux gets a second of room.
     * (hls.js then holds 3 s more back; the trade-off is in
     * docs/transcode.md.) */
    bool room = !s->o.vod && transcode_remuxing(s);
    hls_parts_new_tag(s);
    hls_parts_init_name(s, s->init_uri, sizeof(s->init_uri));
    s->wopts = (hls_writer_opts_t){
        .target_s = s->o.segment_s + (room ? 1.0 : 0.0),
        .window = s->o.vod ? 0 : s->o.list_size,
        .vod = s->o.vod,
        .map_uri = s->o.fmp4 ? s->init_uri : NULL,
        /* Parts are cut at the target by the frames' times as they come;
         * timestamps in milliseconds (RTMP) may end a part one later
         * than the frame before foretold: PART-TARGET has that room. */
        .part_target_s = hls_parts_on(s) ? s->o.part_s + 0.001 : 0,
    };
    for (int i = 0; i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        if (!(r->pl = hls_writer_new(&s->wopts)))
            return AVERROR(ENOMEM);
        r->resume_us = INT64_MIN;
        if (s->o.continue_playlists && !s->o.vod)
            hls_handover_continue(s, r);
        hls_writer_min_sequence(r->pl, s->o.start_sequence);
    }
    for (int i = 0; i < s->nrend && s->cont; i++) {
        if (s->rend[i].resume_us == INT64_MIN) /* a rendition new here */
            s->rend[i].resume_us = s->resume_us;
    }
    if (s->o.continue_playlists && !s->o.vod)
        hls_handover_master_codecs(s);
    return 0;
}

static int open_muxer(transcode_session_t *s, rend_t *r)
{
    int ret;

    r->seg = hls_segmenter_new(r->r.name, s->o.fmp4);
    if (!r->seg)
        return AVERROR(ENOMEM);
    r->mux = hls_segmenter_mux(r->seg);
    r->vst = r->ast = -1;
    if (!r->audio_only) {
        AVStream *st = avformat_new_stream(r->mux, NULL);
        if (!st)
            return AVERROR(ENOMEM);
        if (r->enc) {
            ret = avcodec_parameters_from_context(st->codecpar, r->enc);
            st->time_base = r->enc->time_base;
        } else {
            ret = avcodec_parameters_copy(st->codecpar,
                                          s->src->streams[s->vi].par);
            st->codecpar->codec_tag = 0;
            st->time_base = s->vtb;
        }
        if (ret < 0)
            return ret;
        /* CODECS says hvc1: parameter sets in the sample entry. */
        if (s->o.fmp4 && st->codecpar->codec_id == AV_CODEC_ID_HEVC)
            st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
        st->avg_frame_rate = (AVRational){r->r.fps_num, r->r.fps_den};
        r->vst = st->index;
    }
    if (s->ai >= 0) {
        AVStream *st = avformat_new_stream(r->mux, NULL);
        if (!st)
            return AVERROR(ENOMEM);
        if (s->acopy) {
            ret = avcodec_parameters_copy(st->codecpar,
                                          s->src->streams[s->ai].par);
            st->codecpar->codec_tag = 0;
            st->time_base = s->atb;
        } else {
            ret = avcodec_parameters_from_context(st->codecpar, s->aenc);
            st->time_base = s->aenc->time_base;
        }
        if (ret < 0)
            return ret;
        r->ast = st->index;
    }
    uint8_t *init = NULL;
    size_t len = 0;
    if ((ret = hls_segmenter_start(r->seg, &init, &len)) < 0)
        return -EIO;
    if (init) {
        char rel[160];
        output_files_rend_rel(r, s->init_uri, rel, sizeof(rel));
        ret = rend_put(s, r, rel, init, len);
        av_free(init);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int64_t pkt_out_us(const rend_t *r, const AVPacket *pkt)
{
    return transcode_us_of(pkt->pts,
                           r->mux->streams[pkt->stream_index]->time_base);
}

static int seg_write(transcode_session_t *s, rend_t *r, AVPacket *pkt)
{
    /* Where the rendition ends: its video's end (the timeline goes on
     * from there), its audio's for an audio-only one. */
    AVRational tb = r->mux->streams[pkt->stream_index]->time_base;
    int64_t end = transcode_us_of(pkt->pts + pkt->duration, tb);
    if ((pkt->stream_index == r->vst || r->vst < 0) && end > r->end_out_us)
        r->end_out_us = end;
    if (r->failed)
        return s->fatal;
    if (hls_segmenter_write(r->seg, pkt) < 0) {
        hls_output_rend_fail(s, (int)(r - s->rend),
                             "hls_segmenter_write failed");
        return s->fatal;
    }
    return 0;
}

/* Writes the held audio that starts before BEFORE (output us; INT64_MAX:
 * all of it); dropped instead when it starts before the rendition's
 * first segment in a continued stream (it was published). */
static int release_audio(transcode_session_t *s, rend_t *r, int64_t before)
{
    int n = 0, ret = 0;
    while (n < r->nhold && pkt_out_us(r, r->hold[n]) < before) {
        AVPacket *p = r->hold[n++];
        if (ret >= 0 && (!s->cont || pkt_out_us(r, p) >= r->seg_out_us))
            ret = seg_write(s, r, p);
        av_packet_free(&p);
    }
    r->nhold -= n;
    memmove(r->hold, r->hold + n, (size_t)r->nhold * sizeof(r->hold[0]));
    return ret;
}

static int64_t part_us(const transcode_session_t *s)
{
    return (int64_t)(s->o.part_s * AV_TIME_BASE);
}

/*
 * Writes the rendition's held video frame, which ends at END_US (where the
 * next frame is placed, or its own end), after the audio before it. A
 * frame waits for the next one because only then is its end known: a part
 * it would take past the part target ends before it. Publishers' times
 * are uneven (GStreamer's flvmux: 23 and 47 ms apart at 30 fps), so no
 * guess of a frame's duration keeps every part within the target.
 */
static int place_video(transcode_session_t *s, rend_t *r, int64_t end_us)
{
    AVPacket *pkt = r->vnext;
    if (!pkt)
        return 0;
    r->vnext = NULL;
    int64_t at = r->vnext_at_us;
    int ret = release_audio(s, r, r->vnext_out_us);
    if (ret >= 0 && r->parts_ok && r->part_any &&
        hls_parts_due(r->part_out_us, at, end_us - at, part_us(s)))
        ret = part_cut(s, r, at, true);
    if (ret >= 0)
        ret = seg_write(s, r, pkt);
    if (ret >= 0)
        r->seg_any = r->part_any = true;
    av_packet_free(&pkt);
    return ret;
}

/*
 * Writes one packet (borrowed, time base tb) to one rendition. A video
 * keyframe (only boundaries are keyframes) ends the current segment;
 * audio waits until the video has passed it, so each segment holds the
 * audio of its own time; an audio-only rendition cuts on its own clock.
 */
static int mux_write(transcode_session_t *s, rend_t *r, const AVPacket *in,
                     AVRational tb, bool audio)
{
    int idx = audio ? r->ast : r->vst;
    if (idx < 0 || in->pts == AV_NOPTS_VALUE)
        return 0;
    AVRational otb = r->mux->streams[idx]->time_base;
    int64_t out_us = transcode_us_of(in->pts, tb) + s->ts_offset_us;
    bool key = !audio && (in->flags & AV_PKT_FLAG_KEY);
    int64_t seg_us = (int64_t)(s->o.segment_s * AV_TIME_BASE);
    int ret;

    if (r->first_data && av_gettime_relative() >= r->first_due_us &&
        (ret = flush_first(s, r, false)) < 0)
        return ret;
    /* A continued stream: what was published is not written again. */
    if (s->cont && (!s->have_first || before_resume(s, r, out_us)))
        return 0;
    if (!audio && !r->started && !key)
        return 0; /* a segment starts with a keyframe */
    AVPacket *pkt = av_packet_clone(in);
    if (!pkt)
        return AVERROR(ENOMEM);
    int64_t off = av_rescale_q(s->ts_offset_us, AV_TIME_BASE_Q, otb);
    av_packet_rescale_ts(pkt, tb, otb);
    pkt->pts += off;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += off;
    if (pkt->duration <= 0 && !audio && r->r.fps_num > 0)
        pkt->duration =
            av_rescale_q(1, (AVRational){r->r.fps_den, r->r.fps_num}, otb);
    pkt->stream_index = idx;
    pkt->pos = -1;

    if (audio && r->vst >= 0) {
        if (r->nhold == HOLD_MAX) { /* the video is that far behind */
            if (r->started)
                ret = seg_write(s, r, r->hold[0]);
            av_packet_free(&r->hold[0]);
            r->nhold--;
            memmove(r->hold, r->hold + 1, (size_t)r->nhold * sizeof(*r->hold));
        }
        r->hold[r->nhold++] = pkt;
        return s->fatal;
    }
    /* Parts are cut in decode order: a frame's place is its decode time
     * plus the reorder delay of the segment's keyframe (B-frames), so
     * parts hold whole frames and last what their samples do. */
    int64_t dts_us = in->dts != AV_NOPTS_VALUE
                         ? transcode_us_of(in->dts, tb) + s->ts_offset_us
                         : out_us;
    int64_t at = key ? out_us : dts_us + r->part_delay_us;
    ret = 0;
    if (!audio)
        ret = place_video(s, r, at); /* the frame before ends here */
    if (key) {
        if (!r->started)
            r->seg_out_us = out_us;
        if (ret >= 0)
            ret = release_audio(s, r, out_us);
        if (ret >= 0 && r->started && r->seg_any)
            ret = rend_cut(s, r, out_us, false);
        if (before_resume(s, r, out_us)) {
            r->started = false; /* the cut found this time published */
            av_packet_free(&pkt);
            return ret;
        }
        r->started = true;
        segment_begins(s, r, out_us);
        r->part_delay_us = out_us - dts_us;
    }
    if (!audio) {
        /* A frame that starts too late to fit in the part (it lasts at
         * least half its nominal duration) ends the part now, without
         * waiting for the next frame to say when it ends. */
        int64_t half_us = transcode_us_of(pkt->duration, otb) / 2;
        if (ret >= 0 && r->parts_ok && r->part_any &&
            hls_parts_due(r->part_out_us, at, half_us > 0 ? half_us : 1,
                          part_us(s)))
            ret = part_cut(s, r, at, true);
        r->vnext = pkt;
        r->vnext_out_us = out_us;
        r->vnext_at_us = at;
        return ret < 0 ? ret : s->fatal;
    }
    if (!r->started) {
        r->started = true;
        r->seg_out_us = out_us;
        segment_begins(s, r, out_us);
    } else if (r->seg_any &&
               segment_align_audio_cut(r->seg_out_us, out_us, seg_us)) {
        ret = rend_cut(s, r, out_us, false);
        segment_begins(s, r, out_us);
    } else if (r->audio_only && r->parts_ok && r->part_any &&
               hls_parts_due(r->part_out_us, out_us,
                             transcode_us_of(pkt->duration, otb), part_us(s))) {
        ret = part_cut(s, r, out_us, true);
    }
    if (ret >= 0)
        ret = seg_write(s, r, pkt);
    if (ret >= 0 && r->audio_only)
        r->seg_any = r->part_any = true;
    av_packet_free(&pkt);
    return ret;
}

/* Ends the rendition's output: its held audio, its last segment (at the
 * end of its last packet) and its playlist, ended or left open. */
int hls_output_rend_finish(transcode_session_t *s, rend_t *r, bool endlist)
{
    int ret = 0;
    if (r->failed)
        return 0; /* dropped: nothing of it is written again */
    /* Held for a reconnect, its playlist already out: only the end is
     * added. When another session continues it, that one owns it now,
     * and writing it again could put back an older copy. */
    if (r->finished)
        return endlist && hls_writer_count(r->pl) ? put_playlist(s, r, true)
                                                  : 0;
    if (r->vnext) {
        AVRational tb = r->mux->streams[r->vst]->time_base;
        ret = place_video(
            s, r, r->vnext_at_us + transcode_us_of(r->vnext->duration, tb));
    }
    if (r->started && ret >= 0)
        ret = release_audio(s, r, INT64_MAX);
    if (ret >= 0)
        ret = rend_cut(s, r, r->started ? r->end_out_us : r->seg_out_us, true);
    if (ret >= 0 && (r->nseg || hls_writer_count(r->pl))) {
        if (!endlist) /* the stream goes on elsewhere, or after a wait */
            hls_writer_set_done(r->pl);
        ret = put_playlist(s, r, endlist);
    }
    return ret;
}

/* Sends a packet to one rendition (rend >= 0) or, for audio, every one. */
int hls_output_emit(transcode_session_t *s, int rend, const AVPacket *pkt,
                    AVRational tb, bool audio)
{
    if (s->fatal)
        return s->fatal;
    if (!s->muxers_open) {
        if (s->npending == MAX_PENDING) {
            s->pending_dropped++;
            return 0;
        }
        pending_t *p = &s->pending[s->npending];
        p->pkt = av_packet_clone(pkt);
        if (!p->pkt)
            return AVERROR(ENOMEM);
        p->pkt->time_base = tb;
        p->rend = rend;
        p->audio = audio;
        s->npending++;
        return 0;
    }
    for (int i = 0; i < s->nrend; i++) {
        if ((rend >= 0 && i != rend) || s->rend[i].failed)
            continue;
        int ret = mux_write(s, &s->rend[i], pkt, tb, audio);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int hls_output_open_muxers(transcode_session_t *s)
{
    int ret;
    for (int i = 0; i < s->nrend; i++) {
        if ((ret = open_muxer(s, &s->rend[i])) < 0)
            return ret;
        if (!s->rend[i].audio_only && !s->rend[i].failed)
            s->all_mask |= 1u << i;
    }
    s->muxers_open = true;
    /* An audio-only ladder has no video codec string to wait for: a VOD
     * one's master goes now (a failed PUT is logged by output_files_put),
     * a live one's with its first segments. */
    hls_output_maybe_write_master(s);
    for (int i = 0; i < s->npending; i++) {
        pending_t *p = &s->pending[i];
        ret = hls_output_emit(s, p->rend, p->pkt, p->pkt->time_base, p->audio);
        av_packet_free(&p->pkt);
        if (ret < 0) {
            for (int k = i + 1; k < s->npending; k++)
                av_packet_free(&s->pending[k].pkt);
            s->npending = 0;
            return ret;
        }
    }
    s->npending = 0;
    if (s->pending_dropped)
        log_warn(MOD, "Packets made before the outputs opened were dropped.",
                 "dropped=%lld", (long long)s->pending_dropped);
    return 0;
}

/* A video rendition wrote a keyframe at pts (source time base). */
void hls_output_boundary_reached(transcode_session_t *s, int rend, int64_t pts)
{
    segment_align_bnd_t b;
    segment_align_ring_reach(&s->bnd, rend, pts);
    while (segment_align_ring_pop(&s->bnd, s->all_mask, &b)) {
        if (s->have_prev_done && s->o.on_segment) {
            transcode_segment_t seg = {
                .index = s->seg_index,
                .start_s = transcode_us_of(s->prev_done_pts, s->vtb) / 1e6,
                .duration_s =
                    transcode_us_of(b.pts - s->prev_done_pts, s->vtb) / 1e6,
                .lag_s = (av_gettime_relative() - b.read_us) / 1e6,
            };
            s->o.on_segment(s->o.opaque, &seg);
        }
        if (s->have_prev_done) {
            s->seg_index++;
            transcode_stats_add(s, &s->st.segments, 1);
            pthread_mutex_lock(&s->stats_lock);
            s->st.encode_latency_s = (av_gettime_relative() - b.read_us) / 1e6;
            pthread_mutex_unlock(&s->stats_lock);
        }
        s->have_prev_done = true;
        s->prev_done_pts = b.pts;
    }
}

/*
 * Drops rendition i from the session after a failure of its own (its
 * encoder, the Source remux, its muxer or files; reason names the call and
 * the library's error text): it gets no more packets or frames, segment
 * boundaries stop waiting for it, the master playlist is written again
 * without it, and transcode_stats_t.failed lists it. The session ends
 * (s->fatal = -EIO) only when no rendition is left. Logged once, here.
 */
void hls_output_rend_fail(transcode_session_t *s, int i, const char *reason)
{
    rend_t *r = &s->rend[i];
    if (r->failed)
        return;
    r->failed = true;
    int left = 0;
    for (int k = 0; k < s->nrend; k++)
        left += !s->rend[k].failed;
    log_error(MOD,
              left ? "A rendition failed; it is dropped, the others go on."
                   : "The last rendition failed; the session ends.",
              "input=\"%s\" rendition=%s reason=\"%s\" left=%d", s->src->name,
              r->r.name, reason, left);
    pthread_mutex_lock(&s->stats_lock);
    if (s->st.nfailed < LADDER_MAX_RUNGS) {
        transcode_rend_failure_t *f = &s->st.failed[s->st.nfailed++];
        av_strlcpy(f->name, r->r.name, sizeof(f->name));
        av_strlcpy(f->reason, reason, sizeof(f->reason));
    }
    if (!left)
        snprintf(s->st.error, sizeof(s->st.error),
                 "every rendition failed; the last, %s: %s", r->r.name, reason);
    pthread_mutex_unlock(&s->stats_lock);
    if (!left) {
        s->fatal = -EIO;
        return;
    }
    if (s->all_mask & (1u << i)) {
        s->all_mask &= ~(1u << i);
        /* Boundaries that waited only for it are complete now. */
        hls_output_boundary_reached(s, i, AV_NOPTS_VALUE);
    }
    if (s->master_written)
        hls_output_write_master(s, false);
    else /* it may have been the one the master waited for */
        hls_output_maybe_write_master(s);
}
