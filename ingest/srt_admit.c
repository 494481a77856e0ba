/* SRT admission questions: asked by the SRT threads, answered by the loop. */
#include "srt_admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

/* The longest single wait, so that the ingest's stop is seen. */
#define ADMIT_WAIT_SLICE_MS 200

srt_admit_t *srt_admit_new(const char *key, const char *addr)
{
    srt_admit_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&a->ref, 2); /* the asking side and the loop */
    a->asked_ms = clock_mono_ms();
    snprintf(a->key, sizeof(a->key), "%s", key);
    snprintf(a->addr, sizeof(a->addr), "%s", addr);
    return a;
}

void srt_admit_unref(srt_admit_t *a)
{
    if (atomic_fetch_sub(&a->ref, 1) == 1) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
    }
}

bool srt_admit_done(srt_admit_t *a, bool accepted, int reject_code,
                    const char *reason, void *publisher, const char *stream_id)
{
    pthread_mutex_lock(&a->mu);
    bool taken = !a->abandoned;
    a->done = true;
    a->accepted = accepted;
    a->reject_code = reject_code;
    a->publisher = publisher;
    snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
    snprintf(a->stream_id, sizeof(a->stream_id), "%s",
             stream_id ? stream_id : "");
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    srt_admit_unref(a);
    return taken;
}

bool srt_admit_wait(srt_admit_t *a, int64_t until_ms, atomic_bool *stop)
{
    pthread_mutex_lock(&a->mu);
    while (!a->done && !atomic_load(stop)) {
        int64_t now = clock_mono_ms();
        if (now >= until_ms)
            break;
        int64_t t =
            now + (until_ms - now > ADMIT_WAIT_SLICE_MS ? ADMIT_WAIT_SLICE_MS
                                                        : until_ms - now);
        struct timespec ts = {(time_t)(t / 1000), (long)(t % 1000) * 1000000L};
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    bool done = a->done;
    pthread_mutex_unlock(&a->mu);
    return done;
}

void *srt_admit_abandon(srt_admit_t *a)
{
    pthread_mutex_lock(&a->mu);
    void *pub = a->done && a->accepted ? a->publisher : NULL;
    a->abandoned = true;
    pthread_mutex_unlock(&a->mu);
    return pub;
}
