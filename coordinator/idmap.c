/* A string-to-index hash map for the coordinator's worker and stream ids. */
#include "idmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_GONE } slot_state_t;

typedef struct {
    slot_state_t state;
    long value;
    char key[IDMAP_KEY_MAX];
} slot_t;

struct idmap {
    slot_t *slots;
    size_t cap;   /* power of two */
    size_t count; /* used */
    size_t gone;  /* tombstones */
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

idmap_t *idmap_new(void)
{
    idmap_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void idmap_free(idmap_t **mp)
{
    if (!*mp)
        return;
    free((*mp)->slots);
    free(*mp);
    *mp = NULL;
}

/* The slot holding key, or NULL. */
static slot_t *find(const idmap_t *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask, n = 0; n < m->cap;
         i = (i + 1) & mask, n++) {
        slot_t *s = &m->slots[i];
        if (s->state == SLOT_EMPTY)
            return NULL;
        if (s->state == SLOT_USED && !strcmp(s->key, key))
            return s;
    }
    return NULL;
}

static void place(slot_t *slots, size_t cap, const char *key, long value)
{
    size_t mask = cap - 1;
    size_t i = hash(key) & mask;
    while (slots[i].state == SLOT_USED)
        i = (i + 1) & mask;
    slots[i].state = SLOT_USED;
    slots[i].value = value;
    snprintf(slots[i].key, IDMAP_KEY_MAX, "%s", key);
}

static int resize(idmap_t *m, size_t cap)
{
    slot_t *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].state == SLOT_USED)
            place(ns, cap, m->slots[i].key, m->slots[i].value);
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    m->gone = 0;
    return 0;
}

int idmap_put(idmap_t *m, const char *key, long value)
{
    size_t len = key ? strlen(key) : 0;
    if (len == 0 || len >= IDMAP_KEY_MAX)
        return -EINVAL;
    slot_t *s = find(m, key);
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->count + m->gone + 1) * 2 > m->cap) {
        size_t cap = (m->count + 1) * 2 > m->cap / 2 ? m->cap * 2 : m->cap;
        if (resize(m, cap) < 0)
            return -ENOMEM;
    }
    /* Reuse the first tombstone on the probe path, else an empty slot. */
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
        slot_t *t = &m->slots[i];
        if (t->state != SLOT_USED) {
            if (t->state == SLOT_GONE)
                m->gone--;
            t->state = SLOT_USED;
            t->value = value;
            snprintf(t->key, IDMAP_KEY_MAX, "%s", key);
            m->count++;
            return 0;
        }
    }
}

long idmap_get(const idmap_t *m, const char *key)
{
    if (!key || !key[0])
        return -1;
    const slot_t *s = find(m, key);
    return s ? s->value : -1;
}

int idmap_del(idmap_t *m, const char *key)
{
    slot_t *s = key ? find(m, key) : NULL;
    if (!s)
        return -ENOENT;
    s->state = SLOT_GONE;
    s->key[0] = '\0';
    m->count--;
    m->gone++;
    return 0;
}

size_t idmap_count(const idmap_t *m)
{
    return m->count;
}
