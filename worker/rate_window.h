/* A session's rates over the last 10 s: speed, frames in and out a second. */
#ifndef PRISM_RATE_WINDOW_H
#define PRISM_RATE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The session thread pushes its counters (wall time, media time, frames
 * decoded and encoded) as it runs; a sample is kept at most every
 * RATE_WINDOW_STEP_US, in a ring of RATE_WINDOW_SLOTS, so the rates are
 * the change between the newest sample and the oldest one at most
 * RATE_WINDOW_US old: a sliding window, not one reset every 10 s. Pure:
 * no clock, no lock (the caller holds its stats lock).
 */
#define RATE_WINDOW_US      10000000LL
#define RATE_WINDOW_STEP_US 500000LL
#define RATE_WINDOW_SLOTS   (int)(RATE_WINDOW_US / RATE_WINDOW_STEP_US + 2)

typedef struct {
    int64_t wall_us, media_us, frames_in, frames_out;
} rate_window_sample_t;

typedef struct {
    rate_window_sample_t s[RATE_WINDOW_SLOTS];
    int head, n; /* s[head] is the newest of n */
} rate_window_t;

typedef struct {
    double speed;   /* media time over wall time */
    double fps_in;  /* decoded frames a second */
    double fps_out; /* encoded frames a second (all renditions) */
    double span_s;  /* the wall time the rates cover; 0: none yet */
} rate_window_rates_t;

/* Notes the counters at x.wall_us (kept when RATE_WINDOW_STEP_US passed
 * since the last kept sample, or none is kept). */
void rate_window_push(rate_window_t *w, const rate_window_sample_t *x);

/* The rates from the oldest sample within RATE_WINDOW_US of the newest to
 * the newest; all 0 with fewer than two samples. */
void rate_window_rates(const rate_window_t *w, rate_window_rates_t *out);

#endif
