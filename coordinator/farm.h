/* The coordinator's farm state: workers, devices, ingests, streams, lookups. */
#ifndef PRISM_FARM_H
#define PRISM_FARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "envelope.h"
#include "ladder.h"
#include "liveness.h"
#include "load_ctl.h"
#include "placement.h"

/*
 * The records below are owned by the loop thread (coord.c) and the layers
 * it calls: farm.c (this table), rows.c and release.c (what is written and
 * sent), ops.c (placement operations), worker_proto.c, ingest_proto.c and
 * publish.c (the protocol). coord_api.c reads them, on the loop thread
 * too, only through the functions declared here and in the layers'
 * headers. Pointers into the stream table are valid only until the next
 * farm_stream_alloc (the table grows by doubling).
 */

#define COORD_MAX_DEVICES 8 /* devices per worker kept */
#define COORD_ID_MAX      64
#define COORD_TOKEN_HEX   32

typedef enum {
    WORKER_LIVE = 0,
    WORKER_DEAD = 1, /* missed its reports; slot kept for the API */
} worker_state_t;

typedef struct {
    uint32_t index;
    placement_kind_t kind;
    char name[96];
    char path[96];
    char note[128];
    uint64_t memory_bytes;
    int encoder_util; /* from the last report; -1 unknown */
    int decoder_util;
    int sm_util; /* NVML's GPU (SM) utilisation; -1 unknown */
    /* The load control loop (load_ctl.h): the measured use, smoothed; the
     * cost of the sessions the worker reports (placement's `measured` is
     * the larger of the two); a CPU device's cores and the worker
     * process's own use; where the figure comes from ("cgroup", "host",
     * "nvml", "" unknown). */
    load_ctl_use_t use;
    placement_load_t reported;
    double cpu_cores, process_cores;
    char measured_source[8];
} coord_device_info_t;

typedef struct {
    char id[COORD_ID_MAX];
    char host[128];
    char software[64];
    unsigned char rid[ENVELOPE_RID_MAX];
    size_t rid_len;
    worker_state_t state;
    int64_t last_seen_ms;
    int64_t registered_wall_ms;
    uint64_t reports;
    uint64_t last_report_seq; /* LoadReport.seq of the last report */
    int ndevices;
    coord_device_info_t dev[COORD_MAX_DEVICES];
    bool move_on_drain;
    int64_t slow_shed_ms; /* it last gave up a slow stream; 0 never */
} coord_worker_t;

typedef struct {
    char id[COORD_ID_MAX];
    char endpoint[256];
    unsigned char public_key[32];
    bool has_key;
    unsigned char rid[ENVELOPE_RID_MAX];
    size_t rid_len;
    int64_t last_seen_ms;
    bool lost; /* silent past node_timeout_ms; its streams were ended */
} coord_ingest_t;

typedef enum {
    STREAM_FREE = 0,   /* slot unused */
    STREAM_PENDING,    /* live at the ingest, waiting for capacity */
    STREAM_ASSIGNING,  /* Assign sent, no Ack yet */
    STREAM_RUNNING,    /* the worker acknowledged */
    STREAM_RECOVERING, /* loaded from the database after a restart */
    STREAM_FAILED,     /* fail_limit session failures in fail_window_ms:
                          placed again every fail_retry_ms */
} stream_state_t;

#define COORD_FAIL_RING 32 /* failure times kept: fail_limit's bound */
#define COORD_ERROR_MAX 256

/* A rendition a worker dropped from a running session, as it reported. */
typedef struct {
    char name[32];
    char error[160];
} coord_rend_failure_t;

