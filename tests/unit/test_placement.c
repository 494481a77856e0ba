/* Tests for coordinator/placement: table-driven farms, ladders, expectations.
 */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ladder.h"
#include "placement.h"
#include "test_main.h"

#define M 1000000ull

/* A 1080p60 source and its ladder: source remux, 720p60, 720p30, 480p30,
 * 360p30, 160p30 (five encoded rungs). */
static const ladder_source_t src1080 = {1920, 1080, 60, 1, 1, 1, 6000};

static void rung(ladder_t *l, const char *name, bool remux, int w, int h,
                 int fps, ladder_codec_t codec)
{
    ladder_rendition_t *r = &l->r[l->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->remux = remux;
    r->width = w;
    r->height = h;
    r->fps_num = fps;
    r->fps_den = 1;
    r->frame_step = 1;
    r->bitrate_kbps = 1000;
    r->codec = codec;
}

static void make_ladder(ladder_t *l, ladder_codec_t codec)
{
    memset(l, 0, sizeof(*l));
    rung(l, "source", true, 1920, 1080, 60, LADDER_CODEC_H264);
    rung(l, "720p60", false, 1280, 720, 60, codec);
    rung(l, "720p30", false, 1280, 720, 30, codec);
    rung(l, "480p30", false, 854, 480, 30, codec);
    rung(l, "360p30", false, 640, 360, 30, codec);
    rung(l, "160p30", false, 284, 160, 30, codec);
}

#define H264     (1u << LADDER_CODEC_H264)
#define HEVC     (1u << LADDER_CODEC_HEVC)
#define MAXDEV   4
#define MAXWORK  4
#define ALL_KEPT 0x3fu

typedef struct {
    placement_kind_t kind;
    bool hw_encode;
    unsigned codecs;
    int max_sessions;
    uint64_t enc, dec; /* budgets */
    int res_sessions;  /* reserved (confirmed) */
    uint64_t res_enc;  /* reserved encode pixels */
    uint64_t meas_enc; /* measured encode pixels */
    int meas_sessions; /* measured sessions */
} dev_spec_t;

typedef struct {
    bool dead, draining, overloaded;
    int host_sessions;
    int ndev;
    dev_spec_t dev[MAXDEV];
} worker_spec_t;

typedef struct {
    const char *name;
    placement_policy_t policy;
    double headroom;
    ladder_codec_t codec;
    bool partial;
    int nworkers;
    worker_spec_t w[MAXWORK];
    int want_rc;
    long want_worker;
    long want_device; /* index within the worker */
    unsigned want_kept;
} case_t;

/* A big NVENC card with room for several ladders. */
#define NV_BIG(...)                                                            \
    {                                                                          \
        PLACEMENT_KIND_NVENC, true, H264 | HEVC, 0, 2000 * M, 2000 * M,        \
            __VA_ARGS__                                                        \
    }
#define CPU_SMALL(...)                                                         \
    {                                                                          \
        PLACEMENT_KIND_CPU, false, H264, 0, 150 * M, 400 * M, __VA_ARGS__      \
    }

static const case_t cases[] = {
    {"least-loaded picks the emptier worker",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.ndev = 1, .dev = {NV_BIG(5, 400 * M, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"best-fit picks the fuller worker",
     PLACEMENT_BEST_FIT,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.ndev = 1, .dev = {NV_BIG(5, 400 * M, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}}},
     0,
     0,
     0,
     ALL_KEPT},
    {"device session cap",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.ndev = 1,
       .dev = {{PLACEMENT_KIND_NVENC, true, H264, 8, 2000 * M, 2000 * M, 4,
                10 * M, 0, 0}}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"GeForce host limit of 8 sessions over two cards",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.host_sessions = 8,
       .ndev = 2,
       .dev = {NV_BIG(5, 100 * M, 0, 0), NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(10, 1000 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"GeForce host limit leaves room: second card",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.host_sessions = 8,
       .ndev = 2,
       .dev = {NV_BIG(3, 100 * M, 0, 0), NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(10, 1000 * M, 0, 0)}}},
     0,
     0,
     1,
     ALL_KEPT},
    {"GeForce host already past its limit by its reports takes nothing",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.host_sessions = 8,
       .ndev = 2,
       .dev = {NV_BIG(2, 100 * M, 100 * M, 9), NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(10, 1000 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"encode budget too small everywhere",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 60 * M, 0, 0)}}},
     PLACEMENT_ENOSPACE,
     -1,
     -1,
     0},
    {"headroom 5% admits a ladder using 90% of the budget",
     PLACEMENT_LEAST_LOADED,
     0.05,
     LADDER_CODEC_H264,
     false,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 32 * M, 0, 0)}}},
     0,
     0,
     0,
     ALL_KEPT},
    {"headroom 15% refuses the same ladder",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 32 * M, 0, 0)}}},
     PLACEMENT_ENOSPACE,
     -1,
     -1,
     0},
    {"HEVC ladder only on a device that encodes HEVC",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_HEVC,
     false,
     2,
     {{.ndev = 1,
       .dev = {{PLACEMENT_KIND_VAAPI, true, H264, 0, 2000 * M, 2000 * M, 0, 0,
                0, 0}}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"draining worker gets nothing",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.draining = true, .ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"only a draining worker: no worker",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     true,
     1,
     {{.draining = true, .ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}}},
     PLACEMENT_ENOWORKER,
     -1,
     -1,
     0},
    {"overloaded worker gets nothing",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.overloaded = true, .ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"dead worker gets nothing",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.dead = true, .ndev = 1, .dev = {NV_BIG(0, 0, 0, 0)}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"measured use beats an empty reservation",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.ndev = 1, .dev = {NV_BIG(0, 0, 1500 * M, 2)}},
      {.ndev = 1, .dev = {NV_BIG(5, 900 * M, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"decode-only GPU never encodes",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     2,
     {{.ndev = 1,
       .dev = {{PLACEMENT_KIND_NVENC, false, H264, 0, 4000 * M, 4000 * M, 0, 0,
                0, 0}}},
      {.ndev = 1, .dev = {CPU_SMALL(0, 0, 0, 0)}}},
     0,
     1,
     0,
     ALL_KEPT},
    {"partial ladder drops 720p60 first",
     PLACEMENT_LEAST_LOADED,
     0.0,
     LADDER_CODEC_H264,
     true,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 90 * M, 0, 0)}}},
     0,
     0,
     0,
     ALL_KEPT & ~(1u << 1)},
    {"partial ladder down to 360p and 160p",
     PLACEMENT_LEAST_LOADED,
     0.0,
     LADDER_CODEC_H264,
     true,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 140 * M, 0, 0)}}},
     0,
     0,
     0,
     (1u << 0) | (1u << 4) | (1u << 5)},
    {"no room at all: Source remux only",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     true,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 150 * M, 0, 0)}}},
     0,
     0,
     0,
     1u << 0},
    {"partial not allowed: refused",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     false,
     1,
     {{.ndev = 1, .dev = {CPU_SMALL(0, 150 * M, 0, 0)}}},
     PLACEMENT_ENOSPACE,
     -1,
     -1,
     0},
    {"no workers at all",
     PLACEMENT_LEAST_LOADED,
     0.15,
     LADDER_CODEC_H264,
     true,
     0,
     {{0}},
     PLACEMENT_ENOWORKER,
     -1,
     -1,
     0},
};

