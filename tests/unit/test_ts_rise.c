/* Tests for ts_rise: a track's dts kept rising within a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_main.h"
#include "ts_rise.h"

/* A burst of frames with one dts (flvmux after a stall) leaves one tick
 * apart, each pts at least its dts. */
static void test_equal_burst_raised(void **state)
{
    (void)state;
    ts_rise_t t = {0};
    int64_t pts = 100, dts = 100;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    for (int i = 1; i <= 3; i++) {
        pts = 100;
        dts = 100;
        assert_true(ts_rise(&t, 1000, &pts, &dts));
        assert_int_equal(dts, 100 + i);
        assert_int_equal(pts, 100 + i);
    }
    /* A later frame past the raised ones passes unchanged. */
    pts = 140;
    dts = 133;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    assert_int_equal(dts, 133);
    assert_int_equal(pts, 140);
}

/* A pts above the raised dts is kept; a missing pts stays missing. */
static void test_pts_kept(void **state)
{
    (void)state;
    ts_rise_t t = {0};
    int64_t pts = 50, dts = 50;
    ts_rise(&t, 1000, &pts, &dts);
    pts = 90;
    dts = 40;
    assert_true(ts_rise(&t, 1000, &pts, &dts));
    assert_int_equal(dts, 51);
    assert_int_equal(pts, 90);
    pts = TS_RISE_NO_PTS;
    dts = 51;
    assert_true(ts_rise(&t, 1000, &pts, &dts));
    assert_int_equal(dts, 52);
    assert_true(pts == TS_RISE_NO_PTS);
}

/* A step back larger than the window is a break: passed unchanged, and
 * later packets rise from it. */
static void test_break_passes(void **state)
{
    (void)state;
    ts_rise_t t = {0};
    int64_t pts = 5000, dts = 5000;
    ts_rise(&t, 1000, &pts, &dts);
    pts = dts = 3999;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    assert_int_equal(dts, 3999);
    pts = dts = 3999;
    assert_true(ts_rise(&t, 1000, &pts, &dts));
    assert_int_equal(dts, 4000);
}

/* Hostile timestamps (INT64_MIN, a jump across the whole range) are
 * compared without overflow (UBSan found the subtraction) and pass. */
static void test_extremes_pass(void **state)
{
    (void)state;
    ts_rise_t t = {0};
    int64_t pts = 140040, dts = 140040;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    pts = TS_RISE_NO_PTS;
    dts = TS_RISE_NO_PTS;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    assert_true(dts == TS_RISE_NO_PTS);
    pts = dts = INT64_MIN + 1;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    assert_true(dts == INT64_MIN + 1);
    pts = dts = INT64_MAX;
    assert_false(ts_rise(&t, 1000, &pts, &dts));
    pts = dts = INT64_MAX;
    assert_false(ts_rise(&t, 1000, &pts, &dts)); /* no room to raise */
    assert_true(dts == INT64_MAX);
}

TEST_MAIN(cmocka_unit_test(test_equal_burst_raised),
          cmocka_unit_test(test_pts_kept), cmocka_unit_test(test_break_passes),
          cmocka_unit_test(test_extremes_pass))
