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
 * remux, its muxer or its files) drops that rendition (rend_fail): it gets
 * no more packets, boundaries stop waiting for it, the master playlist is
 * written again without it, and the stats list it. Fatal errors (the
 * device, the decoder, the filter graph, the audio all share, an origin
 * past its policy, every rendition failed) are logged once where they
 * happen and end the session with a negative code.
 */
#include "transcode.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>

#include "hls_master.h"
#include "hls_segmenter.h"
#include "hls_writer.h"
#include "log.h"
#include "origin.h"
#include "pkt_queue.h"

#define MOD         "transcode"
#define MAX_PENDING 4096
#define HOLD_MAX    512 /* audio packets held per rendition (~10 s) */
#define GONE_MAX    66  /* old segments waiting for their DELETE */
/* A continued stream's first packet mapped further back than this from
 * the published end is not the same timeline (a publisher reconnect). */
#define RESUME_BACK_US (15 * (int64_t)AV_TIME_BASE)
/* How long a continued stream's first segment waits for another session
 * that may still be finishing the stream. */
#define FIRST_HOLD_US 1000000
#define BND_RING      64
/* The longest playlist read back from the output. */
#define TEXT_MAX  (1 << 20)
#define TS_OFFSET (10 * (int64_t)AV_TIME_BASE)
/* A dts this far behind, or this far ahead of, the last is a break. */
#define DISC_BACK_US 500000
#define DISC_JUMP_US (10 * (int64_t)AV_TIME_BASE)

typedef struct {
    ladder_rendition_t r;
    bool audio_only;
    const hwplan_encoder_t *pe;
    AVCodecContext *enc;
    int size;             /* hwplan size index, -1 for remux / audio only */
    hls_segmenter_t *seg; /* the rendition's muxer, cut per segment */
    AVFormatContext *mux; /* the segmenter's; borrowed */
    hls_writer_t *pl;     /* its media playlist */
    int vst, ast;
    /* Segments: the current one started at seg_out_us (output time) and
     * has had a packet (video for a video rendition) when seg_any. */
    bool started; /* the first segment began (a continued stream: at or
                     after resume_us, the end of what is published) */
    bool seg_any;
    int64_t seg_out_us, end_out_us, resume_us;
    int64_t nseg;             /* segments published by this session */
    AVPacket *hold[HOLD_MAX]; /* audio waiting for the video to pass it */
    int nhold;
    uint8_t *vod_data; /* VOD: the last segment, held so a short tail */
    size_t vod_len;    /* can join it */
    double vod_dur;
    int64_t vod_end_us;
    uint8_t *first_data; /* a continued stream's first segment, held */
    size_t first_len;
    double first_dur;
    int64_t first_start_us, first_end_us, first_due_us;
    char gone[GONE_MAX][HLS_WRITER_URI_MAX]; /* out of the playlist, */
    int ngone;                               /* deleted later */
    double pub_s;      /* duration of the segments published */
    int64_t pub_bytes; /* and their bytes */
    int64_t last_slot;
    int64_t phase_us; /* pts of the last boundary frame */
    bool selected_any;
    char vcodec[48];
    double peak_bps; /* the highest segment bit rate published */
    double adv_bps;  /* the BANDWIDTH the master says */
    int64_t frames;
    bool failed;   /* dropped by rend_fail: skipped from then on */
    bool finished; /* last segment out (held for a reconnect) */
} rend_t;

typedef struct {
    AVPacket *pkt;
    int rend; /* -1: every rendition (audio) */
    bool audio;
} pending_t;

typedef struct {
    int64_t pts; /* source video time base */
    int64_t read_us;
    uint32_t reached;
} boundary_t;

struct transcode_session {
    transcode_opts_t o;
    ladder_profile_t profile;
    ladder_t ladder;
    packet_source_t *src;
    int vi, ai;
    AVRational vtb, atb;
    hwplan_t plan;
    hwplan_backend_t backend;
    bool http;
    origin_t *origin; /* the HTTP output, when http */
    AVBufferRef *hwdev;
    enum AVPixelFormat hw_pix_fmt; /* the decoder's device frames format */

    AVCodecContext *vdec, *adec, *aenc;
    bool acopy;
    char acodec[24];
    AVFilterGraph *graph;
    AVFilterContext *bsrc, *sinks[HWPLAN_MAX_SIZES];
    int g_w, g_h, g_fmt;
    AVFilterGraph *agraph;
    AVFilterContext *absrc, *asink;

    rend_t rend[LADDER_MAX_RUNGS];
    int nrend;
    int nencoded;
    bool encoders_open, muxers_open, master_written;
    pending_t pending[MAX_PENDING];
    int npending;
    int64_t pending_dropped;

    int64_t seg_ticks, half_frame;
    int64_t last_key, key_gap; /* the source's last keyframe, interval */
    bool have_key;
    int64_t next_bnd; /* the next grid point, source video time base */
    bool have_bnd;
    int64_t last_bnd;
    boundary_t bnd[BND_RING];
    int64_t bnd_head, bnd_tail; /* ring indexes: [tail, head) are open */
    uint32_t all_mask;
    int64_t seg_index;
    bool have_prev_done;
    int64_t prev_done_pts;
    bool skip_to_key;
    bool cur_boundary;

    int64_t ts_offset_us;
    bool have_offset;
    /* Continuing another session's playlists: their timeline (offset and
     * where the published media ends, resume_us: the earliest end over
     * the renditions); nothing is written before the first boundary,
     * which lands on resume_us. */
    bool cont;
    hls_writer_opts_t wopts; /* every rendition's playlist options */
    hls_timeline_t tl;
    int64_t resume_us;
    bool have_first;
    int64_t first_pts;      /* of the first packet written, source time base */
    int64_t half_us;        /* half a video frame, microseconds */
    int64_t disc_us;        /* shift added for input discontinuities */
    int64_t last_dts_us[2]; /* video, audio; after the shift */
    bool have_last_dts[2];
    int64_t first_media_us, last_media_us;
    int64_t media_wall_us;             /* wall time of the first media */
    int64_t win_wall_us, win_media_us; /* speed window start */
    bool have_media;

    AVCodecContext *jpeg;
    struct SwsContext *sws;
    int thumb_size;
    int64_t thumbs;
    int64_t next_thumb_us;

    pkt_queue_t *q;
    pthread_t reader;
    bool reader_started;
    atomic_bool stop;
    atomic_bool keep_open; /* no EXT-X-ENDLIST: the stream moves on */
    atomic_int reader_err;