typedef struct {
    stream_state_t state;
    char id[COORD_ID_MAX];
    int64_t channel_id;
    char channel[64];
    uint32_t priority;
    char ingest[COORD_ID_MAX];
    char protocol[8]; /* "rtmp" or "srt" */
    char profile[64]; /* ladder profile name when it started */
    char token[COORD_TOKEN_HEX + 1];
    Prism__SourceInfo src_info; /* scalars only; strings not kept */
    ladder_source_t source;
    ladder_t ladder; /* fitted profile */
    unsigned kept;   /* rungs placed (bits into ladder.r) */
    long worker;     /* index into workers, -1 none */
    long device;     /* index into placement devices, -1 none */
    ladder_cost_t cost;
    bool confirmed; /* the worker's report showed it */
    uint64_t generation;
    uint64_t seq; /* arrival order */
    int64_t started_wall_ms;
    int64_t assign_sent_ms;
    int assign_tries;
    int64_t recover_deadline_ms;
    uint64_t media_sequence;
    liveness_session_t live;
    /* last reports */
    double speed, fps;
    double speed_10s, fps_in, fps_out; /* the last 10 s */
    uint32_t encode_latency_ms, queue_depth;
    load_ctl_stream_t lctl; /* slow-session moves (load_ctl.h) */
    double in_kbps, in_fps;
    double in_keyframe_s; /* the ingest's measured keyframe interval */
    uint64_t in_dropped;  /* packets the ingest dropped */
    uint32_t reconnects;  /* publishes that continued the stream */
    uint64_t dropped;
    /* the worker's uploads to an HTTP origin (0 for a directory output) */
    uint64_t origin_puts, origin_put_failed, origin_deletes,
        origin_delete_failed, origin_dropped;
    /* the session's decoded frames out of order (retimed) and gap copies,
     * as of its last report (frames_gen: that session's generation) */
    uint64_t frames_unordered, frames_filled, frames_gen;
    uint64_t placements;
    /* stream.live was written: its master playlist reached the output,
     * every rendition listing a segment (a stream reloaded after a
     * restart counts as said). */
    bool live_said;
    /* The last session's worker died (not a move, a failure or a
     * reconnect, where a session may still be finishing the playlists):
     * the next Assign says so (Assign.previous_gone). */
    bool previous_gone;
    /* one Release waiting for an old worker after a move */
    long moving_from;
    uint64_t moving_gen;
    /* The profile, kept until the source's size is known: RTMP encoders
     * send it (onMetaData) only after the publish was accepted, and the
     * ingest's stats bring it; the ladder is fitted then. */
    ladder_profile_t prof;
    bool awaiting_source;
    int64_t upgraded_ms; /* last move to the whole ladder; 0 never */
    /* The publisher left at this time (0: it is there): the stream waits
     * reconnect_grace_ms for it, its worker holding the playlists open. */
    int64_t left_ms;
    /* When the stream's ingest last reported more bytes from its
     * publisher (or the publish was admitted), and how many: a second
     * publish with the key is refused until publisher_silence_ms passed. */
    int64_t media_ms;
    uint64_t bytes_in;
    /* Session failure policy (see ops_stream_failed in ops.c). */
    int64_t fail_at[COORD_FAIL_RING]; /* recent failure times, a ring */
    uint64_t failures;                /* in all, for the API */
    int64_t backoff_ms;               /* the last wait; 0 = none yet */
    int64_t retry_at_ms;              /* not placed again before this */
    int64_t running_since_ms;         /* RUNNING since; 0 = not running */
    long avoid_worker;                /* where it last failed, -1 none */
    bool failed; /* marked failed; cleared by fail_reset_ms of running */
    char last_error[COORD_ERROR_MAX];
    /* Renditions the worker dropped from the current generation. */
    uint64_t rfail_generation;
    int nrfail;
    coord_rend_failure_t rfail[LADDER_MAX_RUNGS];
} coord_stream_t;

typedef struct {
    uint64_t placements;
    uint64_t replacements;
    uint64_t rejections;
    uint64_t cache_admits; /* publishes admitted from the channel cache */
    uint64_t publishes;
    uint64_t dead_workers;
    uint64_t hung_sessions;
    uint64_t overloads;
    uint64_t send_failures;
    uint64_t events_dropped;
    uint64_t writes_dropped;
    uint64_t messages_in;
    uint64_t messages_bad;
    uint64_t reports;         /* LoadReports taken */
    uint64_t report_gaps;     /* reports a worker numbered but never arrived */
    uint64_t release_resends; /* Releases sent again, unacknowledged */
    uint64_t releases_untracked; /* table full: sent once, not tracked */
    uint64_t upgrades;           /* partial ladders moved to the whole one */
    uint64_t session_failures;   /* sessions that failed (Ack, hang, timeout) */
    uint64_t streams_failed;     /* times a stream was marked failed */
    uint64_t rendition_failures; /* renditions dropped from running sessions */
    uint64_t slow_moves;         /* streams moved off a worker for slowness */
    uint64_t slow_stays;         /* slow streams that found no room to move */
    uint64_t frames_unordered;   /* decoded frames out of order, all sessions */
    uint64_t frames_filled;      /* copies encoded into gaps, all sessions */
} coord_counters_t;

