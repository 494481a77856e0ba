/* The HTTP API thread: libmicrohttpd in, the loop's inproc socket out. */
#ifndef PRISM_COORD_HTTP_H
#define PRISM_COORD_HTTP_H

typedef struct coord_http coord_http_t;

/*
 * Starts libmicrohttpd on bind_addr:port with one internal thread. The
 * console's files (console_files.h) are answered here; every other request
 * is checked (body size; the bearer token, compared in constant time:
 * TOKEN for anything but GET and HEAD, TOKEN or READ_TOKEN for GET /api/...
 * when READ_TOKEN is set) and then forwarded, with the caller's role
 * (admin, viewer, anonymous), to the loop over a DEALER connected to
 * loop_endpoint (inproc), whose answer becomes the response; the loop is
 * the only reader of farm state. Tokens are copied; an empty TOKEN refuses
 * every mutating call. Returns NULL (logged) if the port cannot be bound.
 */
coord_http_t *coord_http_start(const char *bind_addr, int port,
                               const char *token, const char *read_token,
                               const char *loop_endpoint);

/* Stops the daemon (joins its thread), closes its socket, frees; NULL-safe.
 * Call before the loop's socket and the ZeroMQ context go away. */
void coord_http_stop(coord_http_t **hp);

#endif
