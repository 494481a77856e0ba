/* prism-bench sched's socket run: the real prism-coordinator at scale. */
#ifndef PRISM_BENCH_SCHED_SOCKET_H
#define PRISM_BENCH_SCHED_SOCKET_H

#include <stdint.h>

/*
 * What it does: starts a prism-coordinator process on a PostgreSQL
 * database, makes a channel per stream through its API, and runs simulated
 * workers and one simulated ingest in this process, each its own DEALER
 * speaking the real protocol over CURVE tcp on 127.0.0.1. Every worker
 * reports every report_ms the whole time. Then:
 *  1. publishes the streams one after another: a PublishRequest, its
 *     PublishReply (the key checked in PostgreSQL, the stream placed) and
 *     the Assign the chosen worker gets, each timed from the request;
 *  2. holds steady for steady_s with every stream running and reported:
 *     the coordinator's CPU (its /proc utime + stime over the window, in
 *     cores), its database queries a second (prism_db_queries_total),
 *     and the reports sent against those the
 *     coordinator took (prism_worker_reports_total) and found missing
 *     (prism_worker_report_gaps_total);
 *  3. kills `kill` workers at once (their sockets close, their reports
 *     stop) and times until every stream they ran was assigned elsewhere:
 *     from the kill (so with the missed_reports x report_ms of detection)
 *     and from the first of those Assigns to the last (the loop's work).
 * The coordinator's peak and final RSS come from /proc. The bench process
 * shares the machine with the coordinator and PostgreSQL: on a small host
 * the figures include that contention.
 */

/* A simulated worker runs at most this many streams. */
#define SK_STREAMS_PER_WORKER 32

typedef struct {
    const char *coord_bin; /* prism-coordinator */
    const char *pg_url;
    int workers, streams;
    int report_ms; /* every simulated worker's report interval */
    int stats_ms;  /* the ingest's stats interval per stream; 0 none */
    int steady_s;  /* the steady-state window */
    int kill;      /* workers killed at once */
} sk_opts_t;

typedef struct {
    double publish_p50_us, publish_p99_us; /* request to PublishReply */
    double assign_p50_us, assign_p99_us;   /* request to the worker's Assign */
    double assign_max_us;
    double setup_s;          /* channels made and workers registered */
    uint64_t registers_sent; /* Registers and the Hello until all were
                                acknowledged, retries included */
    double coord_cores;      /* steady state: cores of CPU (1.0 = one core) */
    double db_queries_per_s; /* the coordinator's, steady state */
    double stats_per_s;      /* IngestStats the ingest sent, steady state */
    uint64_t reports_sent, reports_taken, report_gaps; /* in the window */
    double replace_all_ms, replace_pass_ms;            /* -1: none */
    long affected, replaced;
    long rss_hwm_kb, rss_kb;
} sk_result_t;

/* Runs it; fills *res. Returns 0, or -1 (said on stderr; the run's files
 * are kept and named). */
int sk_run(const sk_opts_t *o, sk_result_t *res);

/* The figures as JSON fields (", \"socket_...\": ..." to go inside the
 * bench's object) or as text lines, on stdout. */
void sk_print_json(const sk_opts_t *o, const sk_result_t *r);
void sk_print_text(const sk_opts_t *o, const sk_result_t *r);

#endif
