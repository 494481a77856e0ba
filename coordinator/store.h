/* PostgreSQL from the event loop: libpq's asynchronous API, a bounded queue,
 * reconnect with backoff. */
#ifndef PRISM_STORE_H
#define PRISM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * How this works: one connection, one query in flight at a time, the rest
 * waiting in a bounded FIFO. The owner's poll loop asks store_fd() and
 * store_events() what to wait for, calls store_io() when the socket is ready
 * and store_tick() on every pass (reconnect timers). Nothing here blocks:
 * connecting goes through PQconnectStart/PQconnectPoll, queries through
 * PQsendQueryParams, PQflush, PQconsumeInput and PQisBusy.
 *
 * Reads are served before writes (two FIFOs), so an admission check does
 * not wait behind a backlog of log writes; writes keep their own order.
 * Writes (STORE_WRITE) are kept while the database is away, up to the queue
 * bound, and sent in order once it is back: a write that was in flight when
 * the connection broke is sent again. Reads are refused at once while the
 * database is away (-ENOTCONN), so callers can answer "database
 * unavailable" instead of waiting. When the queue is full the new query is
 * refused (-ENOSPC) and counted as dropped.
 *
 * Threads: one thread (the loop's) owns a store and calls everything.
 */

typedef struct store store_t;

/*
 * Called once per query with its result (res non-NULL, status checked by the
 * caller) or with err set (res NULL) when it failed or the store is freed.
 * res is valid only during the call.
 */
typedef void (*store_cb_t)(void *ud, const PGresult *res, const char *err);

/* Called each time the connection comes up, before queued queries run. */
typedef void (*store_up_cb_t)(void *ud);
/* Called each time an established connection is lost. */
typedef void (*store_down_cb_t)(void *ud, const char *err);

typedef struct {
    const char *url;            /* borrowed, copied */
    size_t queue_max;           /* queued reads at most, and writes at most */
    int64_t backoff_min_ms;     /* first reconnect delay */
    int64_t backoff_max_ms;     /* delays double up to this */
    int64_t connect_timeout_ms; /* a connect attempt is abandoned after this
                                   (0 = never) */
    store_up_cb_t on_up;
    store_down_cb_t on_down;
    void *ud;
} store_config_t;

#define STORE_READ  0x0 /* refused while down */
#define STORE_WRITE 0x1 /* queued while down, re-sent after a reconnect */
#define STORE_FRONT 0x2 /* goes before everything queued */

typedef struct {
    uint64_t queries;    /* completed */
    uint64_t failed;     /* answered with an error */
    uint64_t dropped;    /* refused because the queue was full */
    uint64_t reconnects; /* connections made after the first */
    size_t queued;       /* waiting now */
    size_t queue_max;
} store_stats_t;

/* Creates the store and starts connecting. NULL on allocation failure. */
store_t *store_new(const store_config_t *cfg);

/* Fails every queued query (cb with err "shutting down"), closes, frees. */
void store_free(store_t **sp);

/*
 * Queues one statement. sql is borrowed and must live until its callback
 * (string literals do); params (nparams, text format, NULL = SQL NULL) are
 * copied. cb may be NULL. Returns 0, -ENOTCONN (a read while down),
 * -ENOSPC (queue full; counted) or -ENOMEM.
 */
int store_query(store_t *s, const char *sql, int nparams,
                const char *const *params, int flags, store_cb_t cb, void *ud);

/* The socket to poll, or -1 when there is none (waiting to reconnect). */
int store_fd(const store_t *s);
/* ZMQ_POLLIN and/or ZMQ_POLLOUT: what to poll store_fd() for. */
short store_events(const store_t *s);
/* Handles readiness of the socket (revents from zmq_poll). */
void store_io(store_t *s, short revents, int64_t now_ms);
/* Reconnects when due; returns ms until it next wants a tick (-1: none). */
int64_t store_tick(store_t *s, int64_t now_ms);

/* True while connected (queries can run now). */
bool store_up(const store_t *s);
/* Drops the connection now (tests, and a leader that lost its lock). */
void store_disconnect(store_t *s, const char *why, int64_t now_ms);
void store_get_stats(const store_t *s, store_stats_t *out);

#endif
