/* Placement: which worker device runs a stream's ladder (pure, no I/O). */
#ifndef PRISM_PLACEMENT_H
#define PRISM_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ladder.h"

/*
 * The farm as placement sees it: flat arrays of workers and devices that the
 * coordinator's state model (or a bench, or a test) owns and updates. Every
 * function here is pure: it reads the arrays, or changes the load counters
 * it is told to change, and does no I/O, no allocation and no logging.
 */

typedef enum {
    PLACEMENT_KIND_CPU = 0,
    PLACEMENT_KIND_NVENC = 1,
    PLACEMENT_KIND_VAAPI = 2,
    PLACEMENT_KIND_QSV = 3,
    PLACEMENT_KIND_COUNT
} placement_kind_t;

typedef enum {
    PLACEMENT_LEAST_LOADED = 0, /* spread: the emptiest device after it */
    PLACEMENT_BEST_FIT = 1,     /* pack: the fullest device it still fits */
} placement_policy_t;

/* Encoder sessions and luma pixel rates: one load or budget vector. */
typedef struct {
    int sessions;
    uint64_t encode_pixels;
    uint64_t decode_pixels;
} placement_load_t;

typedef struct {
    placement_kind_t kind;
    bool hw_encode;      /* false: a decode-only GPU, never encodes */
    unsigned enc_codecs; /* bit (1 << ladder_codec_t) per codec it encodes */
    int max_sessions;    /* encoder sessions on this device, 0 = no limit */
    uint64_t enc_budget; /* luma pixels/s the encoder sustains */
    uint64_t dec_budget; /* luma pixels/s the decoder sustains, 0 = none */
    placement_load_t reserved;    /* every placement on it */
    placement_load_t unconfirmed; /* placements its reports do not show yet */
    placement_load_t measured;    /* what its last load report said */
} placement_device_t;

typedef struct {
    bool live;             /* registered and reporting */
    bool draining;         /* operator: no new streams */
    bool overloaded;       /* a session ran under real time: no new streams */
    int max_host_sessions; /* encoder sessions over all its devices, 0 = none
                              (GeForce drivers: 8 per host) */
    size_t first_device;   /* its devices: farm->devices[first .. first+n) */
    size_t ndevices;
} placement_worker_t;

typedef struct {
    placement_worker_t *workers;
    size_t nworkers;
    placement_device_t *devices;
    size_t ndevices;
} placement_farm_t;

typedef struct {
    placement_policy_t policy;
    double headroom; /* fraction of each budget kept free, e.g. 0.15 */
} placement_config_t;

typedef struct {
    const ladder_t *ladder;        /* the fitted ladder, rule-applied */
    const ladder_source_t *source; /* for the decode cost */
    bool allow_partial;            /* drop rungs when the whole one fits
                                      nowhere */
} placement_request_t;

typedef struct {
    long worker;        /* index into farm->workers, -1 when nothing fits */
    long device;        /* index into farm->devices, -1 when nothing fits */
    unsigned kept;      /* bit i set: ladder->r[i] is part of the placement */
    bool partial;       /* some encoded rungs were dropped */
    ladder_cost_t cost; /* what the kept rungs cost the device */
    double load_after;  /* the device's load fraction with this placed */
} placement_result_t;

/* Result codes of placement_pick besides 0. */
#define PLACEMENT_ENOWORKER (-1001) /* no live, accepting worker at all */
#define PLACEMENT_ENOSPACE  (-1002) /* workers exist, the ladder fits none */

/*
 * Picks a device for the request. The whole ladder is tried first; when it
 * fits nowhere and allow_partial is set, the most expensive encoded rung is
 * dropped and the rest tried again, down to the remuxed Source alone (which
 * needs no encoder, only a live accepting worker). A device qualifies when its
 * worker is live, not draining and not overloaded, it encodes every codec of
 * the rungs, and its sessions (and the host's) and its budgets less the
 * headroom hold the cost on top of its current use, where use is
 * max(reserved, measured + unconfirmed) per dimension: measured beats
 * estimated. Among qualifying devices the policy decides; ties go to the
 * lowest index. Returns 0 with `out` filled, PLACEMENT_ENOWORKER or
 * PLACEMENT_ENOSPACE (out->worker = -1). Threads: reads farm only.
 */
int placement_pick(const placement_config_t *cfg, const placement_farm_t *farm,
                   const placement_request_t *req, placement_result_t *out);

