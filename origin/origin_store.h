/* The origin's files in memory: path -> bytes, bounded, oldest evicted. */
#ifndef PRISM_ORIGIN_STORE_H
#define PRISM_ORIGIN_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A file's bytes, shared by reference: the store holds one reference, and
 * every answer being sent holds another, so a file replaced or evicted
 * while it is sent stays valid until the last reference goes. Immutable
 * once made. References may be taken and dropped from any thread.
 */
typedef struct {
    atomic_int refs;
    size_t len;
    char etag[24]; /* "\"<16 hex digits>\"": FNV-1a of the bytes */
    unsigned char data[];
} origin_blob_t;

/* A new blob holding a copy of len bytes (refs = 1), or NULL. */
origin_blob_t *origin_blob_new(const void *data, size_t len);

/* A new blob of len bytes to fill (refs = 1), or NULL; once they are
 * filled, origin_blob_seal makes its ETag. */
origin_blob_t *origin_blob_alloc(size_t len);
void origin_blob_seal(origin_blob_t *b);

/* Takes one more reference; returns b. */
origin_blob_t *origin_blob_ref(origin_blob_t *b);

/* Drops the reference *bp holds (NULL is fine) and sets *bp = NULL. */
void origin_blob_unref(origin_blob_t **bp);

/* The blob whose data is `data` (a pointer origin_blob_t.data gave). */
origin_blob_t *origin_blob_of_data(void *data);

/* Writes the ETag of len bytes ("\"...\"", 19 chars + NUL) into out. */
void origin_etag(const void *data, size_t len, char out[24]);

typedef struct origin_store origin_store_t;

typedef struct {
    uint64_t bytes;         /* bytes of the files in memory now */
    uint64_t files;         /* files stored now, in memory or spilled */
    uint64_t evictions;     /* files evicted to stay under the limits */
    uint64_t evicted_bytes; /* their bytes */
    uint64_t max_bytes;     /* the memory limit */
    /* The disk spill (origin_store_set_spill); all 0 without one. */
    uint64_t spill_bytes;     /* bytes of the files spilled (or being) */
    uint64_t spill_files;     /* those files */
    uint64_t spill_max_bytes; /* the disk limit */
    uint64_t spill_writes;    /* files written to disk */
    uint64_t spill_failures;  /* writes that failed (the file is lost) */
} origin_store_stats_t;

/*
 * A store that keeps at most max_bytes of file data. NULL on no memory.
 * Not thread-safe: the HTTP layer holds its lock around every call.
 */
origin_store_t *origin_store_new(uint64_t max_bytes);
void origin_store_free(origin_store_t **sp);

/*
 * Gives the store a disk spill of max_bytes: from then on a file other than
 * a playlist that memory evicts is not dropped but queued to be written to
 * disk (origin_store_spill_jobs), and stays listed while it is; past
 * max_bytes on disk, the oldest spilled files are dropped. The store does
 * no I/O: its caller runs the jobs (origin_spill.h) outside its lock.
 */
void origin_store_set_spill(origin_store_t *s, uint64_t max_bytes);

/*
 * One disk job: write blob (a reference the job holds) as file id, or,
 * with blob NULL, remove file id. path (owned by the job) names the
 * stored file a write is for.
 */
typedef struct {
    uint64_t id;
    origin_blob_t *blob;
    char *path;
} origin_spill_job_t;

/*
 * Takes up to max pending jobs into jobs; returns how many. Every call
 * that changes the store may queue some: its caller takes and runs them
 * before it answers, so the queue holds one call's worth at most.
 */
int origin_store_spill_jobs(origin_store_t *s, origin_spill_job_t *jobs,
                            int max);

/*
 * Reports a write job done (ok) or failed, and frees the job. A file
 * written for an entry that went meanwhile queues its removal.
 */
void origin_store_spill_done(origin_store_t *s, origin_spill_job_t *job,
                             bool ok);

/* Frees a job not run (its reference and path). */
void origin_spill_job_free(origin_spill_job_t *job);

/*
 * Whether path is stored on disk only (not in memory); *id and *len get
 * its file and size. origin_store_get answers NULL for such a path.
 */
bool origin_store_on_disk(origin_store_t *s, const char *path, uint64_t *id,
                          size_t *len);

/*
 * Stores blob (the reference is taken, also on failure) as path, replacing
 * the file there. A playlist (".m3u8") may name the file its
 * EXT-X-PRELOAD-HINT points at (hint, an absolute path, or NULL) and how
 * long a request for it may be held (hold_ms); origin_store_hinted()
 * answers from that until the playlist is replaced or goes.
 * When the store is then over its limit, the oldest files other than
 * playlists go first, then the oldest playlists, never the file just put.
 * Returns 0 for a new file, 1 for a replaced one, -EFBIG when the blob
 * alone is over the limit, -ENOMEM.
 */
int origin_store_put(origin_store_t *s, const char *path, origin_blob_t *blob,
                     int64_t now_ms, const char *hint, int64_t hold_ms);

/*
 * The blob stored as path (borrowed: valid until the next call that changes
 * the store; take a reference to keep it) or NULL. *stored_ms, when not
 * NULL, gets the time it was put.
 */
origin_blob_t *origin_store_get(origin_store_t *s, const char *path,
                                int64_t *stored_ms);

/* Removes path: 0, or -ENOENT when there is no such file. */
int origin_store_delete(origin_store_t *s, const char *path);

/*
 * Whether a stored playlist's EXT-X-PRELOAD-HINT names path now; *hold_ms
 * (when not NULL) gets the hold that playlist allows.
 */
bool origin_store_hinted(origin_store_t *s, const char *path, int64_t *hold_ms);

void origin_store_stats(const origin_store_t *s, origin_store_stats_t *out);

/* What a media playlist reports of its rendition (RFC 8216bis 4.4.5.4). */
typedef struct {
    int64_t last_msn;  /* its last segment or, with parts, partial segment */
    int64_t last_part; /* that segment's last part; -1: no part */
} origin_report_t;

/*
 * Notes what the playlist stored at path reports of itself, read when it
 * was put (until it is replaced): 0, or -ENOENT when path is not stored.
 */
int origin_store_set_report(origin_store_t *s, const char *path,
                            origin_report_t r);

/* What the playlist at path reports of itself; false when none is noted. */
bool origin_store_report(origin_store_t *s, const char *path,
                         origin_report_t *out);

/* Whether path names a playlist (ends ".m3u8"). */
bool origin_path_is_playlist(const char *path);

/* The Content-Type of path by its extension (application/octet-stream). */
const char *origin_content_type(const char *path);

/* Whether a file of path is never rewritten under its name (media, init). */
bool origin_path_is_immutable(const char *path);

#endif
