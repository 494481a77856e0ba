/* HLS output to an HTTP origin: PUTs whose answer is checked, DELETEs. */
#ifndef PRISM_ORIGIN_H
#define PRISM_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

typedef struct origin origin_t;

typedef struct {
    int64_t puts;          /* files the origin accepted (2xx) */
    int64_t put_failed;    /* files refused (status) or not delivered */
    int64_t deletes;       /* old segments deleted (2xx, or 404: gone) */
    int64_t delete_failed; /* DELETEs refused or not delivered */
} origin_stats_t;

/* Failure policy; origin_policy_default() fills the defaults. */
typedef struct {
    int timeout_ms; /* one request, connect to answer */
    /* The session ends when the origin has refused every PUT since the
     * start for first_tries PUTs, or, once it accepted one, refused every
     * PUT for fail_s seconds (0 = never after a success). */
    int first_tries;
    double fail_s;
} origin_policy_t;

void origin_policy_default(origin_policy_t *p);

/*
 * Creates the writer for one session; NAME (copied) names the session in
 * log lines. Returns NULL on allocation failure. Used by one thread: the
 * session's.
 */
origin_t *origin_new(const char *name, const origin_policy_t *policy);

/* Frees the writer and sets *op to NULL; accepts NULL. Open files left by
 * a muxer are dropped unsent. */
void origin_free(origin_t **op);

/*
 * Makes MUX (borrowed; an output context not yet started) write through
 * the origin: every file the muxer opens is buffered and PUT whole when it
 * is closed, with the origin's answer checked; a file the muxer deletes
 * (its "method" option is DELETE: old live segments) gets a plain DELETE
 * without a body. Nested muxers inherit this (they copy io_open, io_close2
 * and opaque). Failures are counted, never returned to the muxer.
 */
void origin_attach(origin_t *o, AVFormatContext *mux);

/*
 * PUTs LEN bytes of DATA (borrowed) to URL. Returns 0 when the origin
 * accepted it, else a negative code; the first failure of a run is logged
 * (with the status or the transport error), the rest only counted, and a
 * recovery is logged too.
 */
int origin_put(origin_t *o, const char *url, const void *data, size_t len);

/* DELETEs URL (no body). Returns 0 when done or already gone, else a
 * negative code; the first failure is logged, every one counted. */
int origin_delete(origin_t *o, const char *url);

/* 0 while the session may go on; -EIO once the failure policy says the
 * output reaches nobody (logged once, as an error, when it turns). */
int origin_fatal(const origin_t *o);

void origin_stats(const origin_t *o, origin_stats_t *out);

#endif