/*
 * Adds (sign > 0) or removes (sign < 0) a reservation of `cost` on a device;
 * with `unconfirmed` it also counts as not yet seen in the worker's reports.
 * Counters never go below zero.
 */
void placement_reserve(placement_device_t *dev, const ladder_cost_t *cost,
                       int sign, bool unconfirmed);

/* Moves `cost` from unconfirmed to confirmed (a report showed the session). */
void placement_confirm(placement_device_t *dev, const ladder_cost_t *cost);

/* The device's use per dimension: max(reserved, measured + unconfirmed). */
void placement_device_used(const placement_device_t *dev,
                           placement_load_t *out);

/* Sessions in use on all of a worker's devices (for the host limit). */
int placement_worker_sessions(const placement_farm_t *farm, size_t worker);

/*
 * The device's load fraction: the largest of sessions/max, encode/budget and
 * decode/budget (budgets before headroom); 0 for an empty device.
 */
double placement_device_load(const placement_device_t *dev);

/* The cost of the rungs of `ladder` whose bit is set in `kept`. */
void placement_cost_of(const ladder_t *ladder, const ladder_source_t *src,
                       unsigned kept, ladder_cost_t *out);

/* One stream waiting for (better) placement, for placement_place_batch. */
typedef struct {
    placement_request_t req;
    uint32_t priority;         /* higher is placed first */
    uint64_t seq;              /* arrival order: lower is placed first */
    void *user;                /* the caller's stream, untouched */
    int rc;                    /* out: placement_pick's result */
    placement_result_t result; /* out */
    bool avoid;                /* try every worker but avoid_worker first */
    long avoid_worker;         /* index into farm->workers (when avoid) */
} placement_item_t;

/*
 * What the caller does with an item once it is picked (rc and result set),
 * before the next item is: the coordinator assigns it (Assign, database,
 * event). When rc is 0 it must reserve the result on its device (as
 * placement_reserve(..., +1, true)), so that the next pick sees it.
 */
typedef void (*placement_apply_fn)(void *ctx, placement_item_t *it);

/*
 * Places items in priority order (higher priority first, then lower seq):
 * picks each (an item with `avoid` is tried without its avoid_worker first,
 * then with it) and hands it to apply(ctx, item); without apply, a placed
 * item is reserved on its device as unconfirmed. At the first
 * PLACEMENT_ENOWORKER (no live worker at all) the batch stops: that item
 * has been handed to apply, the rest get rc PLACEMENT_ENOWORKER and are
 * not. Sorts `items` in place. This is how the coordinator places pending
 * streams (all of them when capacity frees or a worker dies, or one):
 * higher-priority channels get transcodes first.
 */
void placement_place_batch(const placement_config_t *cfg,
                           placement_farm_t *farm, placement_item_t *items,
                           size_t n, placement_apply_fn apply, void *ctx);

/*
 * Which of n streams an overloaded worker sheds: the lowest priority, and
 * among equals the newest (highest seq). Returns its index, or -1 if n = 0.
 */
long placement_shed_pick(const uint32_t *priority, const uint64_t *seq,
                         size_t n);

/* A running stream as the upgrade of partial ladders sees it. */
typedef struct {
    uint32_t priority;
    uint64_t seq;        /* arrival order */
    bool partial;        /* placed with some rungs dropped */
    int64_t upgraded_ms; /* when it was last upgraded; 0 never */
    void *user;          /* the caller's stream, untouched */
} placement_upgrade_t;

/*
 * Which of n streams may be upgraded to their whole ladder at time now, in
 * the order to try them: partial ones not upgraded within cooldown_ms,
 * highest priority first, then oldest (lowest seq). Reorders s in place so
 * that those come first, in that order, and returns how many they are.
 */
size_t placement_upgrade_order(placement_upgrade_t *s, size_t n, int64_t now,
                               int64_t cooldown_ms);

/* A rate limit of per_s actions in each window of one second. */
typedef struct {
    int64_t window_ms; /* start of the current window */
    int64_t used;      /* actions taken in it */
} placement_rate_t;

/*
 * How many more actions the rate limit r allows at time now (a window that
 * is over opens a new one). The caller adds what it takes to r->used.
 */
int64_t placement_rate_left(placement_rate_t *r, int64_t now, int64_t per_s);

const char *placement_kind_name(placement_kind_t kind); /* "cpu", "nvenc"... */
int placement_kind_parse(const char *name, placement_kind_t *out);
const char *placement_policy_name(placement_policy_t policy);
int placement_policy_parse(const char *name, placement_policy_t *out);

#endif
