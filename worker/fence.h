/*
 * The worker's upload fence: a worker that was frozen (SIGSTOP, a host
 * that hung, a control loop that stalled) may have been declared dead
 * while it could not report, and its streams placed on other workers that
 * continue the same playlists. If its uploads went on when it woke, two
 * workers would write one playlist and viewers would see it go backwards.
 *
 * So the control loop beats (fence_beat) every iteration; a beat that
 * comes more than the limit after the one before it raises the fence, and
 * so does an uploader that finds no beat for longer than the limit
 * (fence_holds), whichever runs first after the freeze. While the fence
 * is up, uploads wait. The agent then registers again on a fresh socket
 * and lowers it (fence_lower) once the coordinator has answered, when the
 * Releases of streams placed elsewhere have reached it first.
 *
 * The limit (fence_limit): the coordinator declares a worker dead when it
 * has had no report for dead_after_ms (RegisterAck), and the loop sends
 * one every report interval, so a loop that never stalled longer than
 * dead_after_ms less one interval was never declared dead. Lock-free
 * (C11 atomics): one beating thread, any number of uploaders.
 */
#ifndef PRISM_WORKER_FENCE_H
#define PRISM_WORKER_FENCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    _Atomic int64_t beat_ms;  /* the last beat; 0 before the first */
    _Atomic int64_t limit_ms; /* a longer gap raises the fence */
    atomic_bool up;
    _Atomic int64_t raised; /* times it went up */
} fence_t;

/* The limit for a coordinator's DEAD_AFTER_MS (0: not known yet, three
 * reports as its default) and the report interval REPORT_MS; at least
 * half an interval (a coordinator with missed_reports 1 leaves none). */
int64_t fence_limit(int64_t dead_after_ms, int64_t report_ms);

void fence_init(fence_t *f, int64_t limit_ms);
void fence_set_limit(fence_t *f, int64_t limit_ms);

/*
 * The control loop's beat at NOW_MS (monotonic). Returns the gap since the
 * beat before when it was longer than the limit (the fence is up then, if
 * it was not already), else 0. The fence goes up before the beat is
 * recorded, so an uploader that sees the new beat also sees the fence.
 */
int64_t fence_beat(fence_t *f, int64_t now_ms);

/*
 * Whether an upload must wait at NOW_MS: the fence is up, or no beat came
 * for longer than the limit (the fence goes up). A NULL fence never holds.
 */
bool fence_holds(fence_t *f, int64_t now_ms);

bool fence_is_up(fence_t *f);
void fence_lower(fence_t *f);

#endif