typedef struct {
    placement_worker_t workers[MAXWORK];
    placement_device_t devices[MAXWORK * MAXDEV];
    placement_farm_t farm;
} farm_buf_t;

static void build_farm(const case_t *c, farm_buf_t *fb)
{
    memset(fb, 0, sizeof(*fb));
    size_t nd = 0;
    for (int i = 0; i < c->nworkers; i++) {
        const worker_spec_t *ws = &c->w[i];
        placement_worker_t *w = &fb->workers[i];
        w->live = !ws->dead;
        w->draining = ws->draining;
        w->overloaded = ws->overloaded;
        w->max_host_sessions = ws->host_sessions;
        w->first_device = nd;
        w->ndevices = (size_t)ws->ndev;
        for (int k = 0; k < ws->ndev; k++) {
            const dev_spec_t *s = &ws->dev[k];
            placement_device_t *d = &fb->devices[nd++];
            d->kind = s->kind;
            d->hw_encode = s->hw_encode;
            d->enc_codecs = s->codecs;
            d->max_sessions = s->max_sessions;
            d->enc_budget = s->enc;
            d->dec_budget = s->dec;
            d->reserved.sessions = s->res_sessions;
            d->reserved.encode_pixels = s->res_enc;
            d->measured.encode_pixels = s->meas_enc;
            d->measured.sessions = s->meas_sessions;
        }
    }
    fb->farm.workers = fb->workers;
    fb->farm.nworkers = (size_t)c->nworkers;
    fb->farm.devices = fb->devices;
    fb->farm.ndevices = nd;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const case_t *c = &cases[i];
        farm_buf_t fb;
        build_farm(c, &fb);
        ladder_t lad;
        make_ladder(&lad, c->codec);
        placement_config_t cfg = {c->policy, c->headroom};
        placement_request_t req = {&lad, &src1080, c->partial};
        placement_result_t res;
        int rc = placement_pick(&cfg, &fb.farm, &req, &res);
        print_message("case: %s -> rc=%d worker=%ld device=%ld kept=%#x\n",
                      c->name, rc, res.worker, res.device, res.kept);
        assert_int_equal(rc, c->want_rc);
        assert_int_equal(res.worker, c->want_worker);
        if (rc == 0) {
            long first = (long)fb.workers[res.worker].first_device;
            assert_int_equal(res.device - first, c->want_device);
            assert_int_equal(res.kept, c->want_kept);
            assert_int_equal(res.partial, c->want_kept != ALL_KEPT);
            ladder_cost_t want;
            placement_cost_of(&lad, &src1080, res.kept, &want);
            assert_int_equal(res.cost.sessions, want.sessions);
            assert_true(res.cost.encode_pixels == want.encode_pixels);
        }
    }
}

