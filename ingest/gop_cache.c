/* The GOP cache: packets from a start point on, with kept history. */
#include "gop_cache.h"

#include <stdlib.h>
#include <string.h>

void gop_cache_init(gop_cache_t *c, uint32_t max_packets, uint64_t max_bytes,
                    int64_t keep_ms)
{
    memset(c, 0, sizeof(*c));
    c->max_packets = max_packets;
    c->max_bytes = max_bytes;
    c->keep_ms = keep_ms > 0 ? keep_ms : 0;
}

void gop_cache_clear(gop_cache_t *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        pktbuf_unref(c->e[i].buf);
    c->n = 0;
    c->bytes = 0;
    c->valid = false;
}

void gop_cache_free(gop_cache_t *c)
{
    gop_cache_clear(c);
    free(c->e);
    c->e = NULL;
    c->cap = 0;
}

/* Drops the first K packets. */
static void drop_front(gop_cache_t *c, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++) {
        c->bytes -= c->e[i].len;
        pktbuf_unref(c->e[i].buf);
    }
    c->n -= k;
    memmove(c->e, c->e + k, (size_t)c->n * sizeof(*c->e));
}

/* The first start point after index I, or c->n. */
static uint32_t next_start(const gop_cache_t *c, uint32_t i)
{
    for (i++; i < c->n; i++)
        if (c->e[i].start)
            break;
    return i;
}

/* Before start point E: what is older than keep_ms before it goes, so
 * the cache begins at the newest start point at least keep_ms back. */
static void keep_history(gop_cache_t *c, const gop_entry_t *e)
{
    if (!c->valid || c->keep_ms == 0) {
        gop_cache_clear(c);
        return;
    }
    uint32_t from = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->e[i].start && c->e[i].at_ms <= e->at_ms - c->keep_ms)
            from = i;
    drop_front(c, from);
}

/* Room for E: the oldest GOPs go first; false when the newest alone is
 * too big. */
static bool make_room(gop_cache_t *c, const gop_entry_t *e)
{
    while (c->n + 1 > c->max_packets || c->bytes + e->len > c->max_bytes) {
        uint32_t k = c->n ? next_start(c, 0) : 0;
        if (k >= c->n)
            return false;
        drop_front(c, k);
    }
    if (c->n < c->cap)
        return true;
    uint32_t cap = c->cap ? c->cap * 2 : 64;
    if (cap > c->max_packets)
        cap = c->max_packets;
    gop_entry_t *g = realloc(c->e, cap * sizeof(*g));
    if (!g)
        return false;
    c->e = g;
    c->cap = cap;
    return true;
}

int gop_cache_push(gop_cache_t *c, const gop_entry_t *e)
{
    if (e->start) {
        keep_history(c, e);
        c->valid = true;
    }
    if (!c->valid)
        return 0;
    if (!make_room(c, e)) {
        gop_cache_clear(c);
        return 1;
    }
    c->e[c->n] = *e;
    c->e[c->n].buf = pktbuf_ref(e->buf);
    c->n++;
    c->bytes += e->len;
    return 0;
}

uint32_t gop_cache_from(const gop_cache_t *c, int64_t history_ms)
{
    if (c->n == 0)
        return 0;
    int64_t newest = c->e[c->n - 1].at_ms;
    uint32_t from = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->e[i].start)
            continue;
        if (history_ms <= 0 || c->e[i].at_ms <= newest - history_ms)
            from = i;
    }
    return from;
}
