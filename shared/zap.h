/* ZAP handler: admits CURVE clients whose public key is in an allowlist. */
#ifndef PRISM_ZAP_H
#define PRISM_ZAP_H

#include <stdint.h>

/*
 * How this works: libzmq asks the handler bound at inproc://zeromq.zap.01
 * (in the same context) about every client of a socket that has a ZAP
 * domain (zsock_curve_server sets one and enforces it). zap_new binds a REP
 * socket there and starts a thread that answers each request:
 *  - mechanism CURVE and the client's public key is in the allowlist:
 *    status 200, user id = the key file's name without ".pub". The
 *    application reads it from any received message with
 *    zmq_msg_gets(msg, "User-Id") (envelope_recv does this for you);
 *  - anything else (NULL or PLAIN mechanism, unknown key, other domain):
 *    status 400. Each distinct (address, mechanism, key) denial is logged
 *    once, with the public key only, so a client retrying every few hundred
 *    milliseconds does not flood the log; all denials are counted.
 * The allowlist is every DIR/NAME.pub file (shared/curve_keys.h format),
 * read at start and again on zap_reload.
 * Only one handler can run per ZeroMQ context (libzmq's fixed endpoint).
 */

typedef struct zap zap_t;

/*
 * Loads the allowlist from `allow_dir`, binds the handler and starts its
 * thread. `domain` (borrowed, copied) is the only ZAP domain admitted; NULL
 * admits any domain. Returns NULL on failure (logged): directory not
 * readable, another handler already bound in this context, thread start.
 * An empty directory is allowed (and admits nobody).
 */
zap_t *zap_new(const char *allow_dir, const char *domain);

/*
 * Re-reads the allowlist directory; the new list applies to the next
 * handshake (connections already admitted stay). Thread-safe (any thread).
 * Returns the number of keys loaded, or -errno if the directory cannot be
 * read (then the old list stays in force).
 */
int zap_reload(zap_t *z);

/*
 * Re-reads the allowlist when the directory changed (a key file added,
 * removed or renamed: its mtime moved) since the last read; cheap enough
 * to call every few seconds. Returns 1 when the number of keys changed, 0
 * when nothing changed, -errno as zap_reload. Call from one thread.
 */
int zap_reload_if_changed(zap_t *z);

/* Number of keys in the allowlist now. Thread-safe. */
int zap_key_count(zap_t *z);

/* Requests answered 200 and 400 since start. Thread-safe. */
uint64_t zap_admitted(zap_t *z);
uint64_t zap_denied(zap_t *z);

/*
 * Stops the thread (it polls with a finite timeout, so this returns within
 * about 100 ms), closes its socket, frees *zp and sets it to NULL.
 * NULL-safe. Call before zctx_term.
 */
void zap_free(zap_t **zp);

#endif