    pthread_mutex_t stats_lock;
    transcode_stats_t st;
    int64_t start_us, last_progress_us;
    int fatal;
};

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

static int64_t us_of(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

static const char *err_text(int err, char *buf, size_t len)
{
    av_strerror(err, buf, len);
    return buf;
}
#define ERRSTR(e) err_text((e), (char[AV_ERROR_MAX_STRING_SIZE]){0}, 64)

/* ---------------------------------------------------------------- output */

static void rend_fail(transcode_session_t *s, int i, const char *reason);

static void out_path(const transcode_session_t *s, const char *rel, char *buf,
                     size_t len)
{
    size_t n = strlen(s->o.output);
    bool slash = n && s->o.output[n - 1] == '/';
    snprintf(buf, len, "%s%s%s", s->o.output, slash ? "" : "/", rel);
}

/* Writes a small file (master playlist, thumbnail) whole. */
static int put_file(transcode_session_t *s, const char *rel, const void *data,
                    size_t len)
{
    char path[1400], tmp[1410];
    if (s->fatal)
        return s->fatal;
    out_path(s, rel, path, sizeof(path));
    if (s->http) {
        /* Queued for the uploader; a refused PUT is counted there and the
         * origin's policy ends the session. */
        origin_send(s->origin, path, data, len);
        return s->fatal = origin_fatal(s->origin);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        int e = errno;
        log_error(MOD, "Cannot write an output file.",
                  "call=fwrite path=\"%s\" err=\"%s\"", tmp, strerror(e));
        if (f)
            fclose(f);
        return s->fatal = -EIO;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        log_error(MOD, "Cannot rename an output file.",
                  "call=rename path=\"%s\" err=\"%s\"", path, strerror(e));
        return s->fatal = -EIO;
    }
    return 0;
}

static int make_dir(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        log_error(MOD, "Cannot create the output directory.",
                  "call=mkdir path=\"%s\" err=\"%s\"", path, strerror(e));
        return -EIO;
    }
    if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        log_error(MOD, "The output directory is not a directory.",
                  "call=stat path=\"%s\" err=\"%s\"", path, strerror(ENOTDIR));
        return -EIO;
    }
    if (access(path, W_OK) < 0) {
        int e = errno;
        log_error(MOD, "The output directory is not writable.",
                  "call=access path=\"%s\" err=\"%s\"", path, strerror(e));
        return -EIO;
    }
    return 0;
}

static int prepare_output(transcode_session_t *s)
{
    if (s->http)
        return 0;
    if (make_dir(s->o.output) < 0) {
        pthread_mutex_lock(&s->stats_lock);
        snprintf(s->st.error, sizeof(s->st.error),
                 "cannot create the output directory");
        pthread_mutex_unlock(&s->stats_lock);
        return -EIO;
    }
    for (int i = 0; i < s->nrend; i++) {
        char dir[1400];
        out_path(s, s->rend[i].r.name, dir, sizeof(dir));
        if (make_dir(dir) < 0) /* make_dir said why */
            rend_fail(s, i, "cannot create its output directory");
    }
    return s->fatal;
}

static double rend_nominal_bps(const transcode_session_t *s, const rend_t *r)
{
    double v = 0;
    if (!r->audio_only) {
        v = r->r.bitrate_kbps * 1000.0;
        if (v <= 0) /* Source of unknown rate: a rough guess until measured */
            v = r->r.width * r->r.height * ladder_rendition_fps(&r->r) * 0.1;
    }
    if (s->ai >= 0)
        v += s->acopy && s->src->streams[s->ai].par->bit_rate > 0
                 ? (double)s->src->streams[s->ai].par->bit_rate
                 : s->o.audio_kbps * 1000.0;
    return v * 1.08; /* container overhead */
}

static int write_master(transcode_session_t *s, bool final)
{
    hls_variant_t v[LADDER_MAX_RUNGS];
    char text[8192];
    int nv = 0;

    for (int k = 0; k < s->nrend; k++) {
        const rend_t *r = &s->rend[k];
        if (r->failed)
            continue; /* players must not pick a rendition that stopped */
        int i = nv++;
        memset(&v[i], 0, sizeof(v[i]));
        snprintf(v[i].name, sizeof(v[i].name), "%s", r->r.name);
        hls_rates_t m = {.peak_bps = r->peak_bps,
                         .bytes = r->pub_bytes,
                         .seconds = r->pub_s};
        hls_rates_advertise(&m, rend_nominal_bps(s, r), final, &v[i].average,
                            &v[i].bandwidth);
        s->rend[k].adv_bps = (double)v[i].bandwidth;
        if (!r->audio_only) {
            v[i].width = r->r.width;
            v[i].height = r->r.height;
            v[i].fps = ladder_rendition_fps(&r->r);
            if (strcmp(r->vcodec, "-"))
                snprintf(v[i].video_codec, sizeof(v[i].video_codec), "%s",
                         r->vcodec);
        }
        if (s->ai >= 0)
            snprintf(v[i].audio_codec, sizeof(v[i].audio_codec), "%s",
                     s->acodec);
    }
    int n = hls_master_format(v, nv, true, text, sizeof(text));
    if (n < 0)
        return n;
    s->master_written = true;
    return put_file(s, "master.m3u8", text, (size_t)n);
}

/* Writes the master once every video rendition has a codec string. */
static int maybe_write_master(transcode_session_t *s)
{
    if (s->master_written)
        return 0;
    for (int i = 0; i < s->nrend; i++) {
        if (!s->rend[i].audio_only && !s->rend[i].failed &&
            !s->rend[i].vcodec[0])
            return 0;
    }
    return write_master(s, false);
}

/* ------------------------------------------------------------ playlists */

static void rend_rel(const rend_t *r, const char *file, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", r->r.name, file);
}

/*
 * A take-over or restart: continues the rendition's playlist where the
 * output already has one (its segments stay listed, numbering and
 * discontinuity sequence go on, its timeline is the stream's).
 */
