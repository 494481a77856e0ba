/* HLS media playlist writer (RFC 8216): a window of segments, the media
 * and discontinuity sequence numbers, and the stream's timeline. */
#ifndef PRISM_HLS_WRITER_H
#define PRISM_HLS_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLS_WRITER_MAX_SEGMENTS 65536 /* kept at once (a VOD's bound) */
#define HLS_WRITER_URI_MAX      96

typedef struct hls_writer hls_writer_t;

typedef struct {
    double target_s;     /* the segment target; TARGETDURATION is at least its
                            rounding and at least every rounded EXTINF */
    int window;          /* live: segments listed; 0: every one (VOD) */
    bool vod;            /* EXT-X-PLAYLIST-TYPE:VOD */
    const char *map_uri; /* EXT-X-MAP URI (fMP4 init segment); NULL: TS */
    /* Low-Latency HLS (RFC 8216bis): the part target in seconds; 0 = none.
     * With parts the playlist says EXT-X-PART-INF, EXT-X-SERVER-CONTROL
     * (blocking reload, PART-HOLD-BACK three part targets, delta updates
     * from six target durations), lists the parts of the segments of the
     * last three target durations and of the segment being made, and the
     * preload hint and rendition reports set. */
    double part_target_s;
} hls_writer_opts_t;

/* What EXT-X-RENDITION-REPORT says of another rendition. */
typedef struct {
    char uri[HLS_WRITER_URI_MAX]; /* relative to this playlist */
    int64_t last_msn;
    int last_part; /* -1: none (a plain playlist) */
} hls_writer_report_t;

#define HLS_WRITER_MAX_REPORTS 16
#define HLS_WRITER_MAX_PARTS   64 /* of one segment */

/*
 * The stream's timeline, kept in the playlist as a comment line (a line
 * starting with '#' but not '#EXT', which players ignore):
 *   #PRISM-TIMELINE:OFFSET-US=<offset_us>,END-US=<end_us>,SOURCE=<hex>
 * output time = source time + offset_us (microseconds); end_us is the
 * output time where the last listed segment ends; SOURCE names the
 * publish whose timestamps the mapping is for (absent or 0: unknown).
 */
typedef struct {
    bool known;
    int64_t offset_us;
    int64_t end_us;
    uint64_t source_id;
} hls_timeline_t;

/*
 * What the stream's segments measured so far (the master playlist's
 * BANDWIDTH and AVERAGE-BANDWIDTH come from it), kept in a comment line
 * too, so that a session continuing the stream counts the segments
 * before it:
 *   #PRISM-RATES:PEAK-BPS=<peak_bps>,BYTES=<bytes>,SECONDS=<seconds>
 */
typedef struct {
    bool known;
    double peak_bps; /* the highest segment bit rate */
    int64_t bytes;   /* of every segment published */
    double seconds;  /* their duration */
} hls_rates_t;

/* A new empty playlist whose first segment gets media sequence 0.
 * Returns NULL on allocation failure or unusable options (logged). */
hls_writer_t *hls_writer_new(const hls_writer_opts_t *o);

/* Frees the writer and sets *wp to NULL; accepts NULL. */
void hls_writer_free(hls_writer_t **wp);

/*
 * Continues a media playlist another session wrote (TEXT, NUL-terminated):
 * its last segments stay listed (up to the window), the media and
 * discontinuity sequences and TARGETDURATION go on from it, its timeline
 * comment is kept, and the next segment added is marked
 * EXT-X-DISCONTINUITY. Call before the first hls_writer_add. Returns 0,
 * or -EINVAL when TEXT is not a media playlist (nothing changes).
 */
int hls_writer_continue(hls_writer_t *w, const char *text);

/*
 * Low-Latency HLS (the writer made with part_target_s): lists a part of
 * the segment being made (the next hls_writer_add completes it) at the
 * end: URI, DURATION seconds (at most the part target), INDEPENDENT when
 * it starts with a keyframe. Returns 0, -EINVAL for a bad duration or URI
 * or without parts, -ENOBUFS past HLS_WRITER_MAX_PARTS.
 */
int hls_writer_add_part(hls_writer_t *w, const char *uri, double duration,
                        bool independent);

/*
 * Whether the playlist hls_writer_continue read ended with parts of a
 * segment its writer did not finish. That segment is listed as it was,
 * complete (its parts and their duration; the timeline ends after it),
 * under its parts' name without the index; the caller makes its file
 * from theirs.
 */
bool hls_writer_resumes_unfinished(const hls_writer_t *w);

/* The URIs of the parts listed for segment N (0 = first listed), at most
 * MAX (borrowed, until the writer changes); returns how many. */
