/* An admission question from an SRT thread to the event loop, and the
 * thread's wait for its answer. */
#ifndef PRISM_SRT_ADMIT_H
#define PRISM_SRT_ADMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Two references: the asking thread's and the loop's (its ADMIT item). */
typedef struct srt_admit {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int ref;
    bool done, accepted, abandoned;
    int reject_code;
    char key[256];
    char addr[64];
    char reason[256];
    int64_t asked_ms;    /* when the question was posted (monotonic) */
    void *publisher;     /* set by the loop on acceptance */
    char stream_id[128]; /* set by the loop on acceptance */
} srt_admit_t;

/* A question for key from addr (both copied), asked now, with both
 * references held. Returns NULL when out of memory. */
srt_admit_t *srt_admit_new(const char *key, const char *addr);

/* Releases one reference; the last frees a. */
void srt_admit_unref(srt_admit_t *a);

/*
 * The loop's answer to an ADMIT item; releases the loop's reference to a.
 * stream_id (borrowed, may be NULL) names the stream in the SRT log lines.
 * Returns false when the asking thread had already given up (the loop then
 * undoes what it set up for `publisher`).
 */
bool srt_admit_done(srt_admit_t *a, bool accepted, int reject_code,
                    const char *reason, void *publisher, const char *stream_id);

/* Waits until a is answered, *stop is set or the monotonic clock reaches
 * until_ms, in slices so that the stop is seen. Returns whether it was
 * answered; a->mu is not held on return. */
bool srt_admit_wait(srt_admit_t *a, int64_t until_ms, atomic_bool *stop);

/* Gives a up (the asking thread's side, without releasing its reference):
 * a later answer is then undone by the loop. Returns the publisher of an
 * acceptance given before, which the caller ends, else NULL. */
void *srt_admit_abandon(srt_admit_t *a);

#endif
