/* The load control loop's decisions: smoothed use, effective load, slow. */
#ifndef PRISM_LOAD_CTL_H
#define PRISM_LOAD_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "placement.h"

/*
 * Pure functions of the figures and the time given (the coordinator
 * passes clock_mono_ms(), tests a fake clock); nothing here does I/O.
 *
 * Measured use: each load report brings, per device, the share of it in
 * use as the worker measured it (0..1, negative unknown). It is smoothed
 * by an exponentially weighted moving average with time constant tau_ms:
 * a sample dt_ms after the last one weighs 1 - exp(-dt_ms / tau_ms), so a
 * step in use is 63% seen after tau_ms and 95% after 3 tau_ms, whatever
 * the report interval. The device's effective load for placement is, per
 * dimension, the larger of the cost the worker reports for its sessions
 * and the smoothed use times the device's budget: a host busier than its
 * reservations (an outside process, an estimate too low) has less room.
 *
 * Slow sessions: a session whose speed over the last 10 s stays under
 * slow_speed for slow_move_ms is moved (the whole stream, to another
 * worker with room). Hysteresis: a stream moved for being slow is not
 * moved for it again within move_cooldown_ms, and is not placed back on
 * the worker it left within avoid_ms; a worker gives up at most one
 * stream per slow_move_ms.
 */

typedef struct {
    int64_t tau_ms;           /* EWMA time constant of measured use */
    double slow_speed;        /* a session under this speed is slow */
    int64_t slow_move_ms;     /* slow this long: the stream moves */
    int64_t move_cooldown_ms; /* not moved for slowness again within */
    int64_t avoid_ms;         /* not back on the worker it left within */
} load_ctl_config_t;

/* One device's smoothed measured use. */
typedef struct {
    double use;    /* smoothed, 0..1; meaningful when have */
    bool have;     /* a known sample came */
    int64_t at_ms; /* when the last known sample came */
    double last;   /* the last sample as reported; negative unknown */
} load_ctl_use_t;

/* Feeds one sample (negative: unknown, the smoothed value is kept) at
 * now_ms into u. */
void load_ctl_smooth(const load_ctl_config_t *cfg, load_ctl_use_t *u,
                     double sample, int64_t now_ms);

/*
 * The effective measured load of a device: per dimension the larger of
 * REPORTED (the cost of the worker's sessions as it reports them) and the
 * smoothed use times the budget (encode and decode pixels; sessions stay
 * as reported). An unknown use leaves REPORTED as it is.
 */
void load_ctl_effective(const load_ctl_use_t *u,
                        const placement_load_t *reported, uint64_t enc_budget,
                        uint64_t dec_budget, placement_load_t *out);

/* What the loop remembers of one stream. */
typedef struct {
    int64_t slow_since_ms; /* under slow_speed since; 0 not slow */
    int64_t moved_ms;      /* last moved for slowness; 0 never */
    long left_worker;      /* the worker it then left; -1 none */
} load_ctl_stream_t;

/* A stream nothing was decided about yet. */
void load_ctl_stream_init(load_ctl_stream_t *st);

typedef enum {
    LOAD_CTL_OK = 0,   /* at real time, or speed not known yet */
    LOAD_CTL_SLOW = 1, /* under slow_speed, not long enough to move (or
                          cooling down after a move) */
    LOAD_CTL_MOVE = 2, /* slow for slow_move_ms: move it */
} load_ctl_verdict_t;

/* Feeds a report's 10 s speed of the stream's session (0 or less: no
 * window yet, nothing changes) at now_ms. */
load_ctl_verdict_t load_ctl_session(const load_ctl_config_t *cfg,
                                    load_ctl_stream_t *st, int64_t now_ms,
                                    double speed_10s);

/* The worker the stream must not go back to at now_ms, -1 none. */
long load_ctl_avoid(const load_ctl_config_t *cfg, const load_ctl_stream_t *st,
                    int64_t now_ms);

/* The stream moved off worker FROM at now_ms for being slow. */
void load_ctl_moved(load_ctl_stream_t *st, long from, int64_t now_ms);

/* The stream could not move at now_ms: it is tried again after another
 * slow_move_ms of slowness. */
void load_ctl_stayed(load_ctl_stream_t *st, int64_t now_ms);

/* Whether a worker that last gave up a slow stream at last_ms (0 never)
 * may give up another at now_ms. */
bool load_ctl_worker_may_shed(const load_ctl_config_t *cfg, int64_t last_ms,
                              int64_t now_ms);

#endif