static void continue_playlist(transcode_session_t *s, rend_t *r)
{
    char rel[160], url[1400];
    rend_rel(r, "index.m3u8", rel, sizeof(rel));
    out_path(s, rel, url, sizeof(url));
    char *text = origin_read_text(url, TEXT_MAX);
    if (!text)
        return;
    if (hls_writer_continue(r->pl, text) == 0) {
        hls_timeline_t tl = hls_writer_timeline(r->pl);
        hls_rates_t rates = hls_writer_rates(r->pl);
        if (rates.known) { /* BANDWIDTH counts the segments before too */
            r->peak_bps = rates.peak_bps;
            r->pub_bytes = rates.bytes;
            r->pub_s = rates.seconds;
        }
        if (tl.known) {
            r->resume_us = tl.end_us;
            if (!s->cont || tl.end_us < s->resume_us) {
                s->tl = tl;
                s->resume_us = tl.end_us;
            }
            s->cont = true;
        }
        log_info(MOD, "Continuing a playlist.",
                 "rendition=%s next_sequence=%lld timeline=%d end_us=%lld "
                 "offset_us=%lld",
                 r->r.name, (long long)hls_writer_next_sequence(r->pl),
                 tl.known, (long long)tl.end_us, (long long)tl.offset_us);
    }
    free(text);
}

/*
 * Before a continued rendition's first segment: reads its playlist again
 * and, when another session listed more segments since, continues from
 * that one instead (its numbers, its end as the resume point). Returns
 * whether it changed.
 */
static bool recheck_playlist(transcode_session_t *s, rend_t *r)
{
    char rel[160], url[1400];
    rend_rel(r, "index.m3u8", rel, sizeof(rel));
    out_path(s, rel, url, sizeof(url));
    char *text = origin_read_text(url, TEXT_MAX);
    hls_writer_t *w = text ? hls_writer_new(&s->wopts) : NULL;
    bool moved = false;
    if (w && hls_writer_continue(w, text) == 0 &&
        hls_writer_next_sequence(w) > hls_writer_next_sequence(r->pl)) {
        hls_timeline_t tl = hls_writer_timeline(w);
        hls_rates_t rates = hls_writer_rates(w);
        hls_writer_min_sequence(w, s->o.start_sequence);
        hls_writer_free(&r->pl);
        r->pl = w;
        w = NULL;
        if (rates.known) {
            r->peak_bps = rates.peak_bps;
            r->pub_bytes = rates.bytes;
            r->pub_s = rates.seconds;
        }
        if (tl.known && tl.end_us > r->resume_us)
            r->resume_us = tl.end_us;
        moved = true;
        log_info(MOD,
                 "Another session published more of the stream; this one "
                 "goes on after it.",
                 "rendition=%s next_sequence=%lld end_us=%lld", r->r.name,
                 (long long)hls_writer_next_sequence(r->pl),
                 (long long)r->resume_us);
    }
    hls_writer_free(&w);
    free(text);
    return moved;
}

/*
 * put_file for a file of rendition r (a segment, its playlist, its init
 * section): a local write that fails drops that rendition (rend_fail), not
 * the session, which goes on with the others. An origin's refusals stay
 * the origin policy's (every rendition shares the origin).
 */
static int rend_put(transcode_session_t *s, rend_t *r, const char *rel,
                    const void *data, size_t len)
{
    if (s->fatal || r->failed)
        return s->fatal;
    int ret = put_file(s, rel, data, len);
    if (ret < 0 && !s->http) {
        s->fatal = 0; /* put_file's, for this rendition's file only */
        char why[160];
        snprintf(why, sizeof(why), "cannot write %s: %s", rel, ERRSTR(ret));
        rend_fail(s, (int)(r - s->rend), why);
        return s->fatal;
    }
    return ret;
}

static int put_playlist(transcode_session_t *s, rend_t *r, bool endlist)
{
    size_t len;
    char *text = hls_writer_text(r->pl, endlist, &len);
    if (!text)
        return AVERROR(ENOMEM);
    char rel[160];
    rend_rel(r, "index.m3u8", rel, sizeof(rel));
    int ret = rend_put(s, r, rel, text, len);
    free(text);
    return ret;
}

static void remove_segment(transcode_session_t *s, const rend_t *r,
                           const char *uri)
{
    char rel[200], path[1400];
    rend_rel(r, uri, rel, sizeof(rel));
    out_path(s, rel, path, sizeof(path));
    if (s->http) {
        origin_send_delete(s->origin, path);
    } else if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        log_warn(MOD, "Cannot delete an old segment.",
                 "call=unlink path=\"%s\" err=\"%s\"", path, strerror(e));
    }
}

/* A segment left the live playlist: its file stays for as long as a
 * player may still load it (RFC 8216 6.2.2: the window again), then
 * goes. */
static void retire_segment(transcode_session_t *s, rend_t *r, const char *uri)
{
    int keep = s->o.list_size + 1 < GONE_MAX ? s->o.list_size + 1 : GONE_MAX;
    if (r->ngone == keep) {
        remove_segment(s, r, r->gone[0]);
        memmove(r->gone[0], r->gone[1],
                (size_t)(keep - 1) * sizeof(r->gone[0]));
        r->ngone--;
    }
    snprintf(r->gone[r->ngone++], sizeof(r->gone[0]), "%s", uri);
}

/* Writes one segment's file, then (live) the playlist that lists it. */
static int publish_segment(transcode_session_t *s, rend_t *r,
                           const uint8_t *data, size_t len, double dur,
                           int64_t end_us)
{
    char uri[64], rel[200], gone[HLS_WRITER_URI_MAX];
    long long seq = (long long)hls_writer_next_sequence(r->pl);
    snprintf(uri, sizeof(uri), "seg_%05lld.%s", seq, s->o.fmp4 ? "m4s" : "ts");
    rend_rel(r, uri, rel, sizeof(rel));
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
    hls_writer_set_timeline(r->pl, s->ts_offset_us, end_us, s->src->publish_id);
    hls_rates_t rates = {
        .peak_bps = r->peak_bps, .bytes = r->pub_bytes, .seconds = r->pub_s};
    hls_writer_set_rates(r->pl, &rates);
    /* A live master whose BANDWIDTH a segment exceeds is written again
     * with what was measured (by the session that owns the stream). */
    if (!s->o.vod && s->master_written && r->peak_bps > r->adv_bps &&
        !atomic_load(&s->keep_open) && (ret = write_master(s, true)) < 0)
        return ret;
    if (left == 1 && !s->o.vod)
        retire_segment(s, r, gone);
    /* A VOD playlist never changes: it is written once, at the end. */
    return s->o.vod ? 0 : put_playlist(s, r, false);
}

