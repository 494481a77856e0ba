/* Tests for coordinator/liveness with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "liveness.h"
#include "test_main.h"

static const liveness_config_t cfg = {
    .report_ms = 1000,
    .missed_reports = 3,
    .hung_ms = 5000,
    .slow_reports = 3,
    .slow_speed = 1.0,
};

static void test_worker_dead_after_three_missed(void **state)
{
    (void)state;
    int64_t now = 100000; /* the fake clock */
    int64_t seen = now;
    now += 2999;
    assert_false(liveness_worker_dead(&cfg, seen, now));
    now += 1;
    assert_false(liveness_worker_dead(&cfg, seen, now));
    now += 1;
    assert_true(liveness_worker_dead(&cfg, seen, now));
    /* A report resets it. */
    seen = now;
    now += 1500;
    assert_false(liveness_worker_dead(&cfg, seen, now));
    assert_int_equal(liveness_worker_deadline(&cfg, seen), seen + 3000);
}

static void test_session_hung_when_output_stalls(void **state)
{
    (void)state;
    liveness_session_t s;
    int64_t now = 0;
    liveness_session_init(&s, now);
    int64_t out = 0, in = 0;
    /* Ten healthy reports: both times advance. */
    for (int i = 0; i < 10; i++) {
        now += 1000;
        out += 1000;
        in += 1000;
        assert_int_equal(liveness_session_report(&cfg, &s, now, out, in, 1.0),
                         LIVENESS_OK);
    }
    /* Output stalls, input flows: hung once hung_ms passed. */
    for (int i = 1; i <= 6; i++) {
        now += 1000;
        in += 1000;
        liveness_state_t st =
            liveness_session_report(&cfg, &s, now, out, in, 1.0);
        assert_int_equal(st, i < 5 ? LIVENESS_OK : LIVENESS_HUNG);
    }
}

static void test_session_idle_input_is_not_hung(void **state)
{
    (void)state;
    liveness_session_t s;
    int64_t now = 0;
    liveness_session_init(&s, now);
    assert_int_equal(liveness_session_report(&cfg, &s, now, 500, 500, 1.0),
                     LIVENESS_OK);
    /* Neither advances (the publisher paused): not the worker's fault. */
    for (int i = 0; i < 10; i++) {
        now += 1000;
        assert_int_equal(liveness_session_report(&cfg, &s, now, 500, 500, 1.0),
                         LIVENESS_OK);
    }
}

static void test_session_slow_after_consecutive_reports(void **state)
{
    (void)state;
    liveness_session_t s;
    int64_t now = 0, t = 0;
    liveness_session_init(&s, now);
    double speeds[] = {0.9, 0.8, 1.1, 0.9, 0.9, 0.95};
    liveness_state_t want[] = {LIVENESS_OK, LIVENESS_OK, LIVENESS_OK,
                               LIVENESS_OK, LIVENESS_OK, LIVENESS_SLOW};
    for (int i = 0; i < 6; i++) {
        now += 1000;
        t += 900;
        assert_int_equal(
            liveness_session_report(&cfg, &s, now, t, t, speeds[i]), want[i]);
    }
}

TEST_MAIN(cmocka_unit_test(test_worker_dead_after_three_missed),
          cmocka_unit_test(test_session_hung_when_output_stalls),
          cmocka_unit_test(test_session_idle_input_is_not_hung),
          cmocka_unit_test(test_session_slow_after_consecutive_reports))
