/* Transcode session: one input to an aligned HLS ABR ladder. */
#ifndef PRISM_TRANSCODE_H
#define PRISM_TRANSCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "hwplan.h"
#include "ladder.h"
#include "origin.h"
#include "packet_source.h"

/* Default of transcode_opts_t.max_decode_errors. */
#define TRANSCODE_MAX_DECODE_ERRORS 10

typedef struct transcode_session transcode_session_t;

/* A segment boundary that every video rendition has reached. */
typedef struct {
    int64_t index;     /* 0, 1, ... in the order segments complete */
    double start_s;    /* source time of the segment's first frame */
    double duration_s; /* up to the next boundary */
    double lag_s;      /* wall time from reading the boundary's packet to
                          every rendition having encoded it */
} transcode_segment_t;

/* Session options; transcode_opts_default() fills the defaults. */
typedef struct {
    char output[1024];        /* a directory, or an http(s):// origin URL */
    hwplan_backend_t backend; /* auto resolves through `devices` */
    const hwplan_devices_t *devices; /* what the probe found; borrowed */
    char device[256]; /* VAAPI render node or CUDA index; "" = default */
    double segment_s; /* target segment duration and keyframe interval */
    bool fmp4;        /* fMP4 segments instead of MPEG-TS */
    /* Low-Latency HLS (live fMP4 only): each segment is made of parts of
     * at most this many seconds, published as each completes, with an
     * LL-HLS playlist (hls_writer.h) after each; 0 = none. */
    double part_s;
    bool vod;           /* VOD playlists (whole file) instead of live */
    int list_size;      /* live sliding window, segments */
    const char *preset; /* x264 preset; NULL = veryfast */
    int bframes;        /* -1 = mode default (live 0, VOD 3) */
    int audio_kbps;     /* AAC bitrate when audio is re-encoded */
    double thumbnail_s; /* JPEG thumbnail interval; 0 = none */
    int queue_packets;  /* bound of the input packet queue */
    /* Video decode errors in a row (no good frame between them) that end
     * the session with the reason; 0 = never. Each error skips the input
     * to the next keyframe, so the default is that many GOPs. */
    int max_decode_errors;
    bool progress; /* a progress line on stderr (a terminal) */
    /* Continuing playlists another session began (a take-over, a restart):
     * the lowest media sequence number the first new segment may have
     * (segments are numbered from it too) and whether it is marked
     * EXT-X-DISCONTINUITY. */
    int64_t start_sequence;
    bool discontinuity;
    /* Live: read each rendition's playlist from the output first and
     * continue it (its segments, sequence numbers and timeline; the
     * first new segment is a discontinuity and its timestamps follow on
     * from the last published segment; see docs/transcode.md). */
    bool continue_playlists;
    /* With continue_playlists: no other session can still be finishing
     * the stream (its worker died), so a continued rendition's first
     * segment goes out at once instead of waiting a second to read the
     * playlist again. */
    bool previous_gone;
    /* Live: when the input ends by itself (not transcode_session_stop),
     * the last segments are published at once, but the playlists wait up
     * to this long (0: not at all) for transcode_session_stop (then they
     * end with EXT-X-ENDLIST) or transcode_session_continues_elsewhere
     * (they stay open): a publisher that reconnects continues them. */
    int end_wait_ms;
    /* An http(s):// output: request timeout, and when refused PUTs end
     * the session (see origin.h). */
    origin_policy_t origin;
    /* Called on the session thread as each segment completes; may be NULL. */
    void (*on_segment)(void *opaque, const transcode_segment_t *seg);
    void *opaque;
} transcode_opts_t;

/* A rendition dropped from a running session after a failure of its own. */
typedef struct {
    char name[32];    /* "source", "720p30", ... */
    char reason[160]; /* the failing call and the library's error text */
} transcode_rend_failure_t;