/* Whether output time T is before what rendition r continues from. */
static bool before_resume(const transcode_session_t *s, const rend_t *r,
                          int64_t t)
{
    return s->cont && r->resume_us != INT64_MIN &&
           t < r->resume_us - s->half_us;
}

/* Publishes a continued rendition's held first segment, unless another
 * session published its time meanwhile. */
static int flush_first(transcode_session_t *s, rend_t *r)
{
    int ret = 0;
    if (!r->first_data)
        return 0;
    recheck_playlist(s, r);
    if (!before_resume(s, r, r->first_start_us))
        ret = publish_segment(s, r, r->first_data, r->first_len, r->first_dur,
                              r->first_end_us);
    av_freep(&r->first_data);
    return ret;
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
    int ret = hls_segmenter_cut(r->seg, final, &data, &len);
    if (ret < 0) {
        rend_fail(s, (int)(r - s->rend), "hls_segmenter_cut failed");
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
    if (r->first_data && (ret = flush_first(s, r)) < 0) {
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
     * the first segment waits FIRST_HOLD_US, then the playlist is read
     * again before it goes out. Not after a worker died: nothing else
     * writes, and a viewer's buffer is running down meanwhile. */
    if (len && !final && !s->o.vod && s->o.continue_playlists &&
        !s->o.previous_gone && r->nseg == 0) {
        r->first_data = data;
        r->first_len = len;
        r->first_dur = dur;
        r->first_start_us = start_us;
        r->first_end_us = end_us;
        r->first_due_us = av_gettime_relative() + FIRST_HOLD_US;
        return 0;
    }
    if (!s->o.vod) {
        ret = len ? publish_segment(s, r, data, len, dur, end_us) : 0;
        av_free(data);
        return ret;
    }
    if (r->vod_data && final && len && dur < s->o.segment_s / 4) {
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

/* Whether a rendition still remuxes the source (its cuts need source
 * keyframes). */
static bool remuxing(const transcode_session_t *s)
{
    for (int i = 0; i < s->nrend; i++)
        if (s->rend[i].r.remux && !s->rend[i].failed)
            return true;
    return false;
}

/* The renditions' playlists, continued from the output's when asked. */
static int open_playlists(transcode_session_t *s)
{
    /* TARGETDURATION must hold every segment and never change. Encoded
     * renditions are cut on the grid; a remuxed Source can only be cut at
     * the source's keyframes, which real encoders place late by a frame
     * or a stall (GStreamer's flvmux after a freeze: 2.74 s segments on a
     * 2 s target), so a live ladder with a remux gets a second of room.
     * (hls.js then holds 3 s more back; the trade-off is in
     * docs/transcode.md.) */
    bool room = !s->o.vod && remuxing(s);
    s->wopts = (hls_writer_opts_t){
        .target_s = s->o.segment_s + (room ? 1.0 : 0.0),
        .window = s->o.vod ? 0 : s->o.list_size,
        .vod = s->o.vod,
        .map_uri = s->o.fmp4 ? "init.mp4" : NULL,
    };
    for (int i = 0; i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        if (!(r->pl = hls_writer_new(&s->wopts)))
            return AVERROR(ENOMEM);
        r->resume_us = INT64_MIN;
        if (s->o.continue_playlists && !s->o.vod)
            continue_playlist(s, r);
        hls_writer_min_sequence(r->pl, s->o.start_sequence);
    }
    for (int i = 0; i < s->nrend && s->cont; i++) {
        if (s->rend[i].resume_us == INT64_MIN) /* a rendition new here */
            s->rend[i].resume_us = s->resume_us;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

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
        rend_rel(r, "init.mp4", rel, sizeof(rel));
        ret = rend_put(s, r, rel, init, len);
        av_free(init);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int64_t pkt_out_us(const rend_t *r, const AVPacket *pkt)
{
    return us_of(pkt->pts, r->mux->streams[pkt->stream_index]->time_base);
}

static int seg_write(transcode_session_t *s, rend_t *r, AVPacket *pkt)
{
    /* Where the rendition ends: its video's end (the timeline goes on
     * from there), its audio's for an audio-only one. */
    AVRational tb = r->mux->streams[pkt->stream_index]->time_base;
    int64_t end = us_of(pkt->pts + pkt->duration, tb);
    if ((pkt->stream_index == r->vst || r->vst < 0) && end > r->end_out_us)
        r->end_out_us = end;
    if (r->failed)
        return s->fatal;
    if (hls_segmenter_write(r->seg, pkt) < 0) {
        rend_fail(s, (int)(r - s->rend), "hls_segmenter_write failed");
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
    int64_t out_us = us_of(in->pts, tb) + s->ts_offset_us;
    bool key = !audio && (in->flags & AV_PKT_FLAG_KEY);
    int64_t seg_us = (int64_t)(s->o.segment_s * AV_TIME_BASE);
    int ret;

    if (r->first_data && av_gettime_relative() >= r->first_due_us &&
        (ret = flush_first(s, r)) < 0)
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
    ret = 0;
    if (key) {
        if (!r->started)
            r->seg_out_us = out_us;
        ret = release_audio(s, r, out_us);
        if (ret >= 0 && r->started && r->seg_any)
            ret = rend_cut(s, r, out_us, false);
        if (before_resume(s, r, out_us)) {
            r->started = false; /* the cut found this time published */
            av_packet_free(&pkt);
            return ret;
        }
        r->started = true;
    } else if (!audio) {
        ret = release_audio(s, r, out_us);
    } else if (!r->started) {
        r->started = true;
        r->seg_out_us = out_us;
    } else if (r->seg_any && out_us >= r->seg_out_us + seg_us - 5000) {
        ret = rend_cut(s, r, out_us, false);
    }
    if (ret >= 0)
        ret = seg_write(s, r, pkt);
    if (ret >= 0 && (!audio || r->audio_only))
        r->seg_any = true;
    av_packet_free(&pkt);
    return ret;
}

/* Ends the rendition's output: its held audio, its last segment (at the
 * end of its last packet) and its playlist, ended or left open. */
static int rend_finish(transcode_session_t *s, rend_t *r, bool endlist)
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
    if (r->started)
        ret = release_audio(s, r, INT64_MAX);
    if (ret >= 0)
        ret = rend_cut(s, r, r->started ? r->end_out_us : r->seg_out_us, true);
    if (ret >= 0 && (r->nseg || hls_writer_count(r->pl)))
        ret = put_playlist(s, r, endlist);
    return ret;
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
        if (rend_finish(s, &s->rend[i], false) < 0)
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

/* Sends a packet to one rendition (rend >= 0) or, for audio, every one. */
static int emit(transcode_session_t *s, int rend, const AVPacket *pkt,
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

static int open_muxers(transcode_session_t *s)
{
    int ret;
    for (int i = 0; i < s->nrend; i++) {
        if ((ret = open_muxer(s, &s->rend[i])) < 0)
            return ret;
        if (!s->rend[i].audio_only && !s->rend[i].failed)
            s->all_mask |= 1u << i;
    }
    s->muxers_open = true;
    /* An audio-only ladder has no video codec string to wait for: its
     * master goes now (a failed PUT is logged by put_file). */
    maybe_write_master(s);
    for (int i = 0; i < s->npending; i++) {
        pending_t *p = &s->pending[i];
        ret = emit(s, p->rend, p->pkt, p->pkt->time_base, p->audio);
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

/* ------------------------------------------------------------- segments */

static void stats_add(transcode_session_t *s, int64_t *field, int64_t n)
{
    pthread_mutex_lock(&s->stats_lock);
    *field += n;
    pthread_mutex_unlock(&s->stats_lock);
}

/* A video rendition wrote a keyframe at pts (source time base). */
static void boundary_reached(transcode_session_t *s, int rend, int64_t pts)
{
    for (int64_t k = s->bnd_tail; k < s->bnd_head; k++) {
        boundary_t *b = &s->bnd[k % BND_RING];
        if (b->pts == pts)
            b->reached |= 1u << rend;
    }
    while (s->bnd_tail < s->bnd_head &&
           (s->bnd[s->bnd_tail % BND_RING].reached & s->all_mask) ==
               s->all_mask) {
        boundary_t *b = &s->bnd[s->bnd_tail % BND_RING];
        if (s->have_prev_done && s->o.on_segment) {
            transcode_segment_t seg = {
                .index = s->seg_index,
                .start_s = us_of(s->prev_done_pts, s->vtb) / 1e6,
                .duration_s = us_of(b->pts - s->prev_done_pts, s->vtb) / 1e6,
                .lag_s = (av_gettime_relative() - b->read_us) / 1e6,
            };
            s->o.on_segment(s->o.opaque, &seg);
        }
        if (s->have_prev_done) {
            s->seg_index++;
            stats_add(s, &s->st.segments, 1);
        }
        s->have_prev_done = true;
        s->prev_done_pts = b->pts;
        s->bnd_tail++;
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
static void rend_fail(transcode_session_t *s, int i, const char *reason)
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
        boundary_reached(s, i, AV_NOPTS_VALUE);
    }
    if (s->master_written)
        write_master(s, false);
}

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
    maybe_write_master(s);
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
            rend_fail(s, i, why);
            ret = s->fatal;
            break;
        }
        if (!pkt->duration)
            pkt->duration = av_rescale_q(
                1, (AVRational){r->r.fps_den, r->r.fps_num}, r->enc->time_base);
        note_codec(s, r, pkt, r->enc->codec_id);
        if (pkt->flags & AV_PKT_FLAG_KEY)
            boundary_reached(s, i, pkt->pts);
        ret = emit(s, i, pkt, r->enc->time_base, false);
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
        rend_fail(s, i, why);
        return s->fatal;
    }
    if (frame) {
        r->frames++;
        stats_add(s, &s->st.frames_encoded, 1);
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
            rend_fail(s, i, why);
            if (s->fatal)
                return s->backend == HWPLAN_SOFTWARE ? ret : -ENODEV;
        }
    }
    s->encoders_open = true;
    return 0;
}

/* ------------------------------------------------------------ thumbnail */

static void thumbnail(transcode_session_t *s, const AVFrame *in)
{
    AVFrame *sw = NULL, *yuv = NULL;
    AVPacket *pkt = NULL;
    const AVFrame *f = in;
    int ret;

    if (in->hw_frames_ctx) {
        sw = av_frame_alloc();
        if (!sw || av_hwframe_transfer_data(sw, in, 0) < 0)
            goto end;
        f = sw;
    }
    if (!s->jpeg) {
        const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
        if (!c || !(s->jpeg = avcodec_alloc_context3(c)))
            goto end;
        s->jpeg->width = f->width;
        s->jpeg->height = f->height;
        s->jpeg->pix_fmt = AV_PIX_FMT_YUVJ420P;
        s->jpeg->time_base = (AVRational){1, 1};
        s->jpeg->flags |= AV_CODEC_FLAG_QSCALE;
        s->jpeg->global_quality = FF_QP2LAMBDA * 4;
        if ((ret = avcodec_open2(s->jpeg, c, NULL)) < 0) {
            log_warn(MOD, "Cannot open the thumbnail encoder.",
                     "call=avcodec_open2 err=\"%s\"", ERRSTR(ret));
            avcodec_free_context(&s->jpeg);
            s->o.thumbnail_s = 0;
            goto end;
        }
    }
    yuv = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!yuv || !pkt)
        goto end;
    yuv->width = s->jpeg->width;
    yuv->height = s->jpeg->height;
    yuv->format = AV_PIX_FMT_YUVJ420P;
    if (av_frame_get_buffer(yuv, 0) < 0)
        goto end;
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format,
                                  yuv->width, yuv->height, yuv->format,
                                  SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws)
        goto end;
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0,
              f->height, yuv->data, yuv->linesize);
    yuv->pts = s->thumbs++;
    if (avcodec_send_frame(s->jpeg, yuv) < 0 ||
        avcodec_receive_packet(s->jpeg, pkt) < 0)
        goto end;
    put_file(s, "thumb.jpg", pkt->data, (size_t)pkt->size);
end:
    av_packet_free(&pkt);
    av_frame_free(&yuv);
    av_frame_free(&sw);
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
            int64_t pts_us = us_of(f->pts, s->vtb);
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
            if ((ret = open_muxers(s)) < 0)
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

static void count_corrupt(transcode_session_t *s, const char *what, int err)
{
    pthread_mutex_lock(&s->stats_lock);
    int64_t n = ++s->st.corrupt;
    pthread_mutex_unlock(&s->stats_lock);
    s->skip_to_key = true;
    if (n <= 10)
        log_warn(MOD, "Corrupt input; skipping to the next keyframe.",
                 "what=%s err=\"%s\" corrupt=%lld", what, ERRSTR(err),
                 (long long)n);
}

static void media_time(transcode_session_t *s, int64_t us)
{
    pthread_mutex_lock(&s->stats_lock);
    if (!s->have_media) {
        s->first_media_us = us;
        s->media_wall_us = av_gettime_relative();
        s->have_media = true;
    }
    if (us > s->last_media_us)
        s->last_media_us = us;
    pthread_mutex_unlock(&s->stats_lock);
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
            count_corrupt(s, "video_packet", ret);
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
            count_corrupt(s, "video_frame", ret);
            ret = 0;
            continue;
        }
        if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
            count_corrupt(s, "video_frame", AVERROR_INVALIDDATA);
            av_frame_unref(f);
            continue;
        }
        f->pts = f->best_effort_timestamp;
        if (f->pts == AV_NOPTS_VALUE) {
            av_frame_unref(f);
            continue;
        }
        stats_add(s, &s->st.frames_decoded, 1);
        media_time(s, us_of(f->pts, s->vtb));
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
    int64_t out = us_of(pts, tb) + s->ts_offset_us;
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
        count_corrupt(s, "packet_flag", AVERROR_INVALIDDATA);
        return 0;
    }
    if (s->skip_to_key && !key) {
        stats_add(s, &s->st.skipped_packets, 1);
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
        } else if (!remuxing(s)) {
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
            boundary_reached(s, i, copy->pts);
        if (copy->pts != AV_NOPTS_VALUE && !s->nencoded)
            media_time(s, us_of(copy->pts, s->vtb));
        ret = emit(s, i, copy, s->vtb, false);
        av_packet_free(&copy);
        if (ret < 0)
            return ret;
    }
    if (!s->vdec)
        return 0;
    return decode_video(s, pkt);
}

/* ---------------------------------------------------------------- audio */

static int drain_audio_encoder(transcode_session_t *s)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;
    if (!pkt)
        return AVERROR(ENOMEM);
    for (;;) {
        ret = avcodec_receive_packet(s->aenc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            log_error(MOD, "The audio encoder failed.",
                      "call=avcodec_receive_packet err=\"%s\"", ERRSTR(ret));
            break;
        }
        ret = emit(s, -1, pkt, s->aenc->time_base, true);
        av_packet_unref(pkt);
        if (ret < 0)
            break;
    }
    av_packet_free(&pkt);
    return ret;
}

