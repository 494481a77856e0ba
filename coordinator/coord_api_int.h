/* What the API's files share: a request the loop answers, the replies,
 * the handlers' shape (coord_api.c routes; coord_api_channels.c and
 * coord_metrics.c answer). Loop thread only. */
#ifndef PRISM_COORD_API_INT_H
#define PRISM_COORD_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

#include "coord_api.h"

/* Channel names and profile names are 1..63 characters (docs/api.md); the
 * buffers hold the NUL as well. */
#define CHANNEL_NAME_MAX 64

/* A request the loop answers, possibly after a database round trip. */
typedef struct {
    coord_t *c;
    void *sock; /* the loop's inproc ROUTER, where the answer goes */
    zmq_msg_t rid;
    uint64_t reqid;
    json_t *body;  /* parsed request body ({} when none) */
    char role[16]; /* admin, viewer or anonymous (coord_http.c) */
    char name[CHANNEL_NAME_MAX];
    char profile[CHANNEL_NAME_MAX];
    int priority;
    int64_t id;
} api_req_t;

void api_req_free(api_req_t *r);

/* Answers r: raw bytes, a JSON value (taken), or the error shape
 * {"error": {"code": CODE, "message": MSG}}. */
void api_reply_raw(api_req_t *r, int status, const char *ctype,
                   const char *body, size_t len);
void api_reply_json(api_req_t *r, int status, json_t *j);
void api_reply_error(api_req_t *r, int status, const char *code,
                     const char *msg);

/*
 * A route's handler: PARAMS are the path's {placeholders} in order, QUERY
 * the query string. Returns true when r is kept for a later answer (a
 * database callback answers and frees it), false when it was answered.
 */
typedef bool (*api_handler_t)(coord_t *c, api_req_t *r,
                              const coord_api_loop_t *loop,
                              const char *const *params, const char *query);

/* coord_metrics.c: GET /metrics. */
bool coord_api_metrics(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,
                       const char *const *params, const char *query);

/* coord_api_channels.c: /api/channels and /api/profiles (docs/api.md). */
#define API_HANDLER(name)                                                      \
    bool name(coord_t *c, api_req_t *r, const coord_api_loop_t *loop,          \
              const char *const *params, const char *query)
API_HANDLER(coord_api_channels_list);
API_HANDLER(coord_api_channel_create);
API_HANDLER(coord_api_channel_get);
API_HANDLER(coord_api_channel_patch);
API_HANDLER(coord_api_channel_delete);
API_HANDLER(coord_api_channel_key);
API_HANDLER(coord_api_profiles_list);
API_HANDLER(coord_api_profile_get);
API_HANDLER(coord_api_profile_put);
API_HANDLER(coord_api_profile_delete);

#endif
