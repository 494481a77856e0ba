/* The HTTP API thread: libmicrohttpd in, the loop's inproc socket out. */
#ifndef PRISM_COORD_HTTP_H
#define PRISM_COORD_HTTP_H

typedef struct coord_http coord_http_t;

/*
 * Starts libmicrohttpd on bind_addr:port with one internal thread. Every
 * request is checked (body size, bearer token for POST and DELETE, compared
 * in constant time) and then forwarded to the loop over a DEALER connected
 * to loop_endpoint (inproc), whose answer becomes the response; the loop is
 * the only reader of farm state. token is copied; an empty token refuses
 * every mutating call. Returns NULL (logged) if the port cannot be bound.
 */
coord_http_t *coord_http_start(const char *bind_addr, int port,
                               const char *token, const char *loop_endpoint);

/* Stops the daemon (joins its thread), closes its socket, frees; NULL-safe.
 * Call before the loop's socket and the ZeroMQ context go away. */
void coord_http_stop(coord_http_t **hp);

#endif