static int configure_agraph(transcode_session_t *s, const AVFrame *f)
{
    char args[512], layout[128], outl[64];
    int ret;

    s->agraph = avfilter_graph_alloc();
    if (!s->agraph)
        return AVERROR(ENOMEM);
    AVChannelLayout cl;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&cl, f->ch_layout.nb_channels);
    else
        av_channel_layout_copy(&cl, &f->ch_layout);
    av_channel_layout_describe(&cl, layout, sizeof(layout));
    av_channel_layout_uninit(&cl);
    av_channel_layout_describe(&s->aenc->ch_layout, outl, sizeof(outl));
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             s->atb.num, s->atb.den, f->sample_rate,
             av_get_sample_fmt_name(f->format), layout);
    ret =
        avfilter_graph_create_filter(&s->absrc, avfilter_get_by_name("abuffer"),
                                     "ain", args, NULL, s->agraph);
    if (ret < 0)
        goto end;
    ret = avfilter_graph_create_filter(&s->asink,
                                       avfilter_get_by_name("abuffersink"),
                                       "aout", NULL, NULL, s->agraph);
    if (ret < 0)
        goto end;
    AVFilterContext *res, *fmt;
    snprintf(args, sizeof(args),
             "sample_fmts=fltp:sample_rates=%d:"
             "channel_layouts=%s",
             s->aenc->sample_rate, outl);
    if ((ret = avfilter_graph_create_filter(
             &res, avfilter_get_by_name("aresample"), "ares", "async=1", NULL,
             s->agraph)) < 0 ||
        (ret =
             avfilter_graph_create_filter(&fmt, avfilter_get_by_name("aformat"),
                                          "afmt", args, NULL, s->agraph)) < 0)
        goto end;
    if ((ret = avfilter_link(s->absrc, 0, res, 0)) < 0 ||
        (ret = avfilter_link(res, 0, fmt, 0)) < 0 ||
        (ret = avfilter_link(fmt, 0, s->asink, 0)) < 0)
        goto end;
    ret = avfilter_graph_config(s->agraph, NULL);
    if (ret < 0)
        goto end;
    av_buffersink_set_frame_size(s->asink, (unsigned)s->aenc->frame_size);
