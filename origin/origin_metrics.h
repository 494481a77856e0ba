/* prism-origin's counters and their Prometheus text. */
#ifndef PRISM_ORIGIN_METRICS_H
#define PRISM_ORIGIN_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "origin_store.h"

typedef enum {
    ORIGIN_M_GET,
    ORIGIN_M_HEAD,
    ORIGIN_M_PUT,
    ORIGIN_M_DELETE,
    ORIGIN_M_OPTIONS,
    ORIGIN_M_OTHER,
    ORIGIN_M_COUNT,
} origin_method_t;

/* The status codes counted one by one; others count as "other". */
#define ORIGIN_NCODES 12

typedef enum {
    ORIGIN_REJ_UNAUTHORIZED,
    ORIGIN_REJ_TOO_LARGE,
    ORIGIN_REJ_BAD_PATH,
    ORIGIN_REJ_COUNT,
} origin_reject_t;

/* Counters, updated from any thread with relaxed atomics. */
typedef struct {
    atomic_uint_fast64_t requests[ORIGIN_M_COUNT][ORIGIN_NCODES + 1];
    atomic_int_fast64_t blocked_now;      /* playlist requests held now */
    atomic_int_fast64_t hint_held_now;    /* hinted-part requests held now */
    atomic_uint_fast64_t block_answered;  /* held, then answered */
    atomic_uint_fast64_t block_timeouts;  /* held, then 503 */
    atomic_uint_fast64_t block_immediate; /* blocking query, no wait */
    atomic_uint_fast64_t hint_answered;   /* hinted part held, then sent */
    atomic_uint_fast64_t hint_gone;       /* hint withdrawn: 404 at once */
    atomic_uint_fast64_t hint_timeouts;   /* hinted part never came: 404 */
    atomic_uint_fast64_t delta_answers;   /* EXT-X-SKIP answers */
    atomic_uint_fast64_t put_bytes;
    atomic_uint_fast64_t spill_reads;         /* answers read from disk */
    atomic_uint_fast64_t spill_read_failures; /* spilled files unreadable */
    atomic_uint_fast64_t rejected[ORIGIN_REJ_COUNT];
} origin_metrics_t;

/* The method's index: "GET" -> ORIGIN_M_GET, unknown -> ORIGIN_M_OTHER. */
origin_method_t origin_method_of(const char *method);

/* Counts one answer of method with status. */
void origin_metrics_request(origin_metrics_t *m, origin_method_t method,
                            unsigned status);

/* Adds n to a counter or gauge (relaxed). */
void origin_metrics_add(atomic_uint_fast64_t *c, uint64_t n);
void origin_metrics_gauge(atomic_int_fast64_t *g, int64_t delta);

/*
 * The Prometheus text exposition of m and the store's figures st: a
 * malloc'd NUL-terminated text (caller frees) and its length, or NULL.
 */
char *origin_metrics_render(origin_metrics_t *m, const origin_store_stats_t *st,
                            size_t *len);

#endif
