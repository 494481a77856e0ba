/* The worker's control link and session manager (`prism-worker run`). */
#ifndef PRISM_AGENT_H
#define PRISM_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hwplan.h"
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
 * Threads: agent_stop may be called from a signal handler; everything
 * else on the agent's thread.
 */

typedef struct agent agent_t;

/* One device as offered to the coordinator. */
typedef struct {
    Prism__DeviceKind kind;
    char name[128];
    char path[64];   /* "cpu", "cuda:0", "/dev/dri/renderD128" */
    unsigned codecs; /* encode: bits 1 << ladder_codec_t */
    bool hw_encode, hw_decode;
    uint32_t max_sessions; /* 0 = no limit */
    uint64_t encode_budget, decode_budget;
    uint64_t memory_bytes; /* 0 = unknown (VAAPI) */
    char note[128];
    hwplan_backend_t backend; /* how sessions on it run */
    char device[64];          /* transcode_opts_t.device */
    int cuda_index;           /* for NVML; -1 = not a CUDA device */
} agent_device_t;

#define AGENT_MAX_DEVICES 17

/*
 * The devices offered from a probe and the config: NVENC GPUs, VAAPI
 * nodes with an encoder and, when no GPU is offered (or backend is
 * software), the CPU. Budgets come from `budgets_file` when it names the
 * device's path, else from the config (CPU 0 = 12M encode / 60M decode
 * luma pixels per second per core). Returns the number of devices.
 */
int agent_devices(const probe_t *p, const worker_config_t *cfg,
                  agent_device_t *out, int max);

/*
 * Turns an Assign's renditions (a ladder already fitted by the
 * coordinator) into a profile the transcode session fits to the real
 * source the same way. Returns 0 or -EINVAL (no renditions, bad codec).
 */
int agent_profile_from_assign(const Prism__Assign *a, ladder_profile_t *out);

/*
 * Reads a live media playlist: *next = EXT-X-MEDIA-SEQUENCE + segments
 * listed, the sequence number the next segment must get. Returns 0, or
 * -ENOENT when the text is not a media playlist.
 */
int agent_playlist_next(const char *text, uint64_t *next);

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

/* `prism-worker run`: argv[0] = "run". Returns the exit code. */
int agent_cmd_run(int argc, char **argv);

#endif
