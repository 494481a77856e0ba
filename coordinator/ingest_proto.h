/* The ingest protocol: Hello, StreamEnd, IngestStats; silent ingests. */
#ifndef PRISM_INGEST_PROTO_H
#define PRISM_INGEST_PROTO_H

#include <stdint.h>

#include "envelope.h"
#include "farm.h"

/* An ingest's Hello: recorded with its media endpoint, answered with a
 * RegisterAck. Workers' Hellos are ignored (they send Register). */
void ingest_proto_hello(coord_t *c, const envelope_peer_t *peer,
                        const Prism__Envelope *env);

/* A publisher left: the stream waits reconnect_grace_ms for it when it
 * runs, else ends now. Ignored from an ingest that is not the stream's
 * (its publisher moved to another). */
void ingest_proto_stream_end(coord_t *c, const envelope_peer_t *peer,
                             const Prism__Envelope *env);

/* A stream's input stats (from its own ingest): kept, written to
 * stream_stats, bytes that grew mark its publisher as still sending, and
 * a stream that waited for its source's size is fitted and placed. */
void ingest_proto_stats(coord_t *c, const envelope_peer_t *peer,
                        const Prism__Envelope *env);

/* Ingests silent past node_timeout_ms at now: their streams lose their
 * publishers, as when one leaves (the record stays for when the ingest
 * speaks again). */
void ingest_proto_check(coord_t *c, int64_t now);

#endif
