/* HLS output to an HTTP origin: PUTs whose answer is checked, DELETEs. */
#ifndef PRISM_ORIGIN_H
#define PRISM_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "fence.h"

typedef struct origin origin_t;

typedef struct {
    int64_t puts;          /* files the origin accepted (2xx) */
    int64_t put_failed;    /* files refused (status) or not delivered */
    int64_t deletes;       /* old segments deleted (2xx, or 404: gone) */
    int64_t delete_failed; /* DELETEs refused or not delivered */
    int64_t dropped;       /* files and DELETEs dropped from a full queue */
    int64_t queued;        /* files waiting for the uploader now */
    bool master_accepted;  /* a PUT of a master.m3u8 was accepted */
} origin_stats_t;

/* How the worker is known to an HTTP origin and how it trusts it; the
 * strings are borrowed, and outlive every origin and session using them. */
typedef struct {
    /* Sent as "Authorization: Bearer T" with every request; NULL or "" =
     * none. */
    const char *bearer_token;
    /* https: the CA certificates (PEM file) the origin's certificate must
     * chain to; NULL or "" = the system's store. */
    const char *ca_file;
    /* https: accept any certificate and host name (a token then travels
     * to whoever answers). */
    bool tls_insecure;
} origin_access_t;

/*
 * Reads a small text file or URL (a playlist on the output) whole, at most
 * MAX bytes: an http(s):// URL by a GET (with ACCESS, which may be NULL)
 * that ends within 3 s, a file through libavformat with a 3 s read
 * timeout. Returns a new NUL-terminated string the caller frees, or NULL
 * when it is absent (any status but 2xx) or unreadable. Blocking; any
 * thread.
 */
char *origin_read_text(const char *url, size_t max,
                       const origin_access_t *access);

/* As origin_read_text, for any bytes: their length in *LEN (the copy is
 * NUL-terminated too). */
char *origin_read(const char *url, size_t max, const origin_access_t *access,
                  size_t *len);

/* Failure policy; origin_policy_default() fills the defaults. */
typedef struct {
    int timeout_ms; /* one request, connect to answer */
    /* The session ends when the origin has refused every PUT since the
     * start for first_tries PUTs, or, once it accepted one, refused every
     * PUT for fail_s seconds (0 = never after a success). */
    int first_tries;
    double fail_s;
    /* The upload queue's bound: files (and DELETEs) waiting, and their
     * bytes. When full, the oldest waiting file that is not a playlist is
     * dropped and counted (origin_stats_t.dropped). */
    int queue_files;
    size_t queue_bytes;
    origin_access_t access; /* token and TLS trust */
    /* While it holds (fence.h), the uploader sends nothing; the queue
     * keeps its bound. NULL: none (borrowed; outlives the writer). */
    fence_t *fence;
} origin_policy_t;

void origin_policy_default(origin_policy_t *p);

/*
 * Threads: the writer runs its own uploader thread, which sends the files
 * given to origin_send (and the DELETEs of origin_send_delete), in the
 * order they were queued, so that the session's thread never waits for
 * the origin. origin_send, origin_send_delete, origin_drain and
 * origin_free belong to the session's thread; origin_put, origin_delete,
 * origin_fatal and origin_stats may be called from any thread.
 */

/*
 * Creates the writer for one session, with its HTTP client (one
 * kept-alive connection to the origin), and starts its uploader thread;
 * NAME (copied) names the session in log lines. Returns NULL on
 * allocation failure or when the client or the thread cannot start.
 */
origin_t *origin_new(const char *name, const origin_policy_t *policy);

/* Stops the uploader (a request in flight ends first, within its
 * deadline) and frees the writer; sets *op to NULL; accepts NULL. Files
 * still queued (call origin_drain first to send them) are dropped unsent. */
void origin_free(origin_t **op);

/*
 * Queues a copy of LEN bytes of DATA (borrowed) for a PUT to URL behind
 * the files queued before it. Returns 0, -ENOMEM, -ENOBUFS when the full
 * queue drops it (counted), or origin_fatal()'s code once the session
 * ends. Does not wait for the origin.
 */
int origin_send(origin_t *o, const char *url, const void *data, size_t len);

/* Queues a DELETE of URL (an old live segment) behind the files queued
 * before it. Returns 0, -ENOMEM, or origin_fatal()'s code. */
int origin_send_delete(origin_t *o, const char *url);

/*
 * Drops every queued file and refuses the ones sent after (-ECANCELED):
 * the session's stream was placed elsewhere while this worker was fenced,
 * and what it still holds would overwrite the newer worker's files. A
 * request in flight ends first. Session's thread or the agent's.
 */
void origin_discard(origin_t *o);

/*
 * Waits until the uploader has sent every queued file (the session's
 * last segments and playlists), at most the request deadline per queued
 * file and a second. Returns 0, or -ETIMEDOUT (logged) with files left.
 */
int origin_drain(origin_t *o);

/*
 * PUTs LEN bytes of DATA (borrowed) to URL now, blocking up to the
 * request deadline (the uploader's call). Returns 0 when the origin
 * accepted it, -EAGAIN when it may later (no answer, 5xx, 408, 429: the
 * uploader tries the file again), -EIO when it refused it (another 4xx);
 * every failure counts in put_failed, the first failure of a run is logged
 * (with the status or the transport error), the rest only counted, and a
 * recovery is logged too.
 */
int origin_put(origin_t *o, const char *url, const void *data, size_t len);

/* DELETEs URL (no body). Returns 0 when done or already gone, else a
 * negative code; the first failure is logged, every one counted. */
int origin_delete(origin_t *o, const char *url);

/* 0 while the session may go on; -EIO once the failure policy says the
 * output reaches nobody (logged once, as an error, when it turns). */
int origin_fatal(origin_t *o);

/* The counters so far (a consistent copy). */
void origin_stats(origin_t *o, origin_stats_t *out);

#endif