/* Counters; read at any time with transcode_session_stats(). */
typedef struct {
    int64_t packets_in;       /* packets read from the source */
    int64_t frames_decoded;   /* video frames out of the decoder */
    int64_t frames_encoded;   /* summed over renditions */
    int64_t frames_unordered; /* decoded frames retimed: time not after */
    int64_t frames_filled;    /* copies encoded into gaps (all renditions) */
    int64_t corrupt;          /* decode errors and corrupt packets, each
                                 followed by a skip to the next keyframe */
    int64_t skipped_packets;  /* packets skipped while waiting for one */
    int64_t dropped_packets;  /* queue overflow drops (live input only) */
    int64_t segments;         /* completed segment boundaries */
    double media_s;           /* source time processed */
    double wall_s;            /* since the session started */
    double speed;             /* media_s / wall_s */
    double fps;               /* decoded video frames per wall second */
    /* The last 10 s (rate_window.h): speed, decoded (in) and encoded (out,
     * all renditions) frames a second; 0 until there is a window. */
    double speed_10s;
    double fps_in_10s;
    double fps_out_10s;
    double encode_latency_s; /* the last segment's lag_s; 0 before one */
    int queue_depth;         /* packets waiting in the input queue */
    int renditions;          /* outputs, Source and audio-only included */
    origin_stats_t origin;   /* an http(s):// output's PUTs and DELETEs */
    bool master_out; /* the master is on the origin (or written: a dir) */
    hwplan_backend_t backend;
    /* Renditions dropped after a failure of their own (an encoder, the
     * Source remux, their output); the others went on. */
    int nfailed;
    transcode_rend_failure_t failed[LADDER_MAX_RUNGS];
    /* Why the session ended with an error; "" while it has not. */
    char error[256];
} transcode_stats_t;

void transcode_opts_default(transcode_opts_t *o);

/*
 * Creates a session for an opened source (taken: freed with the session,
 * also on failure) and a ladder profile (copied). Nothing runs yet.
 * Returns NULL and logs one line when the options are unusable.
 */
transcode_session_t *transcode_session_new(packet_source_t *src,
                                           const ladder_profile_t *profile,
                                           const transcode_opts_t *opts);

/*
 * Runs the session on the calling thread until the input ends, stop() is
 * called, or a fatal error occurs (logged once). A rendition that fails on
 * its own (its encoder, the Source remux, its output) is dropped and
 * listed in the stats' failed[]; the others go on, and only a failure of
 * the decoder, of what all renditions share, or of every rendition ends
 * the session (the stats' error says why). Returns 0, or a negative
 * AVERROR / -errno (-ENODEV: the backend's device is missing; -EIO: the
 * output cannot be written, or an origin refuses it past its policy;
 * AVERROR_DECODER_NOT_FOUND: unsupported codec; AVERROR_STREAM_NOT_FOUND: no
 * audio or video).
 */
int transcode_session_run(transcode_session_t *s);

/* Asks a running session to finish soon: input still queued is dropped,
 * the encoders' delayed frames and the last segments go out; any
 * thread. */
void transcode_session_stop(transcode_session_t *s);

/*
 * The stream goes on elsewhere (another worker continues its playlists):
 * when this session ends, its live playlists are left open, without
 * EXT-X-ENDLIST, so that players keep reloading until the new worker's
 * next segment. Any thread, before or after transcode_session_stop.
 */
void transcode_session_continues_elsewhere(transcode_session_t *s);

/*
 * The stream was placed elsewhere while this worker was fenced (fence.h):
 * another worker writes its playlists now, so this session writes nothing
 * more, not even its last segments, and what waits in its upload queue is
 * dropped at once (origin_discard). Any thread; then stop the session.
 */
void transcode_session_abandon(transcode_session_t *s);

/*
 * The worker goes away, not the stream: as continues_elsewhere, the live
 * playlists are left open, but no other session runs yet (the coordinator
 * places the stream again once it misses this worker), so until it ends
 * this one still rewrites the master when a segment exceeds its
 * BANDWIDTH. Any thread.
 */
void transcode_session_leave_open(transcode_session_t *s);

/* Copies the current counters; any thread. */
void transcode_session_stats(transcode_session_t *s, transcode_stats_t *out);

/* Frees the session (not running) and sets *sp to NULL; accepts NULL. */
void transcode_session_free(transcode_session_t **sp);

#endif
