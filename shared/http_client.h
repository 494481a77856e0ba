/* HTTP/1.1 requests on libcurl, one kept-alive connection per client. */
#ifndef PRISM_HTTP_CLIENT_H
#define PRISM_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct http_client http_client_t;

/* What every request of one client shares; strings are copied. */
typedef struct {
    int connect_timeout_ms;   /* TCP and TLS connect; 0 = libcurl's (300 s) */
    int timeout_ms;           /* a whole request, connect to answer; 0 = none */
    const char *bearer_token; /* "Authorization: Bearer T"; NULL, "" = none */
    const char *content_type; /* of request bodies; NULL = none sent */
    const char *user_agent;   /* NULL = "prism" */
    size_t body_max;     /* the answer's body kept up to this many bytes (the
                            rest is read and dropped); 0 = none kept */
    const char *ca_file; /* https: CA certificates (PEM) the server's must
                            chain to; NULL, "" = the system's store */
    bool tls_no_verify;  /* https: accept any certificate and host name */
} http_client_opts_t;

/*
 * Initialises libcurl for the process (curl_global_init), once; later
 * calls return the first one's result. Call it at the process's start,
 * before any thread; http_client_new calls it too. Returns 0 or -EIO
 * (logged).
 */
int http_client_global_init(void);

/*
 * A client: one libcurl handle that keeps its connection alive between
 * requests to the same host (and reconnects when the server closed it).
 * Only http:// and https:// URLs; proxies from the environment are not
 * used. Returns NULL on failure (logged).
 */
http_client_t *http_client_new(const http_client_opts_t *opts);

/* Closes the connection and frees C; sets *cp to NULL; accepts NULL. */
void http_client_free(http_client_t **cp);

/*
 * Sends METHOD ("GET", "PUT", "POST", "DELETE", ...) to URL with LEN bytes
 * of BODY (borrowed; NULL when LEN is 0). Every method but a bodiless GET
 * carries a Content-Length (0 included), never a chunked body, and no
 * "Expect: 100-continue". Blocking, within the client's timeouts; one
 * thread at a time per client.
 * Returns 0 with *status set to the answer's HTTP status (any: 4xx and 5xx
 * too) and its body in http_client_body(), or a negative errno with a
 * reason (libcurl's text, and the system's for a socket error) in ERR:
 * -ETIMEDOUT, -EPROTONOSUPPORT (not http or https), -EINVAL (a malformed
 * URL), -EHOSTUNREACH (name lookup), -ENOMEM, the socket call's errno
 * (-ECONNREFUSED, ...) or -EIO.
 */
int http_client_request(http_client_t *c, const char *method, const char *url,
                        const void *body, size_t len, int *status, char *err,
                        size_t errlen);

/*
 * As http_client_request, with the header lines of the NULL-terminated
 * HEADERS ("Name: value", borrowed) sent after the client's own on this
 * request only. NULL or an empty list: none.
 */
int http_client_request_with(http_client_t *c, const char *method,
                             const char *url, const char *const *headers,
                             const void *body, size_t len, int *status,
                             char *err, size_t errlen);

/*
 * The last answer's body, at most opts.body_max bytes, NUL-terminated
 * ("" when none was kept); *len gets its length when LEN is not NULL.
 * Owned by C, valid until its next request.
 */
const char *http_client_body(const http_client_t *c, size_t *len);

/*
 * One request on a client of its own, made from OPTS and freed here (its
 * connection closed): as http_client_request, and when ANSWER is not
 * NULL, *answer gets a copy of the answer's body (at most opts.body_max
 * bytes, NUL-terminated; the caller frees it), or NULL on failure.
 */
int http_client_once(const http_client_opts_t *opts, const char *method,
                     const char *url, const void *body, size_t len, int *status,
                     char **answer, char *err, size_t errlen);

#endif
