/* The origin's files in memory: path -> bytes, bounded, oldest evicted
 * (or spilled to disk). */
#include "origin_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * How this works: one chained hash table of entries by path, and two lists
 * in the order files were put (a replaced file moves to the end): media
 * and the like in one, playlists in the other, so eviction takes the head
 * of the first and only then of the second, in O(1). Playlists that carry
 * a preload hint are also chained in a second, fixed-size table keyed by
 * the hinted path, so a request for a missing file learns in O(1) whether
 * it is hinted.
 * With a disk spill, a file memory evicts moves to a third list (spilled,
 * in age order too) and its write is queued as a job; the entry keeps its
 * blob until the write is reported done, so it is served all along.
 */

#define HINT_BUCKETS 1024

typedef enum { IN_MEMORY, SPILLING, ON_DISK } where_t;

typedef struct entry {
    char *path;
    origin_blob_t *blob; /* NULL once ON_DISK */
    size_t len;
    where_t where;
    uint64_t spill_id; /* SPILLING, ON_DISK: its file */
    int64_t stored_ms;
    bool playlist;
    char *hint; /* playlists: the hinted path, or NULL */
    bool has_report;
    origin_report_t report; /* playlists: origin_store_set_report */
    int64_t hold_ms;
    struct entry *hnext;       /* hash chain by path */
    struct entry *hint_next;   /* hint chain by hint */
    struct entry *prev, *next; /* age list */
} entry_t;

typedef struct {
    entry_t *head, *tail;
} age_list_t;

struct origin_store {
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    entry_t *hints[HINT_BUCKETS];
    age_list_t media, playlists, spilled;
    origin_store_stats_t st;
    bool spill;
    uint64_t next_id;
    origin_spill_job_t *jobs; /* queued disk jobs */
    int njobs, capjobs;
};

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void origin_etag(const void *data, size_t len, char out[24])
{
    snprintf(out, 24, "\"%016llx\"",
             (unsigned long long)(fnv1a(data, len) ^ (uint64_t)len));
}

origin_blob_t *origin_blob_alloc(size_t len)
{
    origin_blob_t *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = '\0'; /* playlists are parsed as text */
    return b;
}

void origin_blob_seal(origin_blob_t *b)
{
    origin_etag(b->data, b->len, b->etag);
}

origin_blob_t *origin_blob_new(const void *data, size_t len)
{
    origin_blob_t *b = origin_blob_alloc(len);
    if (!b)
        return NULL;
    if (len)
        memcpy(b->data, data, len);
    origin_blob_seal(b);
    return b;
}

