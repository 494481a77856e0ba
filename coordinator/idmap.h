/* A string-to-index hash map for the coordinator's worker and stream ids. */
#ifndef PRISM_IDMAP_H
#define PRISM_IDMAP_H

#include <stddef.h>

/*
 * Open addressing with linear probing; keys (at most IDMAP_KEY_MAX - 1
 * bytes) are copied. The table doubles when half full, so a lookup costs a
 * hash and a probe or two whatever the number of keys. Values are indices
 * into the caller's arrays. Not thread-safe: one owner.
 */
#define IDMAP_KEY_MAX 64

typedef struct idmap idmap_t;

/* An empty map; NULL when out of memory. */
idmap_t *idmap_new(void);
void idmap_free(idmap_t **mp);

/*
 * Sets key -> value (replacing an existing value). Returns 0, -EINVAL for an
 * empty or too long key, or -ENOMEM (the map is unchanged).
 */
int idmap_put(idmap_t *m, const char *key, long value);

/* The value of key, or -1 when absent. */
long idmap_get(const idmap_t *m, const char *key);

/* Removes key; returns 0, or -ENOENT when absent. */
int idmap_del(idmap_t *m, const char *key);

/* Number of keys. */
size_t idmap_count(const idmap_t *m);

#endif
