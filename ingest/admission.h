/* Publish admissions: one pending table for RTMP and SRT, and the answers. */
#ifndef PRISM_ADMISSION_H
#define PRISM_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "addr_limit.h"
#include "envelope.h"
#include "publisher.h"
#include "srt_ingest.h"

/*
 * How this works. A publish, RTMP or SRT, asks admission_ask. Some
 * questions are answered at once: an address past its refused-key limit,
 * an empty key, open mode (no coordinator: every key admitted with stream
 * id = token = key), a full table. The others become a PublishRequest to
 * the coordinator and wait in one table, under their request id, for the
 * PublishReply (admission_reply) or until admit_timeout_ms has passed
 * (admission_expire). At most ADMISSION_MAX wait at once.
 *
 * An answer that admits opens the publisher (publisher_open); one that
 * the hub refuses becomes "stream already live". A refused key counts
 * against the address (addr_limit_bad_key). The SRT asker gets its answer
 * through srt_admit_done, with the SRT rejection code for the
 * reason; the RTMP asker, a connection this module does not know, through
 * the rtmp_answer callback. Everything runs on the event loop's thread.
 */

/* Admissions waiting for the coordinator at most. */
#define ADMISSION_MAX 1024

typedef struct admission admission_t;

typedef struct {
    /* Sends env (borrowed) to the coordinator. */
    void (*send)(void *opaque, Prism__Envelope *env);
    /*
     * Answers the RTMP connection conn: admitted with p (the caller keeps
     * it), or refused (p NULL) with reason. Also called from inside
     * admission_ask, which an RTMP input callback calls: write the answer,
     * do not flush or close the connection here.
     */
    void (*rtmp_answer)(void *opaque, void *conn, publisher_t *p,
                        const char *reason);
    /* After an answer given by admission_reply or admission_expire: conn
     * may now flush its output, or close after a refusal. */
    void (*rtmp_after)(void *opaque, void *conn);
    void *opaque;
} admission_cbs_t;

/*
 * A table answering through cbs (copied) and opening publishers in pubs;
 * limits counts refused keys per address. pubs and limits are borrowed.
 * coordinated false is open mode. ingest_id (copied) names this ingest in
 * the PublishRequest. Returns NULL when out of memory.
 */
admission_t *admission_new(const admission_cbs_t *cbs, publisher_list_t *pubs,
                           addr_limit_t *limits, const char *ingest_id,
                           bool coordinated, int64_t timeout_ms);

/* Answers every SRT question still waiting with "shutting down" (RTMP
 * connections must be forgotten first), frees the table and sets *ap to
 * NULL; accepts NULL. */
void admission_free(admission_t **ap);

/* One publish: protocol (Prism__IngestProtocol), key, the asker's address
 * and client (all borrowed), and the asker: conn (RTMP) or admit (SRT,
 * whose reference the table holds until it answers). */
void admission_ask(admission_t *a, int protocol, void *conn, srt_admit_t *admit,
                   const char *key, const char *addr, const char *client);

/* The coordinator's answer (borrowed); one for no waiting request is
 * logged and dropped. */
void admission_reply(admission_t *a, const Prism__PublishReply *r);

/* Refuses every question waiting since its deadline ("coordinator did not
 * answer"); now in monotonic ms. */
void admission_expire(admission_t *a, int64_t now);

/* The RTMP connection conn is gone: its waiting question stays until its
 * answer, which then ends the publisher it would have opened. */
void admission_forget(admission_t *a, const void *conn);

/* Publishes admitted and refused so far; any thread may read them. */
void admission_counts(const admission_t *a, uint64_t *admitted,
                      uint64_t *refused);

#endif
