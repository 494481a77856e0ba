/* Tests for coordinator/load_ctl: smoothing, effective load, slow moves. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "load_ctl.h"
#include "test_main.h"

static const load_ctl_config_t cfg = {
    .tau_ms = 5000,
    .slow_speed = 0.98,
    .slow_move_ms = 10000,
    .move_cooldown_ms = 60000,
    .avoid_ms = 300000,
};

static void test_smooth(void **state)
{
    (void)state;
    load_ctl_use_t u;
    memset(&u, 0, sizeof(u));
    /* Unknown samples leave it unknown. */
    load_ctl_smooth(&cfg, &u, -1, 0);
    assert_false(u.have);
    /* The first known sample is taken as it is. */
    load_ctl_smooth(&cfg, &u, 0.2, 1000);
    assert_true(u.have);
    assert_float_equal(u.use, 0.2, 1e-9);
    /* A step to 1.0 reported every 500 ms: 63% of the step after tau,
     * 95% after 3 tau, whatever the interval. */
    int64_t t = 1000;
    for (int i = 0; i < 10; i++)
        load_ctl_smooth(&cfg, &u, 1.0, t += 500);
    assert_float_equal(u.use, 0.2 + 0.8 * (1 - exp(-1)), 1e-9);
    for (int i = 0; i < 20; i++)
        load_ctl_smooth(&cfg, &u, 1.0, t += 500);
    assert_float_equal(u.use, 0.2 + 0.8 * (1 - exp(-3)), 1e-9);
    /* The same step reported every 2.5 s lands at the same value. */
    load_ctl_use_t v;
    memset(&v, 0, sizeof(v));
    load_ctl_smooth(&cfg, &v, 0.2, 1000);
    load_ctl_smooth(&cfg, &v, 1.0, 3500);
    load_ctl_smooth(&cfg, &v, 1.0, 6000);
    assert_float_equal(v.use, 0.2 + 0.8 * (1 - exp(-1)), 1e-9);
    /* An unknown sample keeps the value; samples over 1 count as 1. */
    double before = u.use;
    load_ctl_smooth(&cfg, &u, -1, t += 500);
    assert_float_equal(u.use, before, 1e-12);
    assert_true(u.last < 0);
    load_ctl_config_t raw = cfg;
    raw.tau_ms = 0; /* no smoothing: the last sample */
    load_ctl_smooth(&raw, &u, 1.7, t += 500);
    assert_float_equal(u.use, 1.0, 1e-12);
}

static void test_effective(void **state)
{
    (void)state;
    static const struct {
        bool have;
        double use;
        placement_load_t reported, want;
    } t[] = {
        /* Unknown use: the reported cost. */
        {false, 0, {2, 100, 50}, {2, 100, 50}},
        /* An outside load: the use wins. */
        {true, 0.9, {1, 100, 50}, {1, 900, 450}},
        /* An estimate higher than the use: the estimate stays. */
        {true, 0.05, {3, 300, 200}, {3, 300, 200}},
        /* Per dimension. */
        {true, 0.25, {0, 100, 400}, {0, 250, 400}},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        load_ctl_use_t u = {.use = t[i].use, .have = t[i].have};
        placement_load_t out;
        load_ctl_effective(&u, &t[i].reported, 1000, 500, &out);
        assert_int_equal(out.sessions, t[i].want.sessions);
        assert_int_equal(out.encode_pixels, t[i].want.encode_pixels);
        assert_int_equal(out.decode_pixels, t[i].want.decode_pixels);
    }
}

static void test_slow_verdicts(void **state)
{
    (void)state;
    /* Reports every second: (time, speed) -> verdict. */
    static const struct {
        int64_t at;
        double speed;
        load_ctl_verdict_t want;
    } t[] = {
        {1000, 0, LOAD_CTL_OK}, /* no window yet */
        {2000, 1.0, LOAD_CTL_OK},
        {3000, 0.5, LOAD_CTL_SLOW}, /* slow since 3 s */
        {8000, 0.5, LOAD_CTL_SLOW},
        {9000, 1.0, LOAD_CTL_OK},    /* back to real time: reset */
        {10000, 0.6, LOAD_CTL_SLOW}, /* slow since 10 s */
        {15000, 0, LOAD_CTL_SLOW},   /* no figure: nothing changes */
        {19999, 0.6, LOAD_CTL_SLOW},
        {20000, 0.6, LOAD_CTL_MOVE},  /* 10 s under 0.98 */
        {21000, 0.97, LOAD_CTL_MOVE}, /* still under */
    };
    load_ctl_stream_t st;
    load_ctl_stream_init(&st);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(load_ctl_session(&cfg, &st, t[i].at, t[i].speed),
                         t[i].want);
}

static void test_hysteresis(void **state)
{
    (void)state;
    load_ctl_stream_t st;
    load_ctl_stream_init(&st);
    assert_int_equal(load_ctl_avoid(&cfg, &st, 0), -1);
    /* Moved off worker 3 at 20 s. */
    load_ctl_moved(&st, 3, 20000);
    assert_int_equal(load_ctl_avoid(&cfg, &st, 20000), 3);
    assert_int_equal(load_ctl_avoid(&cfg, &st, 319999), 3);
    assert_int_equal(load_ctl_avoid(&cfg, &st, 320000), -1);
    /* Slow again at once on the new worker: not moved within the
     * cooldown, however long it is slow. */
    assert_int_equal(load_ctl_session(&cfg, &st, 21000, 0.5), LOAD_CTL_SLOW);
    assert_int_equal(load_ctl_session(&cfg, &st, 40000, 0.5), LOAD_CTL_SLOW);
    assert_int_equal(load_ctl_session(&cfg, &st, 79999, 0.5), LOAD_CTL_SLOW);
    assert_int_equal(load_ctl_session(&cfg, &st, 80000, 0.5), LOAD_CTL_MOVE);
    /* No room: it stays and waits another slow_move_ms. */
    load_ctl_stayed(&st, 80000);
    assert_int_equal(load_ctl_session(&cfg, &st, 89999, 0.5), LOAD_CTL_SLOW);
    assert_int_equal(load_ctl_session(&cfg, &st, 90000, 0.5), LOAD_CTL_MOVE);
    /* A worker gives up one slow stream per slow_move_ms. */
    assert_true(load_ctl_worker_may_shed(&cfg, 0, 5));
    assert_false(load_ctl_worker_may_shed(&cfg, 50000, 59999));
    assert_true(load_ctl_worker_may_shed(&cfg, 50000, 60000));
}

TEST_MAIN(cmocka_unit_test(test_smooth), cmocka_unit_test(test_effective),
          cmocka_unit_test(test_slow_verdicts),
          cmocka_unit_test(test_hysteresis))
