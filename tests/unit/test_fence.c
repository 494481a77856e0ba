/* Tests for worker/fence: a frozen control loop raises the fence, from
 * the loop's own next beat or from an uploader that finds no beat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fence.h"

static void test_beats_within_the_limit_hold_nothing(void **state)
{
    (void)state;
    fence_t f;
    fence_init(&f, 1000);
    assert_false(fence_holds(&f, 5000)); /* no beat yet: no agent */
    for (int64_t t = 10000; t <= 20000; t += 1000)
        assert_int_equal(fence_beat(&f, t), 0);
    assert_false(fence_holds(&f, 20900));
    assert_false(fence_is_up(&f));
    assert_false(fence_holds(NULL, 99999));
}

static void test_a_late_beat_raises_it_until_lowered(void **state)
{
    (void)state;
    fence_t f;
    fence_init(&f, 1000);
    fence_beat(&f, 10000);
    assert_int_equal(fence_beat(&f, 16000), 6000); /* SIGSTOP for 6 s */
    assert_true(fence_is_up(&f));
    assert_true(fence_holds(&f, 16010));
    assert_int_equal(fence_beat(&f, 16050), 0); /* beating again: still up */
    assert_true(fence_holds(&f, 16060));
    fence_lower(&f);
    assert_false(fence_holds(&f, 16070));
    assert_int_equal(atomic_load(&f.raised), 1);
}

static void test_an_uploader_raises_it_before_the_loop_runs(void **state)
{
    (void)state;
    fence_t f;
    fence_init(&f, 1000);
    fence_beat(&f, 10000);
    assert_false(fence_holds(&f, 11000)); /* exactly the limit: not yet */
    assert_true(fence_holds(&f, 11001));
    /* The loop's own beat then reports the freeze; the fence stays up. */
    assert_int_equal(fence_beat(&f, 12000), 2000);
    assert_true(fence_is_up(&f));
    assert_int_equal(atomic_load(&f.raised), 1); /* one freeze, counted once */
}

static void test_the_limit_follows_the_coordinator(void **state)
{
    (void)state;
    /* dead after 3 x 500 ms: a stall up to 1 s was never declared dead */
    assert_int_equal(fence_limit(1500, 500), 1000);
    assert_int_equal(fence_limit(0, 1000), 2000); /* its default, 3 reports */
    assert_int_equal(fence_limit(500, 500), 250); /* missed_reports 1 */
    fence_t f;
    fence_init(&f, 2000);
    fence_set_limit(&f, 1000);
    fence_beat(&f, 10000);
    assert_true(fence_holds(&f, 11500));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beats_within_the_limit_hold_nothing),
        cmocka_unit_test(test_a_late_beat_raises_it_until_lowered),
        cmocka_unit_test(test_an_uploader_raises_it_before_the_loop_runs),
        cmocka_unit_test(test_the_limit_follows_the_coordinator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
