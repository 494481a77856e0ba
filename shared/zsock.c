/* ZeroMQ sockets made the Prism way: linger 0, bounded queues, CURVE. */
#include "zsock.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "zctx.h"

/*
 * In libzmq 4.3 this option is only declared with the draft API, but the
 * library honours it. Without it, a CURVE server whose context has no ZAP
 * handler admits every client.
 */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

static const char *type_name(int type)
{
    switch (type) {
    case ZMQ_PAIR:
        return "PAIR";
    case ZMQ_PUB:
        return "PUB";
    case ZMQ_SUB:
        return "SUB";
    case ZMQ_REQ:
        return "REQ";
    case ZMQ_REP:
        return "REP";
    case ZMQ_DEALER:
        return "DEALER";
    case ZMQ_ROUTER:
        return "ROUTER";
    case ZMQ_PULL:
        return "PULL";
    case ZMQ_PUSH:
        return "PUSH";
    default:
        return "other";
    }
}

static int setopt(void *sock, int opt, const char *name, const void *val,
                  size_t len)
{
    if (zmq_setsockopt(sock, opt, val, len) == 0)
        return 0;
    int rc = -errno;
    log_error("zsock", "Cannot set a socket option.",
              "call=zmq_setsockopt opt=%s err=\"%s\"", name,
              zmq_strerror(errno));
    return rc;
}

static int setint(void *sock, int opt, const char *name, int v)
{
    return setopt(sock, opt, name, &v, sizeof(v));
}

void zsock_opts_default(zsock_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->sndhwm = 1000;
    o->rcvhwm = 1000;
    o->sndtimeo_ms = 1000;
    o->rcvtimeo_ms = 1000;
}