end:
    if (ret < 0)
        log_error(MOD, "Cannot build the audio filter graph.",
                  "call=avfilter_graph_config args=\"%s\" err=\"%s\"", args,
                  ERRSTR(ret));
    return ret;
}

static int pull_audio(transcode_session_t *s)
{
    AVFrame *f = av_frame_alloc();
    int ret = 0;
    if (!f)
        return AVERROR(ENOMEM);
    for (;;) {
        ret = av_buffersink_get_frame(s->asink, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0)
            break;
        ret = avcodec_send_frame(s->aenc, f);
        av_frame_unref(f);
        if (ret < 0) {
            log_error(MOD, "The audio encoder refused a frame.",
                      "call=avcodec_send_frame err=\"%s\"", ERRSTR(ret));
            break;
        }
        if ((ret = drain_audio_encoder(s)) < 0)
            break;
    }
    av_frame_free(&f);
    return ret;
}

static int handle_audio(transcode_session_t *s, const AVPacket *pkt)
{
    if (pkt && pkt->pts != AV_NOPTS_VALUE && s->vi < 0)
        media_time(s, us_of(pkt->pts, s->atb));
    if (s->cont && s->vi < 0 && !s->have_first &&
        (!pkt || pkt->pts == AV_NOPTS_VALUE ||
         !resume_here(s, pkt->pts, s->atb, 25000)))
        return 0; /* an audio-only stream's published part */
    if (s->acopy)
        return emit(s, -1, pkt, s->atb, true);
    AVFrame *f = av_frame_alloc();
    int ret;
    if (!f)
        return AVERROR(ENOMEM);
    ret = avcodec_send_packet(s->adec, pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
        count_corrupt(s, "audio_packet", ret);
        s->skip_to_key = s->vi >= 0; /* audio has no keyframes to wait for */
        ret = 0;
        goto end;
    }
    for (;;) {
        ret = avcodec_receive_frame(s->adec, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            count_corrupt(s, "audio_frame", ret);
            ret = 0;
            break;
        }
        f->pts = f->best_effort_timestamp;
        if (!s->agraph && (ret = configure_agraph(s, f)) < 0)
            break;
        ret = av_buffersrc_add_frame_flags(s->absrc, f, 0);
        av_frame_unref(f);
        if (ret < 0) {
            log_error(MOD, "The audio filter refused a frame.",
                      "call=av_buffersrc_add_frame_flags err=\"%s\"",
                      ERRSTR(ret));
            break;
        }
        if ((ret = pull_audio(s)) < 0)
            break;
    }
end:
    av_frame_free(&f);
    return ret;
}

