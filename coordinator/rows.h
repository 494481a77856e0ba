/* The coordinator's rows in PostgreSQL: its SQL, row writers, shared JSON. */
#ifndef PRISM_ROWS_H
#define PRISM_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "chan_cache.h"
#include "farm.h"
#include "store.h"

/*
 * Every statement the coordinator sends is here. Writes go through store's
 * bounded write queue and never wait: one that finds it full is dropped and
 * counted (writes_dropped, events_dropped), and a coordinator with no
 * database writes nothing. Reads take a callback that store calls on the
 * loop thread with the result, or with res = NULL and err when the query
 * failed; they return store_query's code (negative: not queued, the
 * callback is not called).
 */

/* Writes an event row (and logs it): kind, worker and stream (NULL or ""
 * for none), detail (taken; NULL for {}). */
void rows_event(coord_t *c, const char *kind, const char *worker,
                const char *stream, json_t *detail);

/* Writes the stream's row (state, worker, device, ladder...). */
void rows_stream(coord_t *c, const coord_stream_t *s);

/* Marks stream id ended, with why as its end reason. */
void rows_stream_end(coord_t *c, const char *id, const char *why);

/* Writes worker wi's row; with `devices`, replaces its device rows. */
void rows_worker(coord_t *c, long wi, bool devices);

/* Records a placement's assignment row ("assigned"), marks it "running",
 * or closes it ("released", "failed"). */
void rows_assignment(coord_t *c, const coord_stream_t *s, const char *what);

/* Closes the assignment row of stream id's generation gen as state. */
void rows_assignment_close(coord_t *c, const char *id, uint64_t gen,
                           const char *state);

/* Writes a stream_stats row from the ingest's stats of stream s. */
void rows_stats(coord_t *c, const coord_stream_t *s,
                const Prism__IngestStats *st);

/* ---------------------------------------------------------------- JSON */

/* The JSON the streams table and the API share (new references). */
json_t *rows_source_json(const coord_stream_t *s);
json_t *rows_renditions_json(const coord_stream_t *s); /* placed rungs */
json_t *rows_devices_json(const coord_t *c, long wi);  /* its devices */

/* The wire source of a rows_source_json text (what a reload reads back);
 * missing fields are 0. */
void rows_source_parse(const char *text, Prism__SourceInfo *out);

/* ---------------------------------------------------------------- reads */

/* pg_try_advisory_lock(key): one row, one column, "t" when taken. Sent
 * ahead of queued queries. */
int rows_try_lock(coord_t *c, int64_t key, store_cb_t cb, void *ud);

/* The streams not ended, one row each, columns ROWS_LOAD_*. Sent ahead of
 * queued queries. */
enum {
    ROWS_LOAD_ID,
    ROWS_LOAD_CHANNEL_ID,
    ROWS_LOAD_CHANNEL,
    ROWS_LOAD_PRIORITY,
    ROWS_LOAD_INGEST,
    ROWS_LOAD_WORKER,
    ROWS_LOAD_GENERATION,
    ROWS_LOAD_TOKEN,
    ROWS_LOAD_SOURCE,
    ROWS_LOAD_MEDIA_SEQUENCE,
    ROWS_LOAD_PROFILE_DOC, /* the ladder profile's document, "" none */
    ROWS_LOAD_PROTOCOL,
    ROWS_LOAD_PROFILE,
};
int rows_load_streams(coord_t *c, store_cb_t cb, void *ud);

/* Channel id with its key hash and ladder profile: no row, or one with
 * columns ROWS_CHAN_*. */
enum {
    ROWS_CHAN_ID,
    ROWS_CHAN_NAME,
    ROWS_CHAN_PRIORITY,
    ROWS_CHAN_PROFILE,
    ROWS_CHAN_SALT, /* hex */
    ROWS_CHAN_HASH, /* hex */
    ROWS_CHAN_PROFILE_DOC,
    ROWS_CHAN_DISABLED, /* "t" or "f" */
};
int rows_channel_by_id(coord_t *c, int64_t id, store_cb_t cb, void *ud);

