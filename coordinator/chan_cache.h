/* The channels the coordinator has read lately, for admission while
 * PostgreSQL is away (pure: time passed in). */
#ifndef PRISM_CHAN_CACHE_H
#define PRISM_CHAN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "streamkey.h"

/*
 * How this works: every channel row a publish reads from the database is
 * put here (a copy, replacing the one before), with the time it was read.
 * While the database is away, a publish whose channel is here, read at
 * most max_age_ms ago, is checked against this copy (the same salted key
 * hash) and admitted; a channel not here is refused as before. So a
 * streamer who went live in the last max_age_ms can go live again during
 * an outage; a key changed in the database is known here at the next
 * publish that reads it while the database is up.
 *
 * Bounded: at most max entries; a new channel when full replaces the one
 * read longest ago. Lookups by id through an idmap (a hash and a probe or
 * two); the replacement scans the entries (only when full).
 *
 * Threads: one owner (the coordinator's loop).
 */

/* One channel row: what admission needs of it. */
typedef struct {
    int64_t id;
    char name[64];
    uint32_t priority;
    char profile[64];
    char salt[STREAMKEY_SALT_HEX + 1];
    char hash[STREAMKEY_HASH_HEX + 1];
    bool disabled;
    char *profile_doc; /* the profile's JSON, NULL = built-in default */
} chan_row_t;

typedef struct chan_cache chan_cache_t;

/* A cache of at most max channels (0: none kept); NULL when out of
 * memory. */
chan_cache_t *chan_cache_new(size_t max);
void chan_cache_free(chan_cache_t **cp);

/* Keeps a copy of row, read from the database at now_ms. 0, or -ENOMEM
 * (the cache is unchanged). */
int chan_cache_put(chan_cache_t *c, const chan_row_t *row, int64_t now_ms);

/* The row of channel id read at most max_age_ms before now_ms, or NULL.
 * Valid until the next put or drop. */
const chan_row_t *chan_cache_get(const chan_cache_t *c, int64_t id,
                                 int64_t now_ms, int64_t max_age_ms);

/* Forgets channel id (no such channel any more). */
void chan_cache_drop(chan_cache_t *c, int64_t id);

/* Channels kept now. */
size_t chan_cache_count(const chan_cache_t *c);

/* Frees what a chan_row_t owns (profile_doc). */
void chan_row_clear(chan_row_t *row);

#endif
