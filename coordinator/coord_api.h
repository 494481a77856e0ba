/* The operator API's answers, computed on the loop thread from farm state. */
#ifndef PRISM_COORD_API_H
#define PRISM_COORD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"

/* What the loop lends the API for one call of coord_api_handle. */
typedef struct {
    void *sock;             /* the inproc ROUTER the HTTP thread asks through */
    bool leader;            /* this coordinator holds the lock (/metrics) */
    uint64_t zap_denied;    /* connections the allowlist refused (/metrics) */
    struct webhooks *hooks; /* delivery state (/api/webhooks, /metrics) */
    const struct publish_hook *phook; /* its counters (/metrics) */
} coord_api_loop_t;

/*
 * Answers the requests waiting on loop->sock, at most API_BATCH_MAX in one
 * call; one that needs the database is answered from its callback later,
 * on sock too. It reads farm state and acts (drain, stop) only through the
 * functions of farm.h, ops.h, rows.h and release.h. Loop thread only.
 */
void coord_api_handle(coord_t *c, const coord_api_loop_t *loop);

/* The API's routes, I < coord_api_route_count(): method ("GET", ...) and
 * path ("/api/channels/{name}"), as docs/openapi.json must list them. */
size_t coord_api_route_count(void);
void coord_api_route(size_t i, const char **method, const char **path);

#endif
