/* One blocking HTTP/1.1 request with a deadline (PUT, DELETE to an origin). */
#ifndef PRISM_HTTP_CLIENT_H
#define PRISM_HTTP_CLIENT_H

#include <stddef.h>

/*
 * Sends METHOD to an http:// URL (http://host[:port]/path, an IPv6 host in
 * brackets) with a body of LEN bytes (DATA may be NULL when LEN is 0; a
 * Content-Length header is always sent, so a DELETE carries no body and no
 * chunked encoding) and reads the status line of the answer. The whole
 * exchange (name lookup aside) ends within TIMEOUT_MS. Blocking; any thread.
 * Returns 0 with *status set to the origin's HTTP status (any status,
 * 4xx and 5xx included), or a negative errno with a short reason in ERR:
 * -EPROTONOSUPPORT for a URL that is not plain http:// (https, user info),
 * -EINVAL for a malformed URL, -ETIMEDOUT, or the socket call's errno.
 */
int http_client_request(const char *method, const char *url, const void *data,
                        size_t len, int timeout_ms, int *status, char *err,
                        size_t errlen);

#endif
