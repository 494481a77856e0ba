/* ZeroMQ sockets made the Prism way: linger 0, bounded queues, CURVE. */
#ifndef PRISM_ZSOCK_H
#define PRISM_ZSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve_keys.h"

/*
 * Every socket gets linger 0 (close never waits for unsent messages),
 * send and receive timeouts and high-water marks from zsock_opts_t, so no
 * call on it blocks forever and no queue grows without bound. Sockets are
 * not thread-safe: one thread owns each (create it there, or hand it over
 * once with a memory barrier such as pthread_create).
 *
 * CURVE: call zsock_curve_server or zsock_curve_client BEFORE bind/connect.
 * A CURVE server socket always gets a ZAP domain with domain enforcement,
 * so the ZAP handler (shared/zap.h) decides who may connect, and when no
 * handler runs nobody is admitted (CURVE alone encrypts but admits anyone).
 */

typedef struct {
    int sndhwm;            /* messages queued per peer for sending, > 0 */
    int rcvhwm;            /* messages queued per peer for receiving, > 0 */
    int sndtimeo_ms;       /* blocking send gives up after this (>= 0) */
    int rcvtimeo_ms;       /* blocking receive gives up after this (>= 0) */
    int64_t max_msg_size;  /* a peer sending a bigger frame is disconnected;
                              0 = no limit (libzmq's -1) */
    bool router_mandatory; /* ROUTER only: unroutable sends fail with
                              EHOSTUNREACH instead of being dropped */
} zsock_opts_t;

/* Defaults: HWM 1000 both ways, timeouts 1000 ms, no size limit. */
void zsock_opts_default(zsock_opts_t *o);

/*
 * Creates a socket of `type` (ZMQ_ROUTER, ZMQ_DEALER, ...) in the process
 * context (zctx_get) with the options above (opts NULL = defaults). Returns
 * NULL on failure, logged with zmq_strerror. Negative timeouts (infinite)
 * and non-positive HWMs (unbounded) are refused.
 */
void *zsock_new(int type, const zsock_opts_t *opts);

/*
 * Closes *sockp (pending messages are dropped: linger 0) and sets it to
 * NULL. NULL-safe. Call from the socket's owning thread.
 */
void zsock_close(void **sockp);

/*
 * bind/connect with the failure logged with the endpoint and zmq_strerror.
 * Return 0 or -errno.
 */
int zsock_bind(void *sock, const char *endpoint);
int zsock_connect(void *sock, const char *endpoint);

/*
 * Connects sock to every endpoint in list ("tcp://a:1, tcp://b:1": commas
 * or spaces between, at most 16), as a node does to a coordinator and its
 * standbys. With more than one, ZMQ_IMMEDIATE is set first: a message goes
 * only to a peer that is connected (the leader: a standby binds nothing),
 * never into the queue of one that is not there. ZMQ_IPV6 is set when an
 * endpoint has a bracketed host. Returns how many endpoints, or -EINVAL /
 * -errno (logged).
 */
int zsock_connect_list(void *sock, const char *list);

/*
 * Copies the endpoint the socket last bound (ZMQ_LAST_ENDPOINT; for
 * "tcp://127.0.0.1:*" this gives the port chosen) into buf. 0 or -errno.
 */
int zsock_last_endpoint(void *sock, char *buf, size_t len);

/*
 * Makes sock a CURVE server with kp's secret key (kp borrowed; its secret
 * must be set). zap_domain (non-empty, e.g. "prism") is set with
 * ZMQ_ZAP_ENFORCE_DOMAIN=1: every client is checked by the ZAP handler.
 * Returns 0, -EINVAL for a bad key or empty domain, or -errno (logged).
 */
int zsock_curve_server(void *sock, const curve_keypair_t *kp,
                       const char *zap_domain);

/*
 * Makes sock a CURVE client with its own key pair kp (borrowed) and the
 * server's public key server_public_z85. Returns 0, -EINVAL for a bad key,
 * or -errno (logged).
 */
int zsock_curve_client(void *sock, const curve_keypair_t *kp,
                       const char *server_public_z85);

/* Returns the socket type (ZMQ_ROUTER, ...), or -1 on error. */
int zsock_type(void *sock);

#endif
