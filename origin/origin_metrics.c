/* prism-origin's counters and their Prometheus text. */
#include "origin_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned codes[ORIGIN_NCODES] = {200, 201, 204, 304, 400, 401,
                                              404, 405, 413, 500, 503, 507};
static const char *const method_names[ORIGIN_M_COUNT] = {
    "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "other"};
static const char *const reject_names[ORIGIN_REJ_COUNT] = {
    "unauthorized", "too_large", "bad_path"};

origin_method_t origin_method_of(const char *method)
{
    for (int i = 0; i < ORIGIN_M_OTHER; i++)
        if (!strcmp(method, method_names[i]))
            return (origin_method_t)i;
    return ORIGIN_M_OTHER;
}

void origin_metrics_request(origin_metrics_t *m, origin_method_t method,
                            unsigned status)
{
    int i = 0;
    while (i < ORIGIN_NCODES && codes[i] != status)
        i++;
    atomic_fetch_add_explicit(&m->requests[method][i], 1, memory_order_relaxed);
}

void origin_metrics_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void origin_metrics_gauge(atomic_int_fast64_t *g, int64_t delta)
{
    atomic_fetch_add_explicit(g, delta, memory_order_relaxed);
}

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} out_t;

static void add(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(out_t *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static uint64_t get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void counter(out_t *o, const char *name, const char *help, uint64_t v)
{
    add(o, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help,
        name, name, v);
}

static void gauge(out_t *o, const char *name, const char *help, int64_t v)
{
    add(o, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", name, help, name,
        name, v);
}

static void requests(out_t *o, origin_metrics_t *m)
{
    add(o, "# HELP prism_origin_requests_total HTTP requests answered, by "
           "method and status code.\n"
           "# TYPE prism_origin_requests_total counter\n");
    for (int i = 0; i < ORIGIN_M_COUNT; i++)
        for (int c = 0; c <= ORIGIN_NCODES; c++) {
            uint64_t v = get(&m->requests[i][c]);
            if (!v)
                continue;
            char code[8] = "other";
            if (c < ORIGIN_NCODES)
                snprintf(code, sizeof(code), "%u", codes[c]);
            add(o,
                "prism_origin_requests_total{method=\"%s\",code=\"%s\"} "
                "%" PRIu64 "\n",
                method_names[i], code, v);
        }
}

char *origin_metrics_render(origin_metrics_t *m, const origin_store_stats_t *st,
                            size_t *len)
{
    out_t o = {malloc(4096), 0, 4096, false};
    if (!o.p)
        return NULL;
    o.p[0] = '\0';
    requests(&o, m);
    gauge(&o, "prism_origin_blocked_requests",
          "Blocking playlist requests held now.",
          atomic_load_explicit(&m->blocked_now, memory_order_relaxed));
    counter(&o, "prism_origin_blocking_answered_total",
            "Blocking playlist requests held, then answered.",
            get(&m->block_answered));
    counter(&o, "prism_origin_blocking_immediate_total",
            "Blocking playlist requests the playlist already answered.",
            get(&m->block_immediate));
    counter(&o, "prism_origin_blocking_timeouts_total",
            "Blocking playlist requests held three target durations, "
            "then answered 503.",
            get(&m->block_timeouts));
    gauge(&o, "prism_origin_hint_holds",
          "Requests for a preload-hinted part held now.",
          atomic_load_explicit(&m->hint_held_now, memory_order_relaxed));
    add(&o,
        "# HELP prism_origin_hint_holds_total Requests for a "
        "preload-hinted part that was not there yet, by outcome.\n"
        "# TYPE prism_origin_hint_holds_total counter\n"
        "prism_origin_hint_holds_total{outcome=\"answered\"} %" PRIu64 "\n"
        "prism_origin_hint_holds_total{outcome=\"withdrawn\"} %" PRIu64 "\n"
        "prism_origin_hint_holds_total{outcome=\"timeout\"} %" PRIu64 "\n",
        get(&m->hint_answered), get(&m->hint_gone), get(&m->hint_timeouts));
    counter(&o, "prism_origin_delta_updates_total",
            "Playlist answers with EXT-X-SKIP (_HLS_skip).",
            get(&m->delta_answers));
    gauge(&o, "prism_origin_store_bytes", "Bytes of files stored.",
          (int64_t)st->bytes);
    gauge(&o, "prism_origin_store_files", "Files stored.", (int64_t)st->files);
    gauge(&o, "prism_origin_store_limit_bytes",
          "The store's byte limit (max_bytes).", (int64_t)st->max_bytes);
    counter(&o, "prism_origin_evictions_total",
            "Files dropped to stay under max_bytes (and spill_max_bytes).",
            st->evictions);
    counter(&o, "prism_origin_evicted_bytes_total", "Bytes of those files.",
            st->evicted_bytes);
    counter(&o, "prism_origin_put_bytes_total", "Bytes of PUT bodies stored.",
            get(&m->put_bytes));
    gauge(&o, "prism_origin_spill_bytes",
          "Bytes of files spilled to disk (spill_dir), or being written.",
          (int64_t)st->spill_bytes);
    gauge(&o, "prism_origin_spill_files", "Files spilled to disk.",
          (int64_t)st->spill_files);
    gauge(&o, "prism_origin_spill_limit_bytes",
          "The spill's byte limit (spill_max_bytes; 0: no spill).",
          (int64_t)st->spill_max_bytes);
    counter(&o, "prism_origin_spill_writes_total",
            "Files memory evicted, written to disk.", st->spill_writes);
    counter(&o, "prism_origin_spill_write_failures_total",
            "Spill writes that failed (the file was dropped; see the log).",
            st->spill_failures);
    counter(&o, "prism_origin_spill_reads_total",
            "Answers read from the spill.", get(&m->spill_reads));
    counter(&o, "prism_origin_spill_read_failures_total",
            "Spilled files that could not be read (see the log).",
            get(&m->spill_read_failures));
    add(&o, "# HELP prism_origin_uploads_rejected_total PUT and DELETE "
            "requests refused, by reason.\n"
            "# TYPE prism_origin_uploads_rejected_total counter\n");
    for (int i = 0; i < ORIGIN_REJ_COUNT; i++)
        add(&o,
            "prism_origin_uploads_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
            reject_names[i], get(&m->rejected[i]));
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