void *zsock_new(int type, const zsock_opts_t *opts)
{
    zsock_opts_t def;
    void *ctx, *sock;
    int64_t maxsz;

    if (!opts) {
        zsock_opts_default(&def);
        opts = &def;
    }
    if (opts->sndhwm <= 0 || opts->rcvhwm <= 0 || opts->sndtimeo_ms < 0 ||
        opts->rcvtimeo_ms < 0 || opts->max_msg_size < 0) {
        log_error("zsock", "Refusing unbounded socket options.",
                  "type=%s sndhwm=%d rcvhwm=%d sndtimeo_ms=%d rcvtimeo_ms=%d",
                  type_name(type), opts->sndhwm, opts->rcvhwm,
                  opts->sndtimeo_ms, opts->rcvtimeo_ms);
        return NULL;
    }
    ctx = zctx_get();
    if (!ctx)
        return NULL;
    sock = zmq_socket(ctx, type);
    if (!sock) {
        log_error("zsock", "Cannot create a socket.",
                  "call=zmq_socket type=%s err=\"%s\"", type_name(type),
                  zmq_strerror(errno));
        return NULL;
    }
    maxsz = opts->max_msg_size ? opts->max_msg_size : -1;
    if (setint(sock, ZMQ_LINGER, "ZMQ_LINGER", 0) ||
        setint(sock, ZMQ_SNDHWM, "ZMQ_SNDHWM", opts->sndhwm) ||
        setint(sock, ZMQ_RCVHWM, "ZMQ_RCVHWM", opts->rcvhwm) ||
        setint(sock, ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO", opts->sndtimeo_ms) ||
        setint(sock, ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO", opts->rcvtimeo_ms) ||
        setopt(sock, ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxsz, sizeof(maxsz)) ||
        (type == ZMQ_ROUTER && opts->router_mandatory &&
         setint(sock, ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", 1))) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void zsock_close(void **sockp)
{
    if (!sockp || !*sockp)
        return;
    int zero = 0;
    zmq_setsockopt(*sockp, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(*sockp);
    *sockp = NULL;
}

int zsock_bind(void *sock, const char *endpoint)
{
    if (zmq_bind(sock, endpoint) == 0)
        return 0;
    int rc = -errno;
    log_error("zsock", "Cannot bind a socket.",
              "call=zmq_bind endpoint=%s err=\"%s\"", endpoint,
              zmq_strerror(errno));
    return rc;
}

int zsock_connect(void *sock, const char *endpoint)
{
    if (zmq_connect(sock, endpoint) == 0)
        return 0;
    int rc = -errno;
    log_error("zsock", "Cannot connect a socket.",
              "call=zmq_connect endpoint=%s err=\"%s\"", endpoint,
              zmq_strerror(errno));
    return rc;
}

int zsock_connect_list(void *sock, const char *list)
{
    char buf[1024], *save = NULL, *eps[16];
    int n = 0, rc;
    if (!list || strlen(list) >= sizeof(buf)) {
        log_error("zsock", "Bad endpoint list.", "why=\"%s\"",
                  list ? "longer than 1023 bytes" : "none given");
        return -EINVAL;
    }
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *ep = strtok_r(buf, ", ", &save); ep;
         ep = strtok_r(NULL, ", ", &save)) {
        if (n == 16) {
            log_error("zsock", "Bad endpoint list.",
                      "why=\"over 16 endpoints\"");
            return -EINVAL;
        }
        eps[n++] = ep;
    }
    if (!n) {
        log_error("zsock", "Bad endpoint list.", "why=\"no endpoint in it\"");
        return -EINVAL;
    }
    /* Both options only hold for connections made after they are set. */
    if (n > 1 && (rc = setint(sock, ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", 1)))
        return rc;
    for (int i = 0; i < n; i++)
        if (strchr(eps[i], '[') && (rc = setint(sock, ZMQ_IPV6, "ZMQ_IPV6", 1)))
            return rc;
    for (int i = 0; i < n; i++)
        if ((rc = zsock_connect(sock, eps[i])) < 0)
            return rc;
    return n;
}

int zsock_last_endpoint(void *sock, char *buf, size_t len)
{
    size_t n = len;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, buf, &n) == 0)
        return 0;
    int rc = -errno;
    log_error("zsock", "Cannot read the bound endpoint.",
              "call=zmq_getsockopt opt=ZMQ_LAST_ENDPOINT err=\"%s\"",
              zmq_strerror(errno));
    return rc;
}

int zsock_type(void *sock)
{
    int type;
    size_t n = sizeof(type);
    if (zmq_getsockopt(sock, ZMQ_TYPE, &type, &n) != 0)
        return -1;
    return type;
}

int zsock_curve_server(void *sock, const curve_keypair_t *kp,
                       const char *zap_domain)
{
    if (!kp || !curve_key_valid(kp->secret_z85) || !zap_domain ||
        !*zap_domain) {
        log_error("zsock", "CURVE server needs a secret key and ZAP domain.",
                  "domain=%s", zap_domain ? zap_domain : "(null)");
        return -EINVAL;
    }
    int rc;
    if ((rc = setint(sock, ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)) ||
        (rc = setopt(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
                     kp->secret_z85, CURVE_KEY_Z85_LEN)) ||
        (rc = setopt(sock, ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", zap_domain,
                     strlen(zap_domain))) ||
        (rc =
             setint(sock, ZMQ_ZAP_ENFORCE_DOMAIN, "ZMQ_ZAP_ENFORCE_DOMAIN", 1)))
        return rc;
    return 0;
}

int zsock_curve_client(void *sock, const curve_keypair_t *kp,
                       const char *server_public_z85)
{
    if (!kp || !curve_key_valid(kp->public_z85) ||
        !curve_key_valid(kp->secret_z85) ||
        !curve_key_valid(server_public_z85)) {
        log_error(
            "zsock", "CURVE client needs its key pair and the server key.",
            "server_key=%s", server_public_z85 ? server_public_z85 : "(null)");
        return -EINVAL;
    }
    int rc;
    if ((rc = setopt(sock, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY",
                     server_public_z85, CURVE_KEY_Z85_LEN)) ||
        (rc = setopt(sock, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY",
                     kp->public_z85, CURVE_KEY_Z85_LEN)) ||
        (rc = setopt(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY",
                     kp->secret_z85, CURVE_KEY_Z85_LEN)))
        return rc;
    return 0;
}