/* Reservations accumulate: a one-device farm fills up, then refuses. */
static void test_fill_until_full(void **state)
{
    (void)state;
    placement_worker_t w = {.live = true, .ndevices = 1};
    placement_device_t d = {.kind = PLACEMENT_KIND_NVENC,
                            .hw_encode = true,
                            .enc_codecs = H264,
                            .max_sessions = 0,
                            .enc_budget = 1000 * M,
                            .dec_budget = 0};
    placement_farm_t farm = {&w, 1, &d, 1};
    ladder_t lad;
    make_ladder(&lad, LADDER_CODEC_H264);
    ladder_cost_t c;
    ladder_cost(&lad, &src1080, &c);
    placement_config_t cfg = {PLACEMENT_LEAST_LOADED, 0.15};
    placement_request_t req = {&lad, &src1080, false};
    int placed = 0;
    placement_result_t r;
    while (placement_pick(&cfg, &farm, &req, &r) == 0) {
        placement_reserve(&d, &r.cost, +1, true);
        placed++;
        assert_true(placed < 100);
    }
    /* 850 Mpx/s usable over the ladder's cost. */
    assert_int_equal(placed, (int)(850 * M / c.encode_pixels));
    assert_int_equal(d.reserved.sessions, placed * c.sessions);
    /* A report confirming the sessions changes nothing... */
    for (int i = 0; i < placed; i++)
        placement_confirm(&d, &c);
    d.measured = d.reserved;
    assert_int_equal(placement_pick(&cfg, &farm, &req, &r), PLACEMENT_ENOSPACE);
    /* ...and releasing one frees room for exactly one more. */
    placement_reserve(&d, &c, -1, false);
    d.measured = d.reserved;
    assert_int_equal(placement_pick(&cfg, &farm, &req, &r), 0);
}

