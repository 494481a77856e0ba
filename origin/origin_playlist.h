/* What the origin reads from a media playlist, and the blocking rules. */
#ifndef PRISM_ORIGIN_PLAYLIST_H
#define PRISM_ORIGIN_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Media Sequence Numbers are positional (RFC 8216bis 6.3.5): the first
 * segment listed has EXT-X-MEDIA-SEQUENCE, each next one one more. A
 * segment is complete once its URI line is listed; EXT-X-PART lines after
 * the last URI line belong to the segment being written (next_msn).
 */
typedef struct {
    double target_duration; /* EXT-X-TARGETDURATION; 0 when absent */
    double part_target;     /* EXT-X-PART-INF PART-TARGET; 0 when absent */
    int64_t media_sequence; /* EXT-X-MEDIA-SEQUENCE; 0 when absent */
    bool can_block_reload;  /* SERVER-CONTROL CAN-BLOCK-RELOAD=YES */
    double can_skip_until;  /* SERVER-CONTROL CAN-SKIP-UNTIL; 0: none */
    bool can_skip_dateranges;
    bool endlist;           /* EXT-X-ENDLIST: nothing more will come */
    int nsegments;          /* complete segments listed */
    int64_t last_msn;       /* the last complete one (media_sequence - 1
                               when there is none) */
    int last_parts;         /* EXT-X-PART lines of the last complete one */
    int64_t next_msn;       /* last_msn + 1: the segment being written */
    int next_parts;         /* its EXT-X-PART lines so far */
    double duration;        /* sum of the complete segments' EXTINF */
    char preload_hint[512]; /* URI of EXT-X-PRELOAD-HINT:TYPE=PART, or "" */
} origin_playlist_t;

/*
 * Reads text (len bytes, need not be NUL-terminated) into *out. Unknown
 * tags and comments are skipped. Returns 0, or -EINVAL when the text does
 * not start with #EXTM3U or is a master playlist (EXT-X-STREAM-INF).
 */
int origin_playlist_parse(const char *text, size_t len, origin_playlist_t *out);

/* A blocking request's query: _HLS_msn, _HLS_part, _HLS_skip. */
typedef struct {
    int64_t msn;  /* -1: no _HLS_msn */
    int64_t part; /* -1: no _HLS_part */
    int skip;     /* 0: none, 1: _HLS_skip=YES, 2: _HLS_skip=v2 */
} origin_query_t;

/*
 * Fills q from the three query values (each NULL when absent). Returns 0,
 * or -EINVAL when a value does not parse (not a decimal integer >= 0, or a
 * skip other than YES/v2) or _HLS_part comes without _HLS_msn.
 */
int origin_query_parse(const char *msn, const char *part, const char *skip,
                       origin_query_t *q);

/*
 * Whether p already answers a request for segment msn (part < 0) or for
 * part `part` of segment msn: true when p holds that segment complete or
 * that part, or anything later. A part index past the last part of a
 * complete segment means the first part of the segment after it; a
 * playlist that ended (EXT-X-ENDLIST) answers everything.
 */
bool origin_playlist_ready(const origin_playlist_t *p, int64_t msn,
                           int64_t part);

/*
 * Whether the request is too far ahead to wait for (RFC 8216bis 6.2.5.2:
 * answer 400): msn more than two past the last segment's, or a part of the
 * segment being written more than the Advance Part Limit (3 / PART-TARGET
 * when PART-TARGET < 1 s, else 3) past its last part.
 */
bool origin_playlist_too_far(const origin_playlist_t *p, int64_t msn,
                             int64_t part);

/*
 * The longest a request on p may be held, in ms: three target durations
 * (RFC 8216bis 6.2.5.2), at most cap_ms; cap_ms when p has no
 * TARGETDURATION.
 */
int64_t origin_playlist_hold_ms(const origin_playlist_t *p, int64_t cap_ms);

/*
 * Resolves uri (as written in the playlist at playlist_path) to an
 * absolute path into out: "seg_1.2.m4s" next to "/live/a/b/index.m3u8"
 * is "/live/a/b/seg_1.2.m4s"; "../c/x.m4s" and "/abs" work too; a query
 * or fragment is dropped. Returns 0, or -EINVAL for a URI with a scheme
 * or one that does not fit.
 */
int origin_resolve_uri(const char *playlist_path, const char *uri, char *out,
                       size_t outlen);

#endif
