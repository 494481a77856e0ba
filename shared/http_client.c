/* HTTP/1.1 requests on libcurl, one kept-alive connection per client. */
#include "http_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"

#define MOD "http"

struct http_client {
    CURL *h;
    struct curl_slist *headers;
    char *body; /* body_max + 1 bytes */
    size_t body_max, body_len;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ret;

static void global_init(void)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        log_error(MOD, "Cannot initialise libcurl.",
                  "call=curl_global_init err=\"%s\"", curl_easy_strerror(rc));
        global_ret = -EIO;
    }
}

int http_client_global_init(void)
{
    pthread_once(&global_once, global_init);
    return global_ret;
}

/* Appends the header line HEAD VALUE ("Name:" alone removes libcurl's). */
static int add_header(http_client_t *c, const char *head, const char *value)
{
    size_t n = strlen(head) + strlen(value) + 1;
    char *line = malloc(n);
    if (!line)
        return -ENOMEM;
    snprintf(line, n, "%s%s", head, value);
    struct curl_slist *l = curl_slist_append(c->headers, line);
    free(line);
    if (!l)
        return -ENOMEM;
    c->headers = l;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    http_client_t *c = arg;
    size_t len = size * n;
    size_t room = c->body_max - c->body_len;
    size_t take = len < room ? len : room;
    if (take) {
        memcpy(c->body + c->body_len, data, take);
        c->body_len += take;
        c->body[c->body_len] = '\0';
    }
    return len; /* the rest is read and dropped: the connection stays */
}

http_client_t *http_client_new(const http_client_opts_t *opts)
{
    if (http_client_global_init() < 0)
        return NULL;
    http_client_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->body = malloc(opts->body_max + 1)))
        goto nomem;
    c->body_max = opts->body_max;
    c->body[0] = '\0';
    c->h = curl_easy_init();
    if (!c->h) {
        log_error(MOD, "Cannot make an HTTP client.", "call=curl_easy_init");
        http_client_free(&c);
        return NULL;
    }
    /* "Expect:" off: a PUT goes at once, without waiting for a 100. */
    const char *ct = opts->content_type;
    const char *token = opts->bearer_token;
    if (add_header(c, "Expect:", "") < 0 ||
        add_header(c, ct ? "Content-Type: " : "Content-Type:", ct ? ct : "") <
            0 ||
        (token && token[0] &&
         add_header(c, "Authorization: Bearer ", token) < 0))
        goto nomem;
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads; timeouts */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* not from the environment */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     opts->user_agent ? opts->user_agent : "prism");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)opts->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)opts->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    if (opts->ca_file && opts->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
    if (opts->tls_no_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c;
nomem:
    log_error(MOD, "Cannot make an HTTP client.", "err=\"out of memory\"");
    http_client_free(&c);
    return NULL;
}

void http_client_free(http_client_t **cp)
{
    http_client_t *c = *cp;
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c);
    *cp = NULL;
}

/* A libcurl failure as a negative errno. */
static int curl_to_errno(CURLcode rc, long os_errno)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EPROTONOSUPPORT;
    case CURLE_URL_MALFORMAT:
        return -EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    default:
        return os_errno > 0 ? -(int)os_errno : -EIO;
    }
}

int http_client_request(http_client_t *c, const char *method, const char *url,
                        const void *body, size_t len, int *status, char *err,
                        size_t errlen)
{
    return http_client_request_with(c, method, url, NULL, body, len, status,
                                    err, errlen);
}

/* The client's header lines followed by EXTRA's (a new list), or NULL. */
static struct curl_slist *headers_with(const http_client_t *c,
                                       const char *const *extra)
{
    struct curl_slist *l = NULL;
    for (const struct curl_slist *h = c->headers; h; h = h->next) {
        struct curl_slist *n = curl_slist_append(l, h->data);
        if (!n)
            goto nomem;
        l = n;
    }
    for (size_t i = 0; extra[i]; i++) {
        struct curl_slist *n = curl_slist_append(l, extra[i]);
        if (!n)
            goto nomem;
        l = n;
    }
    return l;
nomem:
    curl_slist_free_all(l);
    return NULL;
}

int http_client_request_with(http_client_t *c, const char *method,
                             const char *url, const char *const *headers,
                             const void *body, size_t len, int *status,
                             char *err, size_t errlen)
{
    struct curl_slist *own = NULL;
    if (headers && headers[0] && !(own = headers_with(c, headers))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, own ? own : c->headers);
    c->body_len = 0;
    c->body[0] = '\0';
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (!strcmp(method, "GET") && len == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        /* The body as "post fields": a Content-Length, whatever METHOD. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, len ? body : "");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "POST") ? method : NULL);
    }
    CURLcode rc = curl_easy_perform(h);
    if (own) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
        curl_slist_free_all(own);
    }
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        snprintf(err, errlen, "%s%s%s%s",
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc),
                 os_errno ? " (" : "", os_errno ? strerror((int)os_errno) : "",
                 os_errno ? ")" : "");
        return curl_to_errno(rc, os_errno);
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    *status = (int)code;
    return 0;
}

const char *http_client_body(const http_client_t *c, size_t *len)
{
    if (len)
        *len = c->body_len;
    return c->body;
}

int http_client_once(const http_client_opts_t *opts, const char *method,
                     const char *url, const void *body, size_t len, int *status,
                     char **answer, char *err, size_t errlen)
{
    if (answer)
        *answer = NULL;
    http_client_t *c = http_client_new(opts);
    if (!c) {
        snprintf(err, errlen, "cannot make an HTTP client");
        return -ENOMEM;
    }
    int ret =
        http_client_request(c, method, url, body, len, status, err, errlen);
    if (ret == 0 && answer && !(*answer = strdup(c->body))) {
        snprintf(err, errlen, "out of memory");
        ret = -ENOMEM;
    }
    http_client_free(&c);
    return ret;
}