/* "pending", "running", ...; "free" for an unused slot. Static. */
const char *farm_stream_state_name(stream_state_t s);
/* Where viewers get FILE of stream s ("master.m3u8", "thumb.jpg"):
 * <playback_url>/<channel>/FILE (or under output_url when it is http(s)
 * and playback_url is empty) in BUF; false when there is no HTTP base. */
bool farm_playback_url(const coord_t *c, const coord_stream_t *s,
                       const char *file, char *buf, size_t len);

/* Worker wi's state as the API shows it: dead, draining, overloaded,
 * live. */
const char *farm_worker_state_name(const coord_t *c, long wi);

/* ---------------------------------------------------------------- lookups */

/* The worker named id (its index in *idx when given), or NULL. */
coord_worker_t *farm_find_worker(coord_t *c, const char *id, long *idx);

/* The stream named id, or NULL (also for a free slot). */
coord_stream_t *farm_find_stream(coord_t *c, const char *id);

/* The stream of channel channel_id, or NULL. */
coord_stream_t *farm_find_channel_stream(coord_t *c, int64_t channel_id);

/* The ingest named id, or NULL. */
coord_ingest_t *farm_find_ingest(const coord_t *c, const char *id);

/* The id of worker wi, "" for -1 (none). Static for the loop's life. */
const char *farm_worker_id(const coord_t *c, long wi);

/* The stream's device as its worker numbers them, -1 when unplaced. */
int farm_device_index(const coord_t *c, const coord_stream_t *s);

/* The bits of every rung of the stream's ladder (its whole ladder). */
unsigned farm_full_mask(const coord_stream_t *s);

/* ---------------------------------------------------------------- tables */

/*
 * A free stream slot, zeroed with no worker, device or failure history and
 * the next arrival number, or NULL at max_streams or out of memory. The
 * table grows by doubling: pointers into it are valid only until the next
 * call.
 */
coord_stream_t *farm_stream_alloc(coord_t *c);

/* Makes a stream findable by its id and its channel. 0 or -ENOMEM. */
int farm_stream_index(coord_t *c, coord_stream_t *s);

/* Frees the slot and drops it from the indices (no message, no row). */
void farm_stream_free(coord_t *c, coord_stream_t *s);

/*
 * Adds worker id (not known yet) with an empty record and no devices.
 * Returns its index, -ENOSPC when the table cannot grow (max_workers
 * reached, or out of memory), or -ENOMEM when the id cannot be indexed.
 */
long farm_worker_add(coord_t *c, const char *id);

/*
 * The ingest that sent a message from peer (named by its key when the ZAP
 * handler named one, else by id), recorded on first sight with its public
 * key from allow_dir, its routing id and last sight updated. NULL for a bad
 * id or a full table (MAX_INGESTS).
 */
coord_ingest_t *farm_ingest_seen(coord_t *c, const envelope_peer_t *peer,
                                 const char *id);

/* ---------------------------------------------------------------- sending */

/*
 * Sends env (borrowed) on the control socket to routing id rid, never
 * waiting. Returns envelope_send's code; a failure is counted
 * (send_failures) and logged at debug level naming `to`.
 */
int farm_send(coord_t *c, const unsigned char *rid, size_t rid_len,
              Prism__Envelope *env, const char *to);

/* Sends a RegisterAck (accepted, or refused with reason) to rid. */
void farm_send_register_ack(coord_t *c, const unsigned char *rid,
                            size_t rid_len, bool accepted, const char *reason,
                            const char *to);

/* Tells a peer the coordinator does not know it (after a restart): it
 * sends Register (a worker) or Hello (an ingest) again. */
void farm_send_not_registered(coord_t *c, const envelope_peer_t *peer,
                              const char *who);

/* ---------------------------------------------------------------- reading */

/* What the API reads: workers 0..farm_worker_count - 1 (dead ones kept). */
size_t farm_worker_count(const coord_t *c);
const coord_worker_t *farm_worker(const coord_t *c, long wi);
const placement_worker_t *farm_pworker(const coord_t *c, long wi);
/* Device k (< ndevices) of worker wi, as placement sees it. */
const placement_device_t *farm_device(const coord_t *c, long wi, size_t k);
/* Streams of any state on worker wi. */
int farm_worker_streams(const coord_t *c, long wi);

/* Stream slots 0..farm_stream_slots - 1; farm_stream_at is NULL for a free
 * one. */
size_t farm_stream_slots(const coord_t *c);
const coord_stream_t *farm_stream_at(const coord_t *c, size_t i);

/* The counters /metrics shows. */
const coord_counters_t *farm_counters(const coord_t *c);

#endif
