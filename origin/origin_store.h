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
    uint64_t bytes;         /* bytes of the files stored now */
    uint64_t files;         /* files stored now */
    uint64_t evictions;     /* files evicted to stay under the limit */
    uint64_t evicted_bytes; /* their bytes */
    uint64_t max_bytes;     /* the limit */
} origin_store_stats_t;

/*
 * A store that keeps at most max_bytes of file data. NULL on no memory.
 * Not thread-safe: the HTTP layer holds its lock around every call.
 */
origin_store_t *origin_store_new(uint64_t max_bytes);
void origin_store_free(origin_store_t **sp);

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

/* Whether path names a playlist (ends ".m3u8"). */
bool origin_path_is_playlist(const char *path);

/* The Content-Type of path by its extension (application/octet-stream). */
const char *origin_content_type(const char *path);

/* Whether a file of path is never rewritten under its name (media, init). */
bool origin_path_is_immutable(const char *path);

#endif
