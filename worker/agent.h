/* The worker's control link and session manager (`prism-worker run`). */
#ifndef PRISM_AGENT_H
#define PRISM_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ladder.h"
#include "prism.pb-c.h"
#include "probe.h"
#include "worker_config.h"

/*
 * How this works. One thread (the caller of agent_run) owns the control
 * DEALER, connected to every coordinator endpoint with ZMQ_IMMEDIATE so it
 * only talks to the one that is bound (the leader). It sends Register
 * (devices from the probe, budgets from the calibrate file or config, the
 * streams it runs now) until a RegisterAck accepts it, then a LoadReport
 * every interval (also its heartbeat). Silence from the coordinator for
 * coordinator_lost_ms, or a RegisterAck refusing an unknown worker, makes
 * it register again, listing its running streams, so a restarted
 * coordinator reconciles against what really runs; sessions never stop
 * because the coordinator is away.
 *
 * Assign starts a session thread: it asks the origin (or output
 * directory) where the stream's playlists stand, subscribes at the ingest
 * (zmq_source), and runs a transcode session from the media packets to
 * the origin. The Ack (of = assign) goes out when the subscription is up,
 * or with ok = false when it failed. Release stops the session of that
 * generation or an older one and is acknowledged at once. A newer Assign
 * for a running stream replaces the older generation.
 *
 * Files: agent.c holds the control link and the session threads; the
 * devices offered come from device_offer.c, the LoadReport is built by
 * load_report.c, where the playlists stand is read by hls_continue.c, and
 * `prism-worker run` (the command) is in main.c.
 *
 * Threads: agent_stop may be called from a signal handler; everything
 * else on the agent's thread.
 */

typedef struct agent agent_t;

/*
 * Turns an Assign's renditions (a ladder already fitted by the
 * coordinator) into a profile the transcode session fits to the real
 * source the same way. Returns 0 or -EINVAL (no renditions, bad codec).
 */
int agent_profile_from_assign(const Prism__Assign *a, ladder_profile_t *out);

/*
 * Makes the agent: loads the keys, probes devices (probe may be NULL to
 * probe now; borrowed otherwise), connects to the coordinators. Returns
 * NULL on failure (logged).
 */
agent_t *agent_new(const worker_config_t *cfg, const probe_t *probe);

/* Runs until agent_stop; stops every session before returning. 0 or
 * -errno. */
int agent_run(agent_t *a);

/* Asks agent_run to return soon; async-signal-safe. */
void agent_stop(agent_t *a);

void agent_free(agent_t **ap);

#endif
