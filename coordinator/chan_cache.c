/* The channels the coordinator has read lately (see chan_cache.h). */
#include "chan_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

typedef struct {
    chan_row_t row;
    int64_t read_ms;
} entry_t;

struct chan_cache {
    size_t max, n;
    entry_t *e; /* n used, in no order */
    idmap_t *by_id;
};

static void id_key(int64_t id, char *out, size_t len)
{
    snprintf(out, len, "%" PRId64, id);
}

chan_cache_t *chan_cache_new(size_t max)
{
    chan_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->max = max;
    c->e = max ? calloc(max, sizeof(*c->e)) : NULL;
    c->by_id = idmap_new();
    if ((max && !c->e) || !c->by_id) {
        chan_cache_free(&c);
        return NULL;
    }
    return c;
}

void chan_row_clear(chan_row_t *row)
{
    free(row->profile_doc);
    row->profile_doc = NULL;
}

void chan_cache_free(chan_cache_t **cp)
{
    chan_cache_t *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        chan_row_clear(&c->e[i].row);
    free(c->e);
    idmap_free(&c->by_id);
    free(c);
    *cp = NULL;
}

/* Removes entry i, moving the last one into its place. */
static void remove_at(chan_cache_t *c, size_t i)
{
    char k[24];
    id_key(c->e[i].row.id, k, sizeof(k));
    idmap_del(c->by_id, k);
    chan_row_clear(&c->e[i].row);
    if (i != --c->n) {
        c->e[i] = c->e[c->n];
        id_key(c->e[i].row.id, k, sizeof(k));
        idmap_put(c->by_id, k, (long)i); /* replaces: no allocation */
    }
}

int chan_cache_put(chan_cache_t *c, const chan_row_t *row, int64_t now_ms)
{
    if (!c->max)
        return 0;
    char *doc = row->profile_doc ? strdup(row->profile_doc) : NULL;
    if (row->profile_doc && !doc)
        return -ENOMEM;
    char k[24];
    id_key(row->id, k, sizeof(k));
    long at = idmap_get(c->by_id, k);
    if (at < 0 && c->n == c->max) {
        size_t oldest = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->e[i].read_ms < c->e[oldest].read_ms)
                oldest = i;
        remove_at(c, oldest);
    }
    if (at < 0) {
        if (idmap_put(c->by_id, k, (long)c->n) < 0) {
            free(doc);
            return -ENOMEM;
        }
        at = (long)c->n++;
    } else {
        chan_row_clear(&c->e[at].row);
    }
    c->e[at].row = *row;
    c->e[at].row.profile_doc = doc;
    c->e[at].read_ms = now_ms;
    return 0;
}

const chan_row_t *chan_cache_get(const chan_cache_t *c, int64_t id,
                                 int64_t now_ms, int64_t max_age_ms)
{
    char k[24];
    id_key(id, k, sizeof(k));
    long at = idmap_get(c->by_id, k);
    if (at < 0 || now_ms - c->e[at].read_ms > max_age_ms)
        return NULL;
    return &c->e[at].row;
}

void chan_cache_drop(chan_cache_t *c, int64_t id)
{
    char k[24];
    id_key(id, k, sizeof(k));
    long at = idmap_get(c->by_id, k);
    if (at >= 0)
        remove_at(c, (size_t)at);
}

size_t chan_cache_count(const chan_cache_t *c)
{
    return c->n;
}