static int open_audio(transcode_session_t *s)
{
    const AVCodecParameters *par = s->src->streams[s->ai].par;
    int ret;

    s->atb = s->src->streams[s->ai].time_base;
    /* ADTS AAC (no extradata) cannot go into fMP4 as is: re-encode it. */
    if (par->codec_id == AV_CODEC_ID_AAC &&
        (!s->o.fmp4 || par->extradata_size > 0)) {
        s->acopy = true;
        hls_codec_aac(par->profile, s->acodec, sizeof(s->acodec));
        return 0;
    }
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!dec)
        return AVERROR_DECODER_NOT_FOUND; /* check_codecs said why */
    if (!enc) {
        log_error(MOD, "This FFmpeg has no AAC encoder.",
                  "call=avcodec_find_encoder input=\"%s\"", s->src->name);
        return AVERROR_ENCODER_NOT_FOUND;
    }
    s->adec = avcodec_alloc_context3(dec);
    s->aenc = avcodec_alloc_context3(enc);
    if (!s->adec || !s->aenc)
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(s->adec, par)) < 0)
        return ret;
    s->adec->pkt_timebase = s->atb;
    if ((ret = avcodec_open2(s->adec, dec, NULL)) < 0) {
        log_error(MOD, "Cannot open the audio decoder.",
                  "call=avcodec_open2 codec=%s err=\"%s\"", dec->name,
                  ERRSTR(ret));
        return ret;
    }
    static const int rates[] = {48000, 44100, 32000, 24000, 22050, 16000};
    int rate = 48000;
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (par->sample_rate == rates[i])
            rate = rates[i];
    }
    int ch = par->ch_layout.nb_channels >= 2 ? 2 : 1;
    av_channel_layout_default(&s->aenc->ch_layout, ch);
    s->aenc->sample_rate = rate;
    s->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    s->aenc->bit_rate = (int64_t)s->o.audio_kbps * 1000 * ch / 2;
    s->aenc->time_base = (AVRational){1, rate};
    s->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(s->aenc, enc, NULL)) < 0) {
        log_error(MOD, "Cannot open the AAC encoder.",
                  "call=avcodec_open2 err=\"%s\"", ERRSTR(ret));
        return ret;
    }
    hls_codec_aac(s->aenc->profile >= 0 ? s->aenc->profile : 1, s->acodec,
                  sizeof(s->acodec));
    return 0;
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
        return AVERROR_DECODER_NOT_FOUND; /* check_codecs said why */
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

/* ----------------------------------------------------------- the ladder */

/*
 * Refuses, before anything is planned or written, an input whose video or
 * audio codec this FFmpeg build cannot decode (AVS2, AVS3 or VVC in
 * Debian 12's, or a codec the demuxer does not know at all). Copied AAC
 * audio needs no decoder. One error line names the stream, the codec and
 * the container's codec tag where it has one.
 */
static int check_codecs(const transcode_session_t *s)
{
    const int idx[2] = {s->vi, s->ai};
    for (int k = 0; k < 2; k++) {
        if (idx[k] < 0)
            continue;
        const AVCodecParameters *par = s->src->streams[idx[k]].par;
        if (k == 1 && par->codec_id == AV_CODEC_ID_AAC)
            continue; /* copied, or decoded by the native AAC decoder */
        if (avcodec_find_decoder(par->codec_id))
            continue;
        char tag[AV_FOURCC_MAX_STRING_SIZE] = "none";
        if (par->codec_tag)
            av_fourcc_make_string(tag, par->codec_tag);
        log_error(MOD,
                  k == 0 ? "Unsupported video codec: this FFmpeg has no "
                           "decoder for it."
                         : "Unsupported audio codec: this FFmpeg has no "
                           "decoder for it.",
                  "codec=%s tag=\"%s\" stream=%d input=\"%s\"",
                  par->codec_id == AV_CODEC_ID_NONE
                      ? "unknown"
                      : avcodec_get_name(par->codec_id),
                  tag, idx[k], s->src->name);
        return AVERROR_DECODER_NOT_FOUND;
    }
    return 0;
}

static bool remux_ok(const transcode_session_t *s, const AVCodecParameters *par)
{
    enum AVCodecID id = par->codec_id;
    /* Browsers play H.264 up to High (8-bit 4:2:0): a High 10, 4:2:2 or
     * 4:4:4 source is not remuxed (the encoded renditions are 4:2:0). */
    int idc = par->profile == FF_PROFILE_UNKNOWN ? 0 : par->profile & 0xff;
    if (id == AV_CODEC_ID_H264 && (idc == 44 || idc > 100))
        return false;
    return id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC ||
           (id == AV_CODEC_ID_AV1 && s->o.fmp4);
}

