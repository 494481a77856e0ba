/* The coordinator's farm state, shared by its loop modules (not public). */
#ifndef PRISM_COORD_INT_H
#define PRISM_COORD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr_limit.h"
#include "coord.h"
#include "coord_config.h"
#include "curve_keys.h"
#include "envelope.h"
#include "ladder.h"
#include "liveness.h"
#include "placement.h"
#include "store.h"
#include "zap.h"

/*
 * All of this is owned by the loop thread (coord.c). coord_api.c answers the
 * HTTP thread's questions from it, on the loop thread too.
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
    int ndevices;
    coord_device_info_t dev[COORD_MAX_DEVICES];
    bool move_on_drain;
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
    double in_kbps, in_fps;
    uint64_t dropped;
    /* the worker's uploads to an HTTP origin (0 for a directory output) */
    uint64_t origin_puts, origin_put_failed, origin_deletes,
        origin_delete_failed, origin_dropped;
    uint64_t placements;
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
    /* Session failure policy (see stream_failed in coord.c). */
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

/*
 * A Release sent to a worker and not yet acknowledged: it is sent again
 * after ack_timeout_ms, then at doubling intervals up to
 * release_retry_max_ms, until the worker's Ack (of = release) arrives or
 * the worker is declared dead or registers again (its running list is
 * reconciled then).
 */
typedef struct {
    long worker;
    char stream[COORD_ID_MAX];
    uint64_t generation;
    int reason; /* Prism__ReleaseReason */
    bool at_keyframe;
    int sends;
    int64_t next_ms;
    int64_t backoff_ms;
} coord_release_t;

typedef struct {
    uint64_t placements;
    uint64_t replacements;
    uint64_t rejections;
    uint64_t publishes;
    uint64_t dead_workers;
    uint64_t hung_sessions;
    uint64_t overloads;
    uint64_t send_failures;
    uint64_t events_dropped;
    uint64_t writes_dropped;
    uint64_t messages_in;
    uint64_t messages_bad;
    uint64_t release_resends;    /* Releases sent again, unacknowledged */
    uint64_t releases_untracked; /* table full: sent once, not tracked */
    uint64_t upgrades;           /* partial ladders moved to the whole one */
    uint64_t session_failures;   /* sessions that failed (Ack, hang, timeout) */
    uint64_t streams_failed;     /* times a stream was marked failed */
    uint64_t rendition_failures; /* renditions dropped from running sessions */
} coord_counters_t;

struct coord {
    coord_config_t cfg;
    placement_config_t pcfg;
    liveness_config_t lcfg;
    volatile int stop;
    volatile int reload; /* SIGHUP: re-read the allowlist */
    int64_t next_allow_reload_ms;

    /* sockets and helpers */
    void *control;  /* ROUTER, CURVE, ZAP */
    void *api_sock; /* ROUTER on inproc, the HTTP thread's DEALER talks */
    char api_endpoint[64];
    zap_t *zap;
    curve_keypair_t *keys;
    struct coord_http *http;
    store_t *db;

    /* leadership */
    bool leader;
    bool lock_query_out;
    int64_t next_lock_try_ms;
    bool loaded;

    /* farm */
    coord_worker_t *workers;
    placement_worker_t *pworkers;
    placement_device_t *pdevices;
    size_t nworkers, cap_workers;
    struct idmap *worker_ids;      /* worker id -> index */
    struct idmap *stream_ids;      /* stream id -> slot */
    struct idmap *channel_streams; /* channel id (decimal) -> slot */
    placement_farm_t farm;
    coord_ingest_t *ingests;
    size_t ningests, cap_ingests;
    coord_stream_t *streams;
    size_t cap_streams; /* slots allocated (grows to max_streams) */
    size_t nslots;      /* slots ever used: loops stop here */
    size_t nstreams;    /* slots in use */
    uint64_t next_seq;
    addr_limit_t *badkeys; /* bad stream keys per address (IPv6: /64) */

    coord_release_t *releases; /* unacknowledged, release_pending_max */
    size_t nreleases;
    placement_rate_t upgrade_rate; /* upgrade_per_s */

    uint64_t hb_seq;
    int64_t next_hb_ms;
    int64_t next_pending_ms;
    int64_t next_retry_ms; /* earliest retry_at_ms of a waiting stream; 0 */
    int64_t next_check_ms;
    bool pending_dirty;
    coord_counters_t n;
    int64_t started_ms;
};

/* coord.c: farm operations the API calls. */
coord_worker_t *coord_find_worker(coord_t *c, const char *id, long *idx);
coord_stream_t *coord_find_stream(coord_t *c, const char *id);
int coord_drain(coord_t *c, long wi, bool drain, bool move);
int coord_stop_stream(coord_t *c, coord_stream_t *s, const char *why);
void coord_event(coord_t *c, const char *kind, const char *worker,
                 const char *stream, json_t *detail);
const char *coord_stream_state_name(stream_state_t s);

/* coord_api.c: the devices of worker wi as a JSON array (new reference). */
json_t *coord_devices_json(coord_t *c, long wi);

/* coord_api.c: answers the API requests waiting on the loop thread. */
void coord_api_handle(coord_t *c);

#endif