/* The channel NAME as the platform's publish hook allowed it, made when
 * new (with salt and hash, hex, that no key matches: its keys are the
 * platform's) with PROFILE ("" = the default profile) and PRIORITY (< 0 =
 * 50); an existing one gets PROFILE and PRIORITY when given. Answers like
 * rows_channel_by_id; fails on an unknown profile (SQLSTATE 23503). A
 * read: refused at once while the database is away. */
int rows_channel_upsert(coord_t *c, const char *name, const char *profile,
                        int priority, const char *salt, const char *hash,
                        store_cb_t cb, void *ud);

/* The channel of a rows_channel_by_id result with one row into *out (its
 * profile_doc borrowed from res, NULL when there is none). 0, or -ENOENT
 * when res has no single row. */
int rows_channel_row(const PGresult *res, chan_row_t *out);

/* Every channel: id, name, priority, profile, created_at, the id of its
 * live stream (NULL when none), disabled ("t"/"f"). */
int rows_channels(coord_t *c, store_cb_t cb, void *ud);

/* The next channel id: one row, one column. */
int rows_channel_next_id(coord_t *c, store_cb_t cb, void *ud);

/* Inserts a channel (salt and hash in hex); answers its created_at, or
 * fails on a duplicate name or an unknown profile (err says which). */
int rows_channel_insert(coord_t *c, int64_t id, const char *name, int priority,
                        const char *profile, const char *salt, const char *hash,
                        store_cb_t cb, void *ud);

/* The API's channel and profile reads and changes; each answers once (a
 * read: refused at once while the database is away). */

/* Channel NAME: id, name, priority, profile, created_at, its open
 * stream's id (NULL: none), disabled ("t"/"f"); no row when there is none.
 * rows_channel_update answers the same columns (stream NULL) for the row
 * it changed: NEW_NAME, PROFILE (NULL: unchanged), PRIORITY (< 0:
 * unchanged), DISABLED (< 0: unchanged, else 0 or 1). */
int rows_channel_get(coord_t *c, const char *name, store_cb_t cb, void *ud);
int rows_channel_update(coord_t *c, const char *name, const char *new_name,
                        int priority, const char *profile, int disabled,
                        store_cb_t cb, void *ud);
/* A new key hash (salt and hash in hex) for channel id: one row, or none. */
int rows_channel_set_key(coord_t *c, int64_t id, const char *salt,
                         const char *hash, store_cb_t cb, void *ud);
/* Deletes channel id and its ended streams (with their assignments and
 * stats); one row when it went. Its events stay. */
int rows_channel_delete(coord_t *c, int64_t id, store_cb_t cb, void *ud);
/* The newest LIMIT events, newest first, of STREAM (a uuid), WORKER and
 * KIND (a prefix: "stream." matches every stream event), each NULL for
 * any: id, at (UTC, ISO 8601), kind, stream_id, worker_id, coordinator,
 * detail (JSON text). */
int rows_events(coord_t *c, const char *stream, const char *worker,
                const char *kind, int limit, store_cb_t cb, void *ud);

/* Ladder profiles (NAME NULL: all, by name): name, document, updated_at,
 * channels using it. */
int rows_profiles(coord_t *c, const char *name, store_cb_t cb, void *ud);
/* Creates or replaces profile NAME with DOC (JSON): one row, "t" when it
 * was created, and its updated_at. */
int rows_profile_put(coord_t *c, const char *name, const char *doc,
                     store_cb_t cb, void *ud);
/* Deletes profile NAME: one row when it went; fails while a channel uses
 * it (foreign key). */
int rows_profile_delete(coord_t *c, const char *name, store_cb_t cb, void *ud);

/* Whether PostgreSQL is connected; with stats, store's figures too. */
bool rows_db_up(const coord_t *c, store_stats_t *stats);

#endif