static int build_ladder(transcode_session_t *s)
{
    if (s->vi < 0) {
        rend_t *r = &s->rend[0];
        memset(r, 0, sizeof(*r));
        snprintf(r->r.name, sizeof(r->r.name), "audio");
        r->audio_only = true;
        r->size = -1;
        s->nrend = 1;
        return 0;
    }
    const packet_source_stream_t *vs = &s->src->streams[s->vi];
    ladder_source_t src = {
        .width = vs->par->width,
        .height = vs->par->height,
        .fps_num = vs->frame_rate.num,
        .fps_den = vs->frame_rate.den,
        .sar_num = vs->par->sample_aspect_ratio.num,
        .sar_den = vs->par->sample_aspect_ratio.den,
        .bitrate_kbps = (int)(vs->par->bit_rate / 1000),
    };
    if (src.fps_num <= 0 || src.fps_den <= 0)
        src.fps_num = src.fps_den = 0;
    int ret = ladder_apply(&s->profile, &src, &s->ladder);
    if (ret < 0) {
        log_error(MOD, "The source has no usable video size.",
                  "input=\"%s\" size=%dx%d", s->src->name, src.width,
                  src.height);
        return AVERROR_INVALIDDATA;
    }
    ladder_t kept = {0};
    for (int i = 0; i < s->ladder.n; i++) {
        if (s->ladder.r[i].remux && !remux_ok(s, vs->par)) {
            const char *prof =
                avcodec_profile_name(vs->par->codec_id, vs->par->profile);
            log_warn(MOD,
                     "The Source rendition is left out: its codec "
                     "cannot be remuxed to HLS.",
                     "codec=%s profile=\"%s\"",
                     avcodec_get_name(vs->par->codec_id), prof ? prof : "");
            continue;
        }
        if (s->ladder.r[i].codec == LADDER_CODEC_AV1 && !s->o.fmp4) {
            log_warn(MOD,
                     "An AV1 rendition is left out: AV1 needs fMP4 "
                     "segments (--format fmp4).",
                     "rendition=%s", s->ladder.r[i].name);
            continue;
        }
        kept.r[kept.n++] = s->ladder.r[i];
    }
    s->ladder = kept;
    if (!s->ladder.n) {
        log_error(MOD, "The ladder has no rendition for this source.",
                  "input=\"%s\"", s->src->name);
        return AVERROR_INVALIDDATA;
    }
    s->nrend = s->ladder.n;
    for (int i = 0; i < s->nrend; i++) {
        s->rend[i].r = s->ladder.r[i];
        s->rend[i].size = -1;
        s->nencoded += !s->ladder.r[i].remux;
    }
    return 0;
}

static int plan_session(transcode_session_t *s)
{
    hwplan_devices_t none = {0};
    const hwplan_devices_t *dev = s->o.devices ? s->o.devices : &none;
    char why[512];
    unsigned codecs = 0;

    for (int i = 0; i < s->ladder.n; i++) {
        if (!s->ladder.r[i].remux)
            codecs |= 1u << s->ladder.r[i].codec;
    }
    int b = hwplan_pick_backend(s->o.backend, dev, codecs, why, sizeof(why));
    if (b < 0) {
        log_error(MOD, "The requested backend cannot run here.",
                  "backend=%s reason=\"%s\"", hwplan_backend_name(s->o.backend),
                  why);
        return -ENODEV;
    }
    s->backend = (hwplan_backend_t)b;
    if (s->o.backend == HWPLAN_AUTO)
        log_info(MOD, "Backend chosen.", "backend=%s reason=\"%s\"",
                 hwplan_backend_name(s->backend), why);
    if (s->vi < 0)
        return 0;
    hwplan_encode_t enc = {
        .segment_s = s->o.segment_s,
        .live = !s->o.vod,
        .bframes = s->o.bframes,
        .preset = s->o.preset,
        /* A CUDA device without a working NVDEC still encodes: decode on
         * the CPU and upload. */
        .sw_decode = s->backend == HWPLAN_NVENC && !dev->nvdec,
    };
    const char *codec = avcodec_get_name(s->src->streams[s->vi].par->codec_id);
    int ret = hwplan_build(s->backend, &s->ladder, codec, &enc, &s->plan, why,
                           sizeof(why));
    if (ret < 0) {
        log_error(MOD, "Cannot plan the session.", "backend=%s reason=\"%s\"",
                  hwplan_backend_name(s->backend), why);
        return ret == -ENOSYS ? AVERROR_ENCODER_NOT_FOUND : ret;
    }
    for (int i = 0; i < s->nrend; i++) {
        s->rend[i].pe = &s->plan.enc[i];
        s->rend[i].size = s->plan.enc[i].size;
    }
    /* The thumbnail comes from the smallest size at least 180 lines high. */
    s->thumb_size = s->plan.nsizes ? 0 : -1;
    for (int k = 0; k < s->plan.nsizes; k++) {
        if (s->plan.sizes[k].height >= 180)
            s->thumb_size = k;
    }
    log_debug(MOD, "Filter graph planned.", "graph=\"%s\"", s->plan.graph);
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
    int64_t us = us_of(pkt->dts, tb) + s->disc_us;
    if (s->have_last_dts[k] && (us < s->last_dts_us[k] - DISC_BACK_US ||
                                us > s->last_dts_us[k] + DISC_JUMP_US)) {
        int64_t step = pkt->duration > 0 ? us_of(pkt->duration, tb)
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
        stats_add(s, &s->st.packets_in, 1);
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
        if (s->agraph) {
            if ((ret = av_buffersrc_add_frame(s->absrc, NULL)) < 0 ||
                (ret = pull_audio(s)) < 0)
                return ret;
        }
        if ((ret = avcodec_send_frame(s->aenc, NULL)) < 0 ||
            (ret = drain_audio_encoder(s)) < 0)
            return ret;
    }
    return 0;
}

int transcode_session_run(transcode_session_t *s)
{
    AVPacket *pkt = NULL;
    int ret;

    s->start_us = av_gettime_relative();
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
        s->half_us = us_of(s->half_frame, s->vtb);
    }
    if ((ret = check_codecs(s)) < 0 || (ret = build_ladder(s)) < 0 ||
        (ret = plan_session(s)) < 0 || (ret = prepare_output(s)) < 0 ||
        (ret = open_playlists(s)) < 0)
        return ret;
    if (s->ai >= 0 && (ret = open_audio(s)) < 0)
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
    if (!s->nencoded && (ret = open_muxers(s)) < 0)
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
            s->ts_offset_us =
                s->cont ? s->tl.offset_us : TS_OFFSET - us_of(pkt->dts, tb);
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
    /* A live stream's playlists end (EXT-X-ENDLIST) only when the stream
     * does: not when another session continues them (a take-over, or a
     * restart after this one failed). */
    bool endlist = s->o.vod || (ret >= 0 && !atomic_load(&s->keep_open));
    for (int i = 0; i < s->nrend && s->muxers_open; i++) {
        int r = rend_finish(s, &s->rend[i], endlist);
        if (r < 0 && ret >= 0)
            ret = r;
    }
    /* The final master (measured rates), when the stream ends here: a
     * session that another continues leaves it to that one (an older
     * copy, with fewer segments measured or another set of renditions,
     * would overwrite the newer). */
    if (s->muxers_open && ret >= 0 && endlist) {
        int r = write_master(s, true);
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
