/* HOST:PORT parsing, resolution for listeners, and peer address text. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int fail(const char **why, const char *text)
{
    if (why)
        *why = text;
    return -EINVAL;
}

/* The value of 1 to 5 decimal digits ending the string, or -1. */
static int parse_port(const char *p)
{
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 5 || p[n])
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v <= 65535 ? v : -1;
}

int netaddr_split(const char *hostport, char *host, size_t hostlen, int *port,
                  const char **why)
{
    if (!hostport || !hostport[0])
        return fail(why, "empty address");
    const char *hb, *he, *colon;
    if (hostport[0] == '[') {
        const char *rb = strchr(hostport, ']');
        if (!rb)
            return fail(why, "'[' without ']'");
        hb = hostport + 1;
        he = rb;
        if (memchr(hb, '[', (size_t)(he - hb)) || strpbrk(rb + 1, "[]"))
            return fail(why, "unbalanced brackets");
        if (rb[1] != ':')
            return fail(why, rb[1] ? "':' expected after ']'"
                                   : "missing port (HOST:PORT)");
        colon = rb + 1;
    } else {
        if (strpbrk(hostport, "[]"))
            return fail(why, "unbalanced brackets");
        colon = strrchr(hostport, ':');
        if (!colon)
            return fail(why, "missing port (HOST:PORT)");
        hb = hostport;
        he = colon;
        if (memchr(hb, ':', (size_t)(he - hb)))
            return fail(why, "an IPv6 address needs brackets ([::1]:PORT)");
    }
    if (he == hb)
        return fail(why, "missing host (0.0.0.0 or [::] for every address)");
    if ((size_t)(he - hb) >= hostlen)
        return fail(why, "host too long");
    if (!colon[1])
        return fail(why, "missing port (HOST:PORT)");
    int p = parse_port(colon + 1);
    if (p < 0)
        return fail(why, "port is not a number from 0 to 65535");
    memcpy(host, hb, (size_t)(he - hb));
    host[he - hb] = '\0';
    *port = p;
    return 0;
}

int netaddr_resolve(const char *hostport, int socktype,
                    struct sockaddr_storage *out, socklen_t *outlen, char *err,
                    size_t errlen)
{
    char host[NETADDR_HOST_MAX], serv[8];
    int port;
    const char *why = NULL;
    if (netaddr_split(hostport, host, sizeof(host), &port, &why) < 0) {
        if (err)
            snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    snprintf(serv, sizeof(serv), "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (hostport[0] == '[') {
        hints.ai_family = AF_INET6;
        hints.ai_flags |= AI_NUMERICHOST;
    }
    int gr = getaddrinfo(host, serv, &hints, &res);
    if (gr != 0 || !res) {
        if (err)
            snprintf(err, errlen, "%s: %s",
                     hostport[0] == '[' ? "not an IPv6 address"
                                        : "cannot resolve the host",
                     gr ? gai_strerror(gr) : "no address");
        if (res)
            freeaddrinfo(res);
        return hostport[0] == '[' ? -EINVAL : -ENOENT;
    }
    if (res->ai_addrlen > sizeof(*out)) {
        if (err)
            snprintf(err, errlen, "address too long");
        freeaddrinfo(res);
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void netaddr_str(const struct sockaddr *sa, char *out, size_t len)
{
    if (len == 0)
        return;
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        if (!inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)len))
            out[0] = '\0';
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const void *a = &s6->sin6_addr;
        int fam = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            a = &s6->sin6_addr.s6_addr[12];
            fam = AF_INET;
        }
        if (!inet_ntop(fam, a, out, (socklen_t)len))
            out[0] = '\0';
    }
}

int netaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}
