/* RFC 8216 playlist validator: the MUST rules of media and master
 * playlists, of successive snapshots of one live playlist, and of a
 * variant's CODECS and BANDWIDTH against what its segments measure. */
#ifndef PRISM_HLS_CHECK_H
#define PRISM_HLS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define HLS_CHECK_MAX_PROBLEMS 64   /* kept per report; more are counted */
#define HLS_CHECK_MAX_SEGMENTS 2048 /* per media playlist; more: a problem */
#define HLS_CHECK_MAX_VARIANTS 64   /* per master playlist; more: a problem */
#define HLS_CHECK_MAX_TEXT     (4 << 20) /* the largest playlist read */
#define HLS_CHECK_MAX_PARTS    1024      /* EXT-X-PART per media playlist */
#define HLS_CHECK_MAX_REPORTS  32 /* EXT-X-RENDITION-REPORT per playlist */

/* One broken rule: its short name (e.g. "targetduration"), the 1-based
 * line of the playlist (0 when none) and a sentence. */
typedef struct {
    char rule[32];
    int line;
    char text[200];
} hls_problem_t;

/* The problems found, in order; the first HLS_CHECK_MAX_PROBLEMS are kept,
 * the rest counted in dropped. Zero-initialise before use. */
typedef struct {
    int n;
    int dropped;
    hls_problem_t p[HLS_CHECK_MAX_PROBLEMS];
} hls_report_t;

typedef struct {
    double duration;    /* EXTINF */
    bool discontinuity; /* preceded by EXT-X-DISCONTINUITY */
    bool has_pdt;       /* preceded by EXT-X-PROGRAM-DATE-TIME */
    double pdt;         /* its date, seconds since 1970 (UTC) */
    int first_part;     /* its parts: hls_ll_t.part[first_part...] */
    int nparts;         /* 0: none listed */
    char uri[256];
} hls_segment_t;

/* One EXT-X-PART (a Partial Segment). */
typedef struct {
    double duration;
    bool independent, gap;
    int seg;   /* the segment (index in hls_media_t.seg) it belongs to;
                * nseg for the parts of the incomplete last segment */
    int index; /* its Part Index within that segment, from 0 as listed */
    int line;
    char uri[256];
} hls_part_t;

/* One EXT-X-RENDITION-REPORT; an attribute left out means the value of
 * the playlist that carries it (RFC 8216bis 4.4.5.4). */
typedef struct {
    char uri[256];
    bool has_msn, has_part;
    long long last_msn, last_part;
    int line;
} hls_rendition_report_t;

/* What a media playlist says of Low-Latency HLS (RFC 8216bis); every
 * number is -1 when its tag or attribute is absent. */
typedef struct {
    double part_target;    /* EXT-X-PART-INF PART-TARGET */
    bool server_control;   /* EXT-X-SERVER-CONTROL is there */
    bool can_block_reload; /* CAN-BLOCK-RELOAD=YES */
    double part_hold_back, hold_back, can_skip_until;
    long long skipped; /* EXT-X-SKIP SKIPPED-SEGMENTS, 0 without */
    bool has_skip;
    int skip_line, skip_need; /* its line, the EXT-X-VERSION it needs */
    char hint_type[8];        /* EXT-X-PRELOAD-HINT TYPE, "" without one */
    char hint_uri[256];
    int hint_line;
    /* The parts of the incomplete last segment (after the last URI). */
    int tail_first, tail_nparts;
    bool tail_discontinuity, tail_has_pdt;
    double tail_pdt;
    int npart;
    hls_part_t part[HLS_CHECK_MAX_PARTS];
    int nreport;
    hls_rendition_report_t report[HLS_CHECK_MAX_REPORTS];
} hls_ll_t;

/* A parsed media playlist (about 1 MB: allocate it on the heap). The
 * first segment listed has sequence number media_seq + ll.skipped. */
typedef struct {
    int version;         /* EXT-X-VERSION, 1 when absent */
    long long target;    /* EXT-X-TARGETDURATION, -1 when absent */
    long long media_seq; /* EXT-X-MEDIA-SEQUENCE, 0 when absent */
    long long disc_seq;  /* EXT-X-DISCONTINUITY-SEQUENCE, 0 when absent */
    bool has_disc_seq;
    bool endlist;
    int nseg;
    hls_segment_t seg[HLS_CHECK_MAX_SEGMENTS];
    hls_ll_t ll; /* the Low-Latency tags: see hls_check_ll.h */
} hls_media_t;

typedef struct {
    long long bandwidth; /* -1 when absent */
    long long average;   /* AVERAGE-BANDWIDTH, -1 when absent */
    int width, height;   /* RESOLUTION, 0 when absent */
    char codecs[128];    /* CODECS without quotes, "" when absent */
    char uri[256];
} hls_variant_info_t;

/* A parsed master playlist. */
typedef struct {
    int version;
    int nvar;
    hls_variant_info_t var[HLS_CHECK_MAX_VARIANTS];
} hls_master_t;

typedef enum { HLS_KIND_UNKNOWN, HLS_KIND_MEDIA, HLS_KIND_MASTER } hls_kind_t;

/* Media when the text has a media segment or media playlist tag, master
 * when it has EXT-X-STREAM-INF or EXT-X-MEDIA (and no media tag). */
hls_kind_t hls_check_kind(const char *text);

/*
 * Parses and checks a media playlist (NUL-terminated text); m receives
 * what was parsed (borrowed, filled in). Adds each broken rule to r and
 * returns how many were added.
 */
int hls_check_media(const char *text, hls_media_t *m, hls_report_t *r);

/* The same for a master playlist. */
int hls_check_master(const char *text, hls_master_t *m, hls_report_t *r);

/*
 * Checks that cur may follow prev as a later snapshot of the same live
 * playlist (RFC 8216 6.2.1: the server only appends, removes segments
 * from the front with their tags, increments the sequence numbers, adds
 * EXT-X-ENDLIST). Returns the number of problems added to r.
 */
int hls_check_media_update(const hls_media_t *prev, const hls_media_t *cur,
                           hls_report_t *r);

/*
 * Checks a variant's CODECS against the profile and level its video
 * really has (ffprobe's names: profile "High", "Main", "Constrained
 * Baseline", ...; level as ffprobe prints it, e.g. 30 for 3.0) and its
 * audio profile ("LC", "HE-AAC", ...). video_profile NULL: no video was
 * found, so CODECS must not list one; audio_profile likewise.
 */
int hls_check_codecs(const hls_variant_info_t *v, const char *video_profile,
                     int video_level, const char *audio_profile,
                     hls_report_t *r);

/*
 * Checks BANDWIDTH against the peak segment bit rate measured (bits/s)
 * and AVERAGE-BANDWIDTH against the average measured, which may differ
 * by avg_tolerance (a fraction, e.g. 0.1). A negative avg_bps checks
 * only that AVERAGE-BANDWIDTH is there: a live stream's is an estimate
 * until the stream ends.
 */
int hls_check_bandwidth(const hls_variant_info_t *v, double peak_bps,
                        double avg_bps, double avg_tolerance, hls_report_t *r);

/* The variant of m whose URI is uri, or NULL. */
const hls_variant_info_t *hls_check_variant(const hls_master_t *m,
                                            const char *uri);

/* Whether r holds a problem with this rule name. */
bool hls_report_has(const hls_report_t *r, const char *rule);

#endif