/* placement_place_batch as the coordinator calls it: each item goes to
 * apply in order, an item with `avoid` lands on another worker when one
 * fits, and with no live worker the batch stops at the first item. */
typedef struct {
    placement_farm_t *farm;
    int calls;
    long worker[4];
} batch_apply_t;

static void batch_apply(void *ctx, placement_item_t *it)
{
    batch_apply_t *b = ctx;
    b->worker[b->calls++] = it->rc == 0 ? it->result.worker : -1;
    if (it->rc == 0)
        placement_reserve(&b->farm->devices[it->result.device],
                          &it->result.cost, +1, true);
}

static void test_batch_apply_and_avoid(void **state)
{
    (void)state;
    placement_worker_t w[2] = {
        {.live = true, .ndevices = 1},
        {.live = true, .first_device = 1, .ndevices = 1}};
    placement_device_t d[2] = {
        {.kind = PLACEMENT_KIND_CPU, .enc_codecs = H264, .enc_budget = 900 * M},
        {.kind = PLACEMENT_KIND_CPU,
         .enc_codecs = H264,
         .enc_budget = 900 * M}};
    placement_farm_t farm = {w, 2, d, 2};
    ladder_t lad;
    make_ladder(&lad, LADDER_CODEC_H264);
    placement_item_t items[2] = {
        {{&lad, &src1080, true}, 5, 1, NULL, 0, {0}, false, -1},
        {{&lad, &src1080, true}, 5, 2, NULL, 0, {0}, true, 0},
    };
    placement_config_t cfg = {PLACEMENT_LEAST_LOADED, 0.0};
    batch_apply_t b = {&farm, 0, {0}};
    /* The first goes to the emptier worker 0 or 1; load worker 1 so that
     * least-loaded would pick worker 0 for the second, which avoids it. */
    placement_place_batch(&cfg, &farm, items, 1, batch_apply, &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(items[0].rc, 0);
    long first = b.worker[0];
    if (first == 0) { /* make worker 0 the less loaded one again */
        placement_reserve(&d[0], &items[0].result.cost, -1, true);
        placement_reserve(&d[1], &items[0].result.cost, +1, true);
    }
    placement_place_batch(&cfg, &farm, &items[1], 1, batch_apply, &b);
    assert_int_equal(b.calls, 2);
    assert_int_equal(items[1].rc, 0);
    assert_int_equal(b.worker[1], 1); /* not worker 0, though less loaded */
    assert_false(w[0].draining);      /* the avoidance left no trace */

    /* No live worker: apply sees the first item only, both fail. */
    w[0].live = w[1].live = false;
    placement_item_t dead[2] = {
        {{&lad, &src1080, true}, 1, 1, NULL, 0, {0}, false, -1},
        {{&lad, &src1080, true}, 9, 2, NULL, 0, {0}, false, -1},
    };
    b.calls = 0;
    placement_place_batch(&cfg, &farm, dead, 2, batch_apply, &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(dead[0].rc, PLACEMENT_ENOWORKER);
    assert_int_equal(dead[1].rc, PLACEMENT_ENOWORKER);
}

/* Pending streams retried in priority order: the higher priority channel
 * gets the full ladder, the lower one what is left. */
static void test_batch_priorities(void **state)
{
    (void)state;
    placement_worker_t w = {.live = true, .ndevices = 1};
    placement_device_t d = {.kind = PLACEMENT_KIND_CPU,
                            .enc_codecs = H264,
                            .enc_budget = 130 * M,
                            .dec_budget = 0};
    placement_farm_t farm = {&w, 1, &d, 1};
    ladder_t lad;
    make_ladder(&lad, LADDER_CODEC_H264);
    int tags[3] = {0, 1, 2};
    placement_item_t items[3] = {
        {{&lad, &src1080, true}, 1, 1, &tags[0], 0, {0}, false, -1},
        {{&lad, &src1080, true}, 5, 3, &tags[1], 0, {0}, false, -1},
        {{&lad, &src1080, true}, 5, 2, &tags[2], 0, {0}, false, -1},
    };
    placement_config_t cfg = {PLACEMENT_LEAST_LOADED, 0.0};
    placement_place_batch(&cfg, &farm, items, 3, NULL, NULL);
    /* Order: priority 5 seq 2, priority 5 seq 3, priority 1. */
    assert_ptr_equal(items[0].user, &tags[2]);
    assert_ptr_equal(items[1].user, &tags[1]);
    assert_ptr_equal(items[2].user, &tags[0]);
    assert_int_equal(items[0].rc, 0);
    assert_false(items[0].result.partial);
    assert_int_equal(items[1].rc, 0);
    assert_true(items[1].result.partial);
    assert_int_equal(items[2].rc, 0);
    assert_true(items[2].result.partial);
    /* The lowest priority got no more rungs than the one before it. */
    assert_true(items[2].result.cost.sessions <= items[1].result.cost.sessions);
    assert_true(d.reserved.encode_pixels <= 130 * M);
}

static void test_shed_pick(void **state)
{
    (void)state;
    uint32_t prio[4] = {3, 1, 1, 7};
    uint64_t seq[4] = {10, 4, 9, 1};
    assert_int_equal(placement_shed_pick(prio, seq, 4), 2);
    assert_int_equal(placement_shed_pick(prio, seq, 0), -1);
}

/*
 * Which partial ladders are upgraded, in which order: table rows are
 * streams (priority, arrival, partial, last upgrade); the expected order
 * lists the arrival numbers of those eligible at t = 100000 with a cooldown
 * of 60000 ms.
 */
static void test_upgrade_order(void **state)
{
    (void)state;
    static const struct {
        uint32_t prio;
        uint64_t seq;
        bool partial;
        int64_t upgraded_ms;
    } rows[] = {
        {50, 1, false, 0},    /* whole ladder already: never */
        {10, 2, true, 0},     /* partial, low priority */
        {90, 3, true, 0},     /* partial, high priority: first */
        {90, 4, true, 50000}, /* upgraded 50 s ago: cooling down */
        {90, 5, true, 40000}, /* upgraded 60 s ago: allowed again */
        {50, 6, true, 0},     /* between */
        {10, 7, true, 99999}, /* upgraded 1 ms ago */
        {10, 0, true, 0},     /* oldest of priority 10 */
    };
    static const uint64_t want[] = {3, 5, 6, 0, 2};
    placement_upgrade_t v[8];
    size_t n = sizeof(rows) / sizeof(rows[0]);
    for (size_t i = 0; i < n; i++)
        v[i] = (placement_upgrade_t){rows[i].prio, rows[i].seq, rows[i].partial,
                                     rows[i].upgraded_ms, (void *)&rows[i]};
    size_t k = placement_upgrade_order(v, n, 100000, 60000);
    assert_int_equal(k, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(v[i].seq, want[i]);
        /* The caller's pointer travels with its stream. */
        assert_ptr_equal(v[i].user, &rows[want[i] == 0 ? 7 : want[i] - 1]);
    }
    /* Cooldown 0: every partial stream is eligible. */
    for (size_t i = 0; i < n; i++)
        v[i] = (placement_upgrade_t){rows[i].prio, rows[i].seq, rows[i].partial,
                                     rows[i].upgraded_ms, NULL};
    assert_int_equal(placement_upgrade_order(v, n, 100000, 0), 7);
    assert_int_equal(placement_upgrade_order(v, 0, 100000, 0), 0);
}

/* The upgrade rate limit: per_s actions per one-second window. */
static void test_rate_left(void **state)
{
    (void)state;
    placement_rate_t r = {0, 0};
    assert_int_equal(placement_rate_left(&r, 5000, 2), 2);
    r.used += 2;
    assert_int_equal(placement_rate_left(&r, 5500, 2), 0);
    assert_int_equal(placement_rate_left(&r, 5999, 2), 0);
    assert_int_equal(placement_rate_left(&r, 6000, 2), 2); /* new window */
    r.used += 1;
    assert_int_equal(placement_rate_left(&r, 6100, 2), 1);
    assert_int_equal(placement_rate_left(&r, 6100, 0), 0); /* turned off */
}

/*
 * The pick as the header states it, computed the slow way: for each
 * candidate rung set from the whole ladder down (each time without the
 * encoded rung with the highest pixel rate), every device of every
 * accepting worker is tested in full and the policy's best kept (ties:
 * lowest index). placement_pick settles most devices by shortcuts; it must
 * pick the same device.
 */
static int ref_pick(placement_policy_t policy, double headroom,
                    const placement_farm_t *farm, const ladder_t *lad,
                    placement_result_t *out)
{
    unsigned kept = (1u << lad->n) - 1u;
    bool any = false;
    out->worker = out->device = -1;
    for (;;) {
        ladder_cost_t c;
        placement_cost_of(lad, &src1080, kept, &c);
        double best = 0;
        for (size_t wi = 0; wi < farm->nworkers; wi++) {
            const placement_worker_t *w = &farm->workers[wi];
            if (!w->live || w->draining || w->overloaded || !w->ndevices)
                continue;
            any = true;
            int host = placement_worker_sessions(farm, wi);
            for (size_t k = 0; k < w->ndevices; k++) {
                size_t di = w->first_device + k;
                const placement_device_t *d = &farm->devices[di];
                placement_load_t u;
                placement_device_used(d, &u);
                double hf = 1.0 - headroom;
                bool fit = c.sessions == 0 ||
                           ((d->hw_encode || d->kind == PLACEMENT_KIND_CPU) &&
                            (c.codecs & d->enc_codecs) == c.codecs &&
                            (d->max_sessions <= 0 ||
                             u.sessions + c.sessions <= d->max_sessions) &&
                            (w->max_host_sessions <= 0 ||
                             host + c.sessions <= w->max_host_sessions) &&
                            u.encode_pixels + c.encode_pixels <=
                                (uint64_t)((double)d->enc_budget * hf) &&
                            (!d->dec_budget ||
                             u.decode_pixels + c.decode_pixels <=
                                 (uint64_t)((double)d->dec_budget * hf)));
                if (!fit)
                    continue;
                placement_device_t after = *d;
                placement_reserve(&after, &c, +1, false);
                after.measured = after.unconfirmed = (placement_load_t){0};
                placement_load_t a = {u.sessions + c.sessions,
                                      u.encode_pixels + c.encode_pixels,
                                      u.decode_pixels + c.decode_pixels};
                after.reserved = a;
                double l = placement_device_load(&after);
                if (out->device < 0 ||
                    (policy == PLACEMENT_BEST_FIT ? l > best : l < best)) {
                    out->worker = (long)wi;
                    out->device = (long)di;
                    out->kept = kept;
                    best = l;
                }
            }
        }
        if (out->device >= 0 || !any || c.sessions == 0)
            break;
        int worst = -1;
        uint64_t wp = 0;
        for (int i = 0; i < lad->n; i++) {
            const ladder_rendition_t *r = &lad->r[i];
            uint64_t px = (uint64_t)r->width * (uint64_t)r->height *
                          (uint64_t)(ladder_rendition_fps(r) + 0.5);
            if ((kept & (1u << i)) && !r->remux && (worst < 0 || px > wp)) {
                worst = i;
                wp = px;
            }
        }
        kept &= ~(1u << worst);
    }
    if (!any)
        return PLACEMENT_ENOWORKER;
    return out->device < 0 ? PLACEMENT_ENOSPACE : 0;
}

/* A farm like the sched bench's (GeForce hosts limited to 8 sessions, two
 * card hosts, VAAPI, CPU), filled by both policies, one pick at a time,
 * with churn and a few reported loads above the reservations: every pick
 * is the reference's. */
static void test_pick_matches_reference(void **state)
{
    (void)state;
    enum { NW = 40 };
    placement_worker_t w[NW];
    placement_device_t d[2 * NW];
    long on[400];
    ladder_cost_t cost[400];
    uint64_t rs = 0x2545f4914f6cdd1dull;
    ladder_t lad;
    make_ladder(&lad, LADDER_CODEC_H264);
    for (int pol = 0; pol < 2; pol++) {
        placement_farm_t farm = {w, 0, d, 0};
        memset(w, 0, sizeof(w));
        memset(d, 0, sizeof(d));
        for (int i = 0; i < NW; i++) {
            placement_worker_t *pw = &w[farm.nworkers++];
            pw->live = true;
            pw->first_device = farm.ndevices;
            int kind = i % 5, nd = kind == 1 ? 2 : 1;
            pw->max_host_sessions = kind == 0 ? 8 : 0;
            for (int k = 0; k < nd; k++) {
                placement_device_t *pd = &d[farm.ndevices++];
                pd->kind = kind == 4   ? PLACEMENT_KIND_CPU
                           : kind == 3 ? PLACEMENT_KIND_VAAPI
                                       : PLACEMENT_KIND_NVENC;
                pd->hw_encode = kind != 4;
                pd->enc_codecs = H264 | HEVC;
                pd->max_sessions = kind == 2 ? 12 : 0;
                pd->enc_budget = (kind == 4 ? 250 : 400 + 300 * k) * M;
                pd->dec_budget = kind == 4 ? 0 : 900 * M;
            }
            pw->ndevices = farm.ndevices - pw->first_device;
        }
        placement_config_t cfg = {
            pol ? PLACEMENT_BEST_FIT : PLACEMENT_LEAST_LOADED, 0.15};
        placement_request_t req = {&lad, &src1080, true};
        int n = 0, partial = 0;
        for (int i = 0; i < 400; i++) {
            rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
            if (i % 7 == 0) /* a report above the reservations */
                d[rs % farm.ndevices].measured.encode_pixels += 20 * M;
            placement_result_t got, want;
            int rc = placement_pick(&cfg, &farm, &req, &got);
            int wrc = ref_pick(cfg.policy, cfg.headroom, &farm, &lad, &want);
            assert_int_equal(rc, wrc);
            assert_int_equal(got.device, want.device);
            assert_int_equal(got.kept, want.kept);
            if (rc != 0)
                continue;
            partial += got.partial;
            placement_reserve(&d[got.device], &got.cost, +1, true);
            on[n] = got.device;
            cost[n++] = got.cost;
            if (i % 5 == 4) { /* churn: one ends */
                int k = (int)(rs % (uint64_t)n);
                placement_reserve(&d[on[k]], &cost[k], -1, true);
                on[k] = on[--n];
                cost[k] = cost[n];
            }
        }
        assert_true(partial > 0); /* the farm was filled past full */
    }
}

static void test_names(void **state)
{
    (void)state;
    placement_kind_t k;
    assert_int_equal(placement_kind_parse("NVENC", &k), 0);
    assert_int_equal(k, PLACEMENT_KIND_NVENC);
    assert_string_equal(placement_kind_name(PLACEMENT_KIND_VAAPI), "vaapi");
    assert_int_equal(placement_kind_parse("tpu", &k), -EINVAL);
    placement_policy_t p;
    assert_int_equal(placement_policy_parse("best-fit", &p), 0);
    assert_int_equal(p, PLACEMENT_BEST_FIT);
    assert_int_equal(placement_policy_parse("random", &p), -EINVAL);
}

TEST_MAIN(cmocka_unit_test(test_table), cmocka_unit_test(test_fill_until_full),
          cmocka_unit_test(test_batch_priorities),
          cmocka_unit_test(test_batch_apply_and_avoid),
          cmocka_unit_test(test_shed_pick),
          cmocka_unit_test(test_upgrade_order),
          cmocka_unit_test(test_rate_left), cmocka_unit_test(test_names),
          cmocka_unit_test(test_pick_matches_reference))