int hls_writer_segment_parts(const hls_writer_t *w, int n, const char **uris,
                             int max);

/* The URI of segment N; NULL when N is not listed. */
const char *hls_writer_uri(const hls_writer_t *w, int n);

/* How many parts the segment the last hls_writer_add evicted had. */
int hls_writer_evicted_parts(const hls_writer_t *w);

/* Parts of the segment being made listed so far. */
int hls_writer_parts_pending(const hls_writer_t *w);

/* The EXT-X-PRELOAD-HINT (TYPE=PART) written after the last part: the URI
 * of the next part; NULL or "" = none. */
void hls_writer_set_hint(hls_writer_t *w, const char *uri);

/* The EXT-X-RENDITION-REPORT lines (N at most HLS_WRITER_MAX_REPORTS). */
void hls_writer_set_reports(hls_writer_t *w, const hls_writer_report_t *r,
                            int n);

/* The newest segment or part listed: its media sequence number and part
 * index (-1 when it is a segment listed without parts, or none listed). */
void hls_writer_last_part(const hls_writer_t *w, int64_t *msn, int *part);

/* The init segment (EXT-X-MAP) of the segments added from now on; the
 * tag is written again where it changes (a continued stream). */
void hls_writer_set_map(hls_writer_t *w, const char *uri);

/* The EXT-X-PROGRAM-DATE-TIME (Unix microseconds; 0: none) of the
 * segment being made: its first frame's date. */
void hls_writer_set_date(hls_writer_t *w, int64_t unix_us);

/* Numbers the next segment at least SEQ (a floor the coordinator keeps:
 * the media sequence never goes back). Segments listed below a higher
 * floor leave the playlist (their numbers never change). */
void hls_writer_min_sequence(hls_writer_t *w, int64_t seq);

/* The media sequence number the next segment gets. */
int64_t hls_writer_next_sequence(const hls_writer_t *w);

/*
 * Lists a new segment at the end (URI relative to the playlist, DURATION
 * seconds, DISC: EXT-X-DISCONTINUITY before it). A live window drops its
 * first segment when full; that segment's URI is copied to EVICTED (len
 * bytes; may be NULL) so the caller can delete the file. Returns 1 when
 * a segment was dropped, 0 when not, -ENOBUFS past
 * HLS_WRITER_MAX_SEGMENTS, -EINVAL for a bad duration or URI.
 */
int hls_writer_add(hls_writer_t *w, const char *uri, double duration, bool disc,
                   char *evicted, size_t len);

/* Sets the timeline written in the comment line (SOURCE_ID 0: unknown). */
void hls_writer_set_timeline(hls_writer_t *w, int64_t offset_us, int64_t end_us,
                             uint64_t source_id);

/*
 * Says in the playlist that this writer adds no more segments to it: a
 * comment line, #PRISM-WRITER-DONE, until the end (not with ENDLIST). A
 * session that ended without ending the stream writes it, so the session
 * continuing the stream knows the playlist it read is the last one the
 * other wrote (hls_writer_previous_done). A writer that continues that
 * text does not carry it on.
 */
void hls_writer_set_done(hls_writer_t *w);

/* Whether the text hls_writer_continue read had #PRISM-WRITER-DONE. */
bool hls_writer_previous_done(const hls_writer_t *w);

/* Sets the rates written in the comment line. */
void hls_writer_set_rates(hls_writer_t *w, const hls_rates_t *r);

/* The rates: the ones set, or the ones a continued playlist carried. */
hls_rates_t hls_writer_rates(const hls_writer_t *w);

/*
 * What a master playlist says of one variant (RFC 8216 4.3.4.2), from
 * the measured rates M and the estimate NOMINAL_BPS. FINAL (the stream
 * ended): AVERAGE-BANDWIDTH the average over every segment published and
 * BANDWIDTH the highest segment's rate (the estimate when under half a
 * second was measured). While live: the estimate, its peak 25% over,
 * but BANDWIDTH never under a segment already published (a continued
 * stream knows its earlier segments' peak from the start).
 */
void hls_rates_advertise(const hls_rates_t *m, double nominal_bps, bool final,
                         int64_t *average, int64_t *bandwidth);

/* The timeline: the one set, or the one a continued playlist carried. */
hls_timeline_t hls_writer_timeline(const hls_writer_t *w);

/*
 * The playlist text (malloc'd, NUL-terminated; *len its length), with
 * EXT-X-ENDLIST when ENDLIST. NULL on allocation failure.
 */
char *hls_writer_text(const hls_writer_t *w, bool endlist, size_t *len);

/* How many segments are listed, and the Nth (0 = first) of them. */
int hls_writer_count(const hls_writer_t *w);
double hls_writer_duration(const hls_writer_t *w, int n);

#endif
