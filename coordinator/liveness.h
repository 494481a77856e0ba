/* Liveness: dead workers (missed reports), hung and slow sessions (pure). */
#ifndef PRISM_LIVENESS_H
#define PRISM_LIVENESS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Every function takes the current time as `now_ms` (monotonic ms), so the
 * coordinator passes clock_mono_ms() and tests pass a fake clock. Nothing
 * here does I/O or allocates.
 */

typedef struct {
    int64_t report_ms;  /* the load report interval the workers were given */
    int missed_reports; /* reports missed before a worker is dead (3) */
    int64_t hung_ms;    /* output stalled this long while input flows: hung */
    int slow_reports;   /* consecutive reports under slow_speed: overloaded */
    double slow_speed;  /* speed under which a session is not real time */
} liveness_config_t;

/* When a worker last seen at last_seen_ms is declared dead. */
int64_t liveness_worker_deadline(const liveness_config_t *cfg,
                                 int64_t last_seen_ms);

/* True when the worker missed cfg->missed_reports reports. */
bool liveness_worker_dead(const liveness_config_t *cfg, int64_t last_seen_ms,
                          int64_t now_ms);

typedef enum {
    LIVENESS_OK = 0,
    LIVENESS_HUNG = 1, /* output stopped advancing while input flows */
    LIVENESS_SLOW = 2, /* under real-time speed for slow_reports reports */
} liveness_state_t;

/* What liveness remembers of one session (one stream generation). */
typedef struct {
    bool seen;              /* a report showed it at least once */
    int64_t out_pts_ms;     /* last output media time reported */
    int64_t in_pts_ms;      /* last input media time reported */
    int64_t out_changed_ms; /* when the output time last advanced */
    int64_t in_changed_ms;  /* when the input time last advanced */
    int slow_count;         /* consecutive reports under slow_speed */
} liveness_session_t;

/* Starts tracking a session placed at now_ms (before any report). */
void liveness_session_init(liveness_session_t *s, int64_t now_ms);

/*
 * Feeds one load report's figures for the session and returns its state:
 * LIVENESS_HUNG when the output time has not advanced for cfg->hung_ms while
 * the input time advanced after it last did, LIVENESS_SLOW after
 * cfg->slow_reports consecutive reports with speed under cfg->slow_speed,
 * else LIVENESS_OK.
 */
liveness_state_t liveness_session_report(const liveness_config_t *cfg,
                                         liveness_session_t *s, int64_t now_ms,
                                         int64_t out_pts_ms, int64_t in_pts_ms,
                                         double speed);

#endif
