/* Low-Latency HLS rules (RFC 8216bis): parts, preload hints, server
 * control, rendition reports, delta updates and live snapshots. */
#ifndef PRISM_HLS_CHECK_LL_H
#define PRISM_HLS_CHECK_LL_H

#include "hls_check.h"

/* The tolerance, in seconds, between a complete segment's EXTINF and the
 * sum of its parts: 5 ms is more than the rounding of the durations
 * printed (five decimals, a few dozen parts) and less than one frame at
 * up to 200 frames/s, so a part that lost a frame is caught. */
#define HLS_LL_SUM_TOLERANCE 0.005

/* How part URIs are named, for the preload hint's "next part" rule. */
typedef enum {
    HLS_LL_NAMING_INFER, /* Prism's naming when every part follows it */
    HLS_LL_NAMING_PRISM, /* every part <stem><MSN><tag>.<K><ext> */
    HLS_LL_NAMING_NONE,  /* no naming rule */
} hls_ll_naming_t;

/* Which rules beyond the spec's MUSTs hls_check_ll applies. */
typedef struct {
    bool require;           /* the playlist must be Low-Latency */
    bool independent_first; /* every segment's first part INDEPENDENT */
    double hold_back_parts; /* PART-HOLD-BACK >= this x PART-TARGET */
    bool part_window;       /* no parts older than three target durations */
    bool all_reports;       /* each playlist reports every other one */
    hls_ll_naming_t naming;
} hls_ll_opts_t;

/* The spec's MUSTs only: PART-HOLD-BACK >= 2 x PART-TARGET, naming
 * inferred, nothing else. */
extern const hls_ll_opts_t hls_ll_spec;
/* Prism's promise (prism-hls-check --ll): Low-Latency required, every
 * segment's first part INDEPENDENT=YES (Prism cuts segments on key
 * frames), PART-HOLD-BACK >= 3 x PART-TARGET, parts only within the last
 * three target durations, every rendition reported. */
extern const hls_ll_opts_t hls_ll_prism;

/*
 * Checks the rules of opts on m, parsed by hls_check_media (which checks
 * the spec's MUSTs of the Low-Latency tags itself). Returns the number of
 * problems added to r.
 */
int hls_check_ll(const hls_media_t *m, const hls_ll_opts_t *opts,
                 hls_report_t *r);

/*
 * Checks that cur may follow prev as a later snapshot of the same
 * Low-Latency playlist: a part keeps its URI and duration, the last part
 * never goes back, and the parts of the incomplete segment stay until it
 * is complete, unless cur starts that segment anew after an
 * EXT-X-DISCONTINUITY (a take-over by another worker). Returns the number
 * of problems added to r.
 */
int hls_check_ll_update(const hls_media_t *prev, const hls_media_t *cur,
                        hls_report_t *r);

/*
 * Applies the delta update delta (a playlist with EXT-X-SKIP, served for
 * _HLS_skip=YES) to base, an earlier full snapshot, and checks that the
 * result equals full, the full playlist of the same moment (segments,
 * URIs, durations, discontinuities, parts), and that every segment
 * skipped ends at least CAN-SKIP-UNTIL before the end of full's last
 * segment. Returns the number of problems added to r.
 */
int hls_check_ll_delta(const hls_media_t *base, const hls_media_t *delta,
                       const hls_media_t *full, hls_report_t *r);

/*
 * Checks the EXT-X-RENDITION-REPORT tags of n media playlists of one
 * master fetched at about the same time: pl[i] was fetched from uris[i]
 * (a path or URL; reports resolve relative to it). Each report must name
 * one of the others, and its LAST-MSN/LAST-PART agree with that
 * playlist's last part (or segment): the same segment and within one
 * part, or the adjacent segment, either way, since the playlists are
 * fetched at slightly different times. With all_reports, each playlist
 * must report every other one. Returns the number of problems added.
 */
int hls_check_ll_reports(const hls_media_t *const *pl, const char *const *uris,
                         int n, bool all_reports, hls_report_t *r);

/* The sequence number of m's first segment listed (after any skipped). */
long long hls_ll_first_msn(const hls_media_t *m);

/* The parts m lists for its segment seg (m->nseg: the incomplete last
 * one) in *parts (borrowed from m); returns their count. */
int hls_ll_parts(const hls_media_t *m, int seg, const hls_part_t **parts);

/* Whether the parts m lists for segment seg start with its first part:
 * false for the oldest segment with parts when they sum to less than its
 * duration (the server removed its first parts, 6.2.2). */
bool hls_ll_parts_whole(const hls_media_t *m, int seg);

/* The validator's own hooks, called by hls_check_media: the start of a
 * playlist, each tag line (true when it was a Low-Latency tag, handled),
 * and the end, which checks the spec's MUSTs of those tags. */
void hls_ll_media_init(hls_media_t *m);
bool hls_ll_media_tag(hls_media_t *m, const char *line, int no,
                      hls_report_t *r);
void hls_ll_media_finish(hls_media_t *m, hls_report_t *r);

/* Adds a problem to r (printf-style), as every rule of the validator. */
void hls_report_add(hls_report_t *r, const char *rule, int line,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