origin_blob_t *origin_blob_ref(origin_blob_t *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void origin_blob_unref(origin_blob_t **bp)
{
    origin_blob_t *b = *bp;
    if (!b)
        return;
    *bp = NULL;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

origin_blob_t *origin_blob_of_data(void *data)
{
    return (origin_blob_t *)((char *)data - offsetof(origin_blob_t, data));
}

static uint64_t hash_str(const char *s)
{
    return fnv1a(s, strlen(s));
}

origin_store_t *origin_store_new(uint64_t max_bytes)
{
    origin_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nbuckets = 256;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->st.max_bytes = max_bytes;
    return s;
}

static void entry_free(entry_t *e)
{
    origin_blob_unref(&e->blob);
    free(e->path);
    free(e->hint);
    free(e);
}

void origin_store_free(origin_store_t **sp)
{
    origin_store_t *s = *sp;
    if (!s)
        return;
    age_list_t *lists[] = {&s->media, &s->playlists, &s->spilled};
    for (int l = 0; l < 3; l++) {
        entry_t *e = lists[l]->head;
        while (e) {
            entry_t *n = e->next;
            entry_free(e);
            e = n;
        }
    }
    for (int i = 0; i < s->njobs; i++)
        origin_spill_job_free(&s->jobs[i]);
    free(s->jobs);
    free(s->buckets);
    free(s);
    *sp = NULL;
}

static entry_t **find_slot(origin_store_t *s, const char *path)
{
    entry_t **pp = &s->buckets[hash_str(path) & (s->nbuckets - 1)];
    while (*pp && strcmp((*pp)->path, path))
        pp = &(*pp)->hnext;
    return pp;
}

static age_list_t *list_of(origin_store_t *s, const entry_t *e)
{
    if (e->where != IN_MEMORY)
        return &s->spilled;
    return e->playlist ? &s->playlists : &s->media;
}

static void list_unlink(age_list_t *l, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_append(age_list_t *l, entry_t *e)
{
    e->prev = l->tail;
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void hint_unlink(origin_store_t *s, entry_t *e)
{
    if (!e->hint)
        return;
    entry_t **pp = &s->hints[hash_str(e->hint) % HINT_BUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->hint_next;
    if (*pp)
        *pp = e->hint_next;
    e->hint_next = NULL;
    free(e->hint);
    e->hint = NULL;
}

static void hint_link(origin_store_t *s, entry_t *e, char *hint)
{
    e->hint = hint;
    entry_t **head = &s->hints[hash_str(hint) % HINT_BUCKETS];
    e->hint_next = *head;
    *head = e;
}

/* Queues a disk job (blob and path taken, also on failure). */
static bool push_job(origin_store_t *s, uint64_t id, origin_blob_t *blob,
                     char *path)
{
    origin_spill_job_t j = {.id = id, .blob = blob, .path = path};
    if (s->njobs == s->capjobs) {
        int cap = s->capjobs ? 2 * s->capjobs : 16;
        origin_spill_job_t *n = realloc(s->jobs, (size_t)cap * sizeof(*n));
        if (!n) {
            origin_spill_job_free(&j);
            return false; /* a removal lost leaves a file until restart */
        }
        s->jobs = n;
        s->capjobs = cap;
    }
    s->jobs[s->njobs++] = j;
    return true;
}

/* Lets go of e's bytes (its data, or its file once written), counted
 * where they were. */
static void drop_data(origin_store_t *s, entry_t *e)
{
    if (e->where == IN_MEMORY) {
        s->st.bytes -= e->len;
    } else {
        s->st.spill_bytes -= e->len;
        s->st.spill_files--;
    }
    if (e->where == ON_DISK)
        push_job(s, e->spill_id, NULL, NULL);
    /* SPILLING: the write's report finds the entry gone and removes it. */
    origin_blob_unref(&e->blob);
    e->where = IN_MEMORY;
}

/* Unlinks e from everything and frees it. */
static void remove_entry(origin_store_t *s, entry_t *e)
{
    entry_t **pp = find_slot(s, e->path);
    if (*pp == e)
        *pp = e->hnext;
    hint_unlink(s, e);
    list_unlink(list_of(s, e), e);
    drop_data(s, e);
    s->st.files--;
    entry_free(e);
}

static void grow(origin_store_t *s)
{
    size_t n = s->nbuckets * 2;
    entry_t **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e) {
            entry_t *next = e->hnext;
            size_t j = hash_str(e->path) & (n - 1);
            e->hnext = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void evict_one(origin_store_t *s, entry_t *e)
{
    s->st.evictions++;
    s->st.evicted_bytes += e->len;
    remove_entry(s, e);
}

/* Moves e from memory to the spill: its write queued, counted on disk. */
static bool spill_entry(origin_store_t *s, entry_t *e)
{
    char *path = strdup(e->path);
    uint64_t id = ++s->next_id;
    if (!path || !push_job(s, id, origin_blob_ref(e->blob), path))
        return false;
    list_unlink(&s->media, e);
    s->st.bytes -= e->len;
    e->where = SPILLING;
    e->spill_id = id;
    s->st.spill_bytes += e->len;
    s->st.spill_files++;
    list_append(&s->spilled, e);
    return true;
}

/* Evicts the oldest files, media first, keeping `keep`: to the spill
 * (media only) when there is one, then the oldest spilled past its limit. */
static void evict(origin_store_t *s, const entry_t *keep)
{
    while (s->st.bytes > s->st.max_bytes) {
        entry_t *e = s->media.head;
        if (e == keep)
            e = e->next;
        if (!e) {
            e = s->playlists.head;
            if (e == keep)
                e = e->next;
        }
        if (!e)
            break;
        if (!s->spill || e->playlist || e->len > s->st.spill_max_bytes ||
            !spill_entry(s, e))
            evict_one(s, e);
    }
    while (s->st.spill_bytes > s->st.spill_max_bytes && s->spilled.head)
        evict_one(s, s->spilled.head);
}

int origin_store_put(origin_store_t *s, const char *path, origin_blob_t *blob,
                     int64_t now_ms, const char *hint, int64_t hold_ms)
{
    if (blob->len > s->st.max_bytes) {
        origin_blob_unref(&blob);
        return -EFBIG;
    }
    char *hcopy = NULL;
    if (hint && hint[0] && !(hcopy = strdup(hint))) {
        origin_blob_unref(&blob);
        return -ENOMEM;
    }
    entry_t **pp = find_slot(s, path);
    entry_t *e = *pp;
    int rc = 1;
    if (e) {
        hint_unlink(s, e);
        list_unlink(list_of(s, e), e);
        drop_data(s, e);
    } else {
        e = calloc(1, sizeof(*e));
        if (!e || !(e->path = strdup(path))) {
            free(e);
            free(hcopy);
            origin_blob_unref(&blob);
            return -ENOMEM;
        }
        e->playlist = origin_path_is_playlist(path);
        *pp = e;
        s->st.files++;
        rc = 0;
    }
    e->blob = blob;
    e->len = blob->len;
    e->has_report = false;
    e->stored_ms = now_ms;
    e->hold_ms = hold_ms;
    s->st.bytes += blob->len;
    if (hcopy)
        hint_link(s, e, hcopy);
    list_append(list_of(s, e), e);
    evict(s, e);
    if (rc == 0 && s->st.files > s->nbuckets)
        grow(s);
    return rc;
}

origin_blob_t *origin_store_get(origin_store_t *s, const char *path,
                                int64_t *stored_ms)
{
    entry_t *e = *find_slot(s, path);
    if (!e || !e->blob)
        return NULL;
    if (stored_ms)
        *stored_ms = e->stored_ms;
    return e->blob;
}

int origin_store_set_report(origin_store_t *s, const char *path,
                            origin_report_t r)
{
    entry_t *e = *find_slot(s, path);
    if (!e)
        return -ENOENT;
    e->report = r;
    e->has_report = true;
    return 0;
}

bool origin_store_report(origin_store_t *s, const char *path,
                         origin_report_t *out)
{
    entry_t *e = *find_slot(s, path);
    if (!e || !e->has_report)
        return false;
    *out = e->report;
    return true;
}

bool origin_store_on_disk(origin_store_t *s, const char *path, uint64_t *id,
                          size_t *len)
{
    entry_t *e = *find_slot(s, path);
    if (!e || e->where != ON_DISK)
        return false;
    *id = e->spill_id;
    *len = e->len;
    return true;
}

void origin_store_set_spill(origin_store_t *s, uint64_t max_bytes)
{
    s->spill = max_bytes > 0;
    s->st.spill_max_bytes = max_bytes;
}

int origin_store_spill_jobs(origin_store_t *s, origin_spill_job_t *jobs,
                            int max)
{
    int n = s->njobs < max ? s->njobs : max;
    if (n <= 0)
        return 0;
    memcpy(jobs, s->jobs, (size_t)n * sizeof(*jobs));
    memmove(s->jobs, s->jobs + n, (size_t)(s->njobs - n) * sizeof(*jobs));
    s->njobs -= n;
    return n;
}

void origin_store_spill_done(origin_store_t *s, origin_spill_job_t *job,
                             bool ok)
{
    entry_t *e = *find_slot(s, job->path);
    if (e && e->where == SPILLING && e->spill_id == job->id) {
        if (ok) {
            e->where = ON_DISK;
            origin_blob_unref(&e->blob);
            s->st.spill_writes++;
        } else {
            s->st.spill_failures++;
            remove_entry(s, e);
        }
    } else if (ok) {
        push_job(s, job->id, NULL, NULL); /* written for nothing */
    }
    origin_spill_job_free(job);
}

void origin_spill_job_free(origin_spill_job_t *job)
{
    origin_blob_unref(&job->blob);
    free(job->path);
    job->path = NULL;
}

int origin_store_delete(origin_store_t *s, const char *path)
{
    entry_t *e = *find_slot(s, path);
    if (!e)
        return -ENOENT;
    remove_entry(s, e);
    return 0;
}

bool origin_store_hinted(origin_store_t *s, const char *path, int64_t *hold_ms)
{
    for (entry_t *e = s->hints[hash_str(path) % HINT_BUCKETS]; e;
         e = e->hint_next) {
        if (!strcmp(e->hint, path)) {
            if (hold_ms)
                *hold_ms = e->hold_ms;
            return true;
        }
    }
    return false;
}

void origin_store_stats(const origin_store_t *s, origin_store_stats_t *out)
{
    *out = s->st;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

bool origin_path_is_playlist(const char *path)
{
    return ends_with(path, ".m3u8");
}

const char *origin_content_type(const char *path)
{
    static const struct {
        const char *ext, *ctype;
    } types[] = {
        {".m3u8", "application/vnd.apple.mpegurl"},
        {".m4s", "video/iso.segment"},
        {".mp4", "video/mp4"},
        {".ts", "video/mp2t"},
        {".jpg", "image/jpeg"},
        {".m4a", "audio/mp4"},
        {".aac", "audio/aac"},
        {".vtt", "text/vtt"},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (ends_with(path, types[i].ext))
            return types[i].ctype;
    return "application/octet-stream";
}

bool origin_path_is_immutable(const char *path)
{
    return ends_with(path, ".m4s") || ends_with(path, ".mp4") ||
           ends_with(path, ".ts") || ends_with(path, ".m4a") ||
           ends_with(path, ".aac");
}
