/* The worker protocol: Register, LoadReport and Ack; dead workers. */
#ifndef PRISM_WORKER_PROTO_H
#define PRISM_WORKER_PROTO_H

#include <stdint.h>

#include "envelope.h"
#include "farm.h"

/*
 * A worker's Register (accepted when its id is its key's name): its
 * devices are taken, and what it says it runs is reconciled: what matches
 * is adopted ("what is really running wins", also after a coordinator
 * restart), what is stale is released, and Assigns it lacks are sent
 * again.
 */
void worker_proto_register(coord_t *c, const envelope_peer_t *peer,
                           const Prism__Envelope *env);

/* A LoadReport: device loads, sessions confirmed, stale sessions released,
 * hung sessions failed, overload (shed) and recovery. */
void worker_proto_report(coord_t *c, const envelope_peer_t *peer,
                         const Prism__Envelope *env);

/* An Ack of an Assign (running, or failed with its error) or a Release. */
void worker_proto_ack(coord_t *c, const envelope_peer_t *peer,
                      const Prism__Envelope *env);

/*
 * The timed checks at now: workers silent for missed_reports intervals are
 * dead; an Assign unacknowledged past ack_timeout_ms is sent again, then
 * fails; a publisher away past reconnect_grace_ms ends its stream;
 * fail_reset_ms of running clears a stream's failures; a stream reloaded
 * at start that no worker claimed within reconcile_grace_ms is placed
 * again.
 */
void worker_proto_check(coord_t *c, int64_t now);

#endif
