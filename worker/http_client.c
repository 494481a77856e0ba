/* One blocking HTTP/1.1 request with a deadline (PUT, DELETE to an origin). */
#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

typedef struct {
    char host[256];
    char port[8];
    const char *path; /* into the URL; "/" when the URL has none */
} url_parts_t;

static int parse_url(const char *url, url_parts_t *u, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7)) {
        snprintf(err, errlen, "not a plain http:// URL");
        return -EPROTONOSUPPORT;
    }
    const char *a = url + 7;
    const char *slash = strchr(a, '/');
    size_t alen = slash ? (size_t)(slash - a) : strlen(a);
    u->path = slash ? slash : "/";
    if (memchr(a, '@', alen)) {
        snprintf(err, errlen, "user info in the URL");
        return -EPROTONOSUPPORT;
    }
    const char *hb = a, *he, *colon;
    if (alen && a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb)
            goto bad;
        hb = a + 1;
        he = rb;
        colon = rb + 1 < a + alen && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(a, ':', alen);
        he = colon ? colon : a + alen;
    }
    if (he <= hb || (size_t)(he - hb) >= sizeof(u->host))
        goto bad;
    memcpy(u->host, hb, (size_t)(he - hb));
    u->host[he - hb] = '\0';
    size_t plen = colon ? (size_t)(a + alen - colon - 1) : 2;
    if (colon && (plen == 0 || plen >= sizeof(u->port)))
        goto bad;
    snprintf(u->port, sizeof(u->port), "%.*s", (int)plen,
             colon ? colon + 1 : "80");
    return 0;
bad:
    snprintf(err, errlen, "malformed URL");
    return -EINVAL;
}

/* Waits for EVENTS on FD until DEADLINE (monotonic ms). */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - clock_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        int ret = wait_fd(fd, POLLOUT, deadline);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int connect_to(const url_parts_t *u, long long deadline, char *err,
                      size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(u->host, u->port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "getaddrinfo: %s", gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int ret = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
            errno != EINPROGRESS) {
            ret = -errno;
            close(fd);
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if ((ret = wait_fd(fd, POLLOUT, deadline)) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            ret = ret < 0 ? ret : -(soerr ? soerr : errno);
            close(fd);
            if (ret == -ETIMEDOUT)
                break;
            continue;
        }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "connect: %s", strerror(-ret));
    return ret;
}

int http_client_request(const char *method, const char *url, const void *data,
                        size_t len, int timeout_ms, int *status, char *err,
                        size_t errlen)
{
    url_parts_t u;
    char head[2048], buf[512];
    long long deadline = clock_mono_ms() + timeout_ms;
    int ret = parse_url(url, &u, err, errlen);
    if (ret < 0)
        return ret;
    int fd = connect_to(&u, deadline, err, errlen);
    if (fd < 0)
        return fd;
    int hn = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
                      "User-Agent: prism-worker\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      method, u.path, strchr(u.host, ':') ? "[" : "", u.host,
                      strchr(u.host, ':') ? "]" : "",
                      strcmp(u.port, "80") ? ":" : "",
                      strcmp(u.port, "80") ? u.port : "", len);
    if (hn < 0 || (size_t)hn >= sizeof(head)) {
        snprintf(err, errlen, "request head too long");
        ret = -EINVAL;
        goto end;
    }
    if ((ret = send_all(fd, head, (size_t)hn, deadline)) < 0 ||
        (len && (ret = send_all(fd, data, len, deadline)) < 0)) {
        snprintf(err, errlen, "send: %s", strerror(-ret));
        goto end;
    }
    /* Only the status line matters: "HTTP/1.x NNN ...\r\n". */
    size_t got = 0;
    for (;;) {
        char *eol = memchr(buf, '\n', got);
        if (eol) {
            int code = 0;
            if (sscanf(buf, "HTTP/%*d.%*d %3d", &code) != 1 || code < 100) {
                snprintf(err, errlen, "malformed status line");
                ret = -EPROTO;
                goto end;
            }
            *status = code;
            ret = 0;
            goto end;
        }
        if (got == sizeof(buf) - 1) {
            snprintf(err, errlen, "status line too long");
            ret = -EPROTO;
            goto end;
        }
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r > 0) {
            got += (size_t)r;
            buf[got] = '\0';
            continue;
        }
        if (r == 0) {
            snprintf(err, errlen, "connection closed before an answer");
            ret = -ECONNRESET;
            goto end;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ret = -errno;
            snprintf(err, errlen, "recv: %s", strerror(errno));
            goto end;
        }
        if ((ret = wait_fd(fd, POLLIN, deadline)) < 0) {
            snprintf(err, errlen, "no answer within %d ms", timeout_ms);
            goto end;
        }
    }
end:
    close(fd);
    return ret;
}
