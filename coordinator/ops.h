/* Placement operations on farm state: assign, move, upgrade, stop, drain. */
#ifndef PRISM_OPS_H
#define PRISM_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "farm.h"

/*
 * Each operation keeps the farm's tables, the workers (Assign, Release),
 * the database rows and the event log in step; all run on the loop
 * thread. The session failure policy (ops_stream_failed) is described at
 * the top of ops.c.
 */

/* Sends stream s's Assign of its current generation to its worker. */
void ops_send_assign(coord_t *c, coord_stream_t *s);

/* Takes a stream off its worker (no message sent) back to PENDING; its
 * assignment row is closed as close_as ("released", "failed"; NULL
 * none). */
void ops_make_pending(coord_t *c, coord_stream_t *s, const char *close_as);

/* Places a stream that has no worker. Returns 0 when assigned, or the
 * placement code (the stream stays PENDING). why goes in the event. */
int ops_place_stream(coord_t *c, coord_stream_t *s, const char *why);

/* Places every PENDING stream that is due and fits, highest priority
 * first, in one placement_place_batch. */
void ops_place_pending(coord_t *c, const char *why);

/* Gives streams placed with a partial ladder their whole ladder where
 * capacity has freed (see the function's comment), at most upgrade_per_s
 * a second. */
void ops_upgrade_partial(coord_t *c, int64_t now);

/* A session of stream s failed: it waits out the failure policy's backoff
 * before it is placed again. kind is the event written; detail (taken,
 * may be NULL) gets the policy's figures. */
void ops_stream_failed(coord_t *c, coord_stream_t *s, const char *error,
                       const char *kind, json_t *detail);

/*
 * Why stream s, waiting (pending or failed), has no worker yet: "publisher"
 * (away; placed when it comes back), "source" (its video's size is not
 * known yet), "ingest_unknown", "ingest_lost", "ingest_hello" (its ingest
 * has not said where its media is), "backoff" (after a failed session),
 * "capacity" (no worker can take it); NULL for a stream not waiting.
 */
const char *ops_waiting_for(const coord_t *c, const coord_stream_t *s);

/* Failures of stream s within fail_window_ms before now. */
int ops_recent_failures(const coord_t *c, const coord_stream_t *s, int64_t now);

/*
 * Stream s's session has been slow for slow_move_ms (load_ctl.h): moves
 * the whole stream to another worker with room (new worker first, the old
 * session released at its keyframe), neither its own nor the one it last
 * left for being slow within slow_avoid_ms, with a stream.slow_moved
 * event. With no room it stays (a stream.slow event) and is tried again
 * after another slow_move_ms. Returns 0 when moved, else the placement
 * code.
 */
int ops_move_slow(coord_t *c, coord_stream_t *s, int64_t now);

/* Worker wi is dead: every stream it ran is placed again (with
 * previous_gone) and its devices hold nothing. */
void ops_worker_dead(coord_t *c, long wi, const char *why);

/*
 * Drains worker wi (no new streams) or undrains it; with move, moves its
 * streams elsewhere now (new worker first, the old session released at its
 * keyframe). Returns how many moved.
 */
int ops_drain(coord_t *c, long wi, bool drain, bool move);

/*
 * Ends stream s: its worker is sent a Release, the ingest (for why =
 * "operator") a StreamEnd, its row is marked ended and the slot freed
 * (s is invalid after). Returns 0.
 */
int ops_stop_stream(coord_t *c, coord_stream_t *s, const char *why);

#endif
