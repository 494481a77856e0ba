/* The loop's state (struct coord), shared by the layers under coord.c. */
#ifndef PRISM_COORD_INT_H
#define PRISM_COORD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr_limit.h"
#include "chan_cache.h"
#include "coord.h"
#include "coord_config.h"
#include "curve_keys.h"
#include "envelope.h"
#include "farm.h"
#include "ladder.h"
#include "liveness.h"
#include "placement.h"
#include "release.h"
#include "store.h"
#include "zap.h"

/*
 * All of this is owned by the loop thread. coord.c and the layers under it
 * (farm.c, rows.c, release.c, ops.c, worker_proto.c, ingest_proto.c,
 * publish.c) include this header; coord_api.c does not: it reads and
 * acts through those layers' functions.
 */
struct coord {
    coord_config_t cfg;
    placement_config_t pcfg;
    liveness_config_t lcfg;
    load_ctl_config_t lctl; /* the load control loop's options */
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
    struct webhooks *hooks;     /* delivery threads, while leading */
    struct publish_hook *phook; /* the platform's admission hook, or NULL */
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
    chan_cache_t *chans;   /* channels last read, for database outages */

    coord_release_t *releases; /* unacknowledged, release_pending_max */
    size_t nreleases;
    placement_rate_t upgrade_rate; /* upgrade_per_s */

    uint64_t hb_seq;
    int64_t next_hb_ms;
    int64_t next_pending_ms;
    int64_t next_retry_ms; /* earliest retry_at_ms of a waiting stream; 0 */
    int64_t next_check_ms;
    int64_t last_check_ms; /* the last time the timed checks ran */
    int64_t loop_ms;       /* when the loop last read the clock; 0 */
    bool pending_dirty;
    coord_counters_t n;
    int64_t started_ms;
};

#endif
