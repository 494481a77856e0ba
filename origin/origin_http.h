/* prism-origin's HTTP server: uploads in, LL-HLS answers out. */
#ifndef PRISM_ORIGIN_HTTP_H
#define PRISM_ORIGIN_HTTP_H

#include "origin_config.h"

typedef struct origin_http origin_http_t;

/*
 * Starts listening as cfg says (cfg is copied). Returns NULL, logged, when
 * the address does not resolve, the port cannot be bound or memory runs
 * out. Threads: libmicrohttpd runs one thread per connection (at most
 * cfg->max_connections); a held request sleeps on its own thread.
 */
origin_http_t *origin_http_start(const origin_config_t *cfg);

/* The TCP port listened on (useful with port 0). */
int origin_http_port(const origin_http_t *h);

/*
 * Answers every held request at once (503) and stops listening; then frees
 * h and sets *hp = NULL. NULL is fine. Not from a signal handler.
 */
void origin_http_stop(origin_http_t **hp);

#endif
