/* The transcode session's insides, shared by its own files only. */
#ifndef PRISM_TRANSCODE_INT_H
#define PRISM_TRANSCODE_INT_H

/*
 * transcode.c (the session), hls_output.c (its HLS output),
 * transcode_video.c (its video), transcode_audio.c (its audio), thumbnail.c,
 * transcode_plan.c and transcode_util.c include this header; nothing else in
 * the worker does: agent.c and main.c see only transcode.h. Every field belongs
 * to the session thread unless its comment says otherwise (stats_lock guards
 * st, q and the media times that transcode_session_stats and _stop read from
 * other threads).
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>

#include "hls_segmenter.h"
#include "hls_writer.h"
#include "pkt_queue.h"
#include "rate_window.h"
#include "segment_align.h"
#include "transcode.h"

#define MAX_PENDING 4096
#define HOLD_MAX    512 /* audio packets held per rendition (~10 s) */
#define GONE_MAX    66  /* old segments waiting for their DELETE */
#define DATES_MAX   16  /* segment dates kept (hls_parts.c) */

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
    int gone_parts[GONE_MAX];                /* with their parts, */
    int ngone;                               /* deleted later */
    /* Low-Latency HLS: the current part began at part_out_us (with a
     * keyframe when part_indep) and has had a packet when part_any; the
     * current segment's parts are published when parts_ok. */
    int64_t part_out_us, part_delay_us; /* the keyframe's pts - dts */
    bool part_indep, part_any, parts_ok;
    /* The last video frame, written when the next one says where it ends
     * (hls_output.c place_video): its output time and its place in
     * decode order (dts + part_delay_us). */
    AVPacket *vnext;
    int64_t vnext_out_us, vnext_at_us;
    double pub_s;            /* duration of the segments published */
    int64_t pub_bytes;       /* and their bytes */
    segment_align_sel_t sel; /* its frame selection */
    char vcodec[48];
    char prev_vcodec[48]; /* the video codec the master it continued lists */
    double peak_bps;      /* the highest segment bit rate published */
    double adv_bps;       /* the BANDWIDTH the master says */
    int64_t frames;
    bool failed;    /* dropped by hls_output_rend_fail: skipped from then on */
    bool finished;  /* last segment out (held for a reconnect) */
    bool continued; /* its playlist continues one another session wrote */
    bool yielded;   /* handed over: another session lists its segments now */
} rend_t;

typedef struct {
    AVPacket *pkt;
    int rend; /* -1: every rendition (audio) */
    bool audio;
} pending_t;

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
    int g_w, g_h, g_fmt; /* what the graph was built for (g_fmt: the pixels'
                            format, inside device frames for those) */
    bool g_device;       /* ... and whether from device frames */
    int decode_errors;   /* video decode errors since the last good frame */
    bool sw_fallback;    /* the hardware decoder declined: CPU decode */
    AVFilterGraph *agraph;
    AVFilterContext *absrc, *asink;

    rend_t rend[LADDER_MAX_RUNGS];
    int nrend;
    int nencoded;
    bool encoders_open, muxers_open, master_written;
    pending_t pending[MAX_PENDING];
    int npending;
    int64_t pending_dropped;

    segment_align_t align;    /* the boundary grid (source video tb) */
    segment_align_ring_t bnd; /* boundaries not every rendition reached */
    uint32_t all_mask;        /* the video renditions boundaries wait for */
    int64_t seg_index;
    bool have_prev_done;
    int64_t prev_done_pts;
    bool skip_to_key;

    int64_t ts_offset_us;
    bool have_offset;
    /* Continuing another session's playlists: their timeline (offset and
     * where the published media ends, resume_us: the earliest end over
     * the renditions); nothing is written before the first boundary,
     * which lands on resume_us. */
    bool cont;
    hls_writer_opts_t wopts; /* every rendition's playlist options */
    char tag[12];            /* this session's file names (hls_parts.h) */
    char init_uri[HLS_WRITER_URI_MAX]; /* its fMP4 init segment */
    struct {
        int64_t out_us, unix_us;
    } dates[DATES_MAX]; /* hls_parts_note_date */
    int ndates, date_next;
    hls_timeline_t tl;
    int64_t resume_us;
    bool have_first;
    int64_t first_pts;      /* of the first packet written, source time base */
    int64_t last_frame_pts; /* the last decoded frame's, INT64_MIN */
    int64_t half_us;        /* half a video frame, microseconds */
    segment_align_disc_t disc; /* shift added for input discontinuities */
    int64_t first_media_us, last_media_us;
    int64_t media_wall_us;             /* wall time of the first media */
    int64_t win_wall_us, win_media_us; /* speed window start */
    rate_window_t rates;               /* under stats_lock: the 10 s rates */
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
    atomic_bool keep_open;   /* no EXT-X-ENDLIST: the stream moves on */
    atomic_bool handed_over; /* another session owns the playlists now */
    atomic_bool abandoned;   /* ... and this one writes nothing more */
    atomic_int reader_err;

    pthread_mutex_t stats_lock;
    transcode_stats_t st;
    int64_t start_us, last_progress_us;
    int fatal;
};

/* Helpers every file of the session uses (transcode_util.c). */

/* TS in time base TB, in microseconds. */
int64_t transcode_us_of(int64_t ts, AVRational tb);

/* FFmpeg's text for ERR, written into BUF (LEN bytes), which it returns. */
const char *transcode_err_text(int err, char *buf, size_t len);
#define ERRSTR(e)                                                              \
    transcode_err_text((e), (char[AV_ERROR_MAX_STRING_SIZE]){0}, 64)

/* Adds N to *FIELD, a counter in s->st, under the stats lock. */
void transcode_stats_add(transcode_session_t *s, int64_t *field, int64_t n);

/* Counts corrupt input (WHAT: where it was found, ERR: the decoder's
 * code), logs the first ten, and skips the video to its next keyframe. */
void transcode_count_corrupt(transcode_session_t *s, const char *what, int err);

/* Notes media time US (microseconds, source time) for the stats. */
void transcode_media_time(transcode_session_t *s, int64_t us);

/* Whether a rendition still remuxes the source (its cuts need source
 * keyframes). */
bool transcode_remuxing(const transcode_session_t *s);

#endif
