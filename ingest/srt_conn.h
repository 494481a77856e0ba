/* One SRT publisher's thread: the admission after the accept, its socket read
 * through libavformat's MPEG-TS demuxer, packets to the queue, the close. */
#ifndef PRISM_SRT_CONN_H
#define PRISM_SRT_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <srt/srt.h>

#include "srt_admit.h"
#include "srt_queue.h"

/* What the listener shares with its publisher threads. The listener owns
 * it and joins every thread before it goes. */
typedef struct srt_conn_env {
    srt_queue_t queue;        /* items to the event loop */
    atomic_bool stop;         /* the ingest is shutting down */
    int idle_ms;              /* idle_timeout_ms */
    int admit_ms;             /* admit_timeout_ms */
    atomic_int deferred_open; /* admissions accepted before their answer */
    atomic_ullong n_late_refused, n_timeout, n_error; /* see srt_ingest.h */
} srt_conn_env_t;

/* Why a publisher's connection ended (the first cause wins). */
typedef enum {
    SRT_END_NONE,
    SRT_END_PEER,      /* the publisher closed or the connection broke */
    SRT_END_IDLE,      /* no bytes for idle_timeout_ms */
    SRT_END_NO_MEDIA,  /* bytes, but no audio or video packet in time */
    SRT_END_DEMUX,     /* not a usable MPEG-TS stream */
    SRT_END_NO_KEY,    /* video, but no key frame with a known size in time */
    SRT_END_REFUSED,   /* a late admission answer refused the key */
    SRT_END_NO_ANSWER, /* no admission answer within admit_timeout_ms */
    SRT_END_STOP,      /* the ingest is shutting down */
    SRT_END_CODEC,     /* a codec Prism does not carry (refuse names it) */
} srt_end_why_t;

/* An accepted publisher. The listener fills in env, sock, addr, key,
 * stream_id and publisher or admit, then calls srt_conn_start; the rest is
 * the thread's. */
typedef struct srt_conn {
    srt_conn_env_t *env;
    SRTSOCKET sock;
    pthread_t thread;
    bool thread_started;
    atomic_bool finished;
    void *publisher;
    srt_admit_t *admit; /* an admission decided after the accept; ref held */
    char key[256];
    char addr[64];
    char stream_id[128];    /* the loop's name for it, for the log */
    srt_end_why_t why;      /* set once: read_packet then fails at once */
    char refuse[200];       /* SRT_END_CODEC: the reason, naming the codec */
    int64_t last_byte_ms;   /* the last SRT message received */
    int64_t media_deadline; /* no packet by then: SRT_END_NO_MEDIA */
    uint64_t packets;
    uint8_t pending[1500];
    int pending_off, pending_len;
} srt_conn_t;

/* The log text of each srt_end_why_t. */
const char *srt_conn_end_name(srt_end_why_t why);

/* Sets c's socket to receive in slices and starts its thread, which ends
 * the publisher (an END item) and closes the socket when it leaves.
 * Returns 0, or -1 (logged) when the thread cannot start: the caller
 * still owns the socket, the publisher and the admission then. */
int srt_conn_start(srt_conn_t *c);

/* Whether c's thread has left; any thread. */
bool srt_conn_finished(srt_conn_t *c);

/* Closes c's socket unless its thread has left (which makes the thread
 * leave), joins the thread and frees c; NULL-safe, sets *cp to NULL. */
void srt_conn_free(srt_conn_t **cp);

/* Gives up an admission decided after the accept (its reference is
 * released): an acceptance given before is ended here, one given later is
 * undone by the loop (srt_admit_done returns false). */
void srt_conn_drop_admit(srt_conn_env_t *env, srt_admit_t *a, const char *why);

#endif
