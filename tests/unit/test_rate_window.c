/* Tests for worker/rate_window: the 10 s rates of a session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rate_window.h"
#include "test_main.h"

/* Pushes a sample every step_us for n steps at speed (media per wall) and
 * fps frames in, 3 fps out per frame in, from *t. */
static void run(rate_window_t *w, int64_t *t, int64_t *media, int64_t *fr,
                int n, int64_t step_us, double speed, double fps)
{
    for (int i = 0; i < n; i++) {
        *t += step_us;
        *media += (int64_t)(speed * (double)step_us);
        *fr += (int64_t)(fps * (double)step_us / 1e6);
        rate_window_push(w, &(rate_window_sample_t){*t, *media, *fr, 3 * *fr});
    }
}

static void test_rates(void **state)
{
    (void)state;
    rate_window_t w;
    memset(&w, 0, sizeof(w));
    rate_window_rates_t r;
    rate_window_rates(&w, &r);
    assert_true(r.span_s == 0 && r.speed == 0);
    int64_t t = 0, media = 0, fr = 0;
    rate_window_push(&w, &(rate_window_sample_t){0, 0, 0, 0});
    rate_window_rates(&w, &r);
    assert_true(r.span_s == 0);
    /* 4 s at real time, 20 fps. */
    run(&w, &t, &media, &fr, 40, 100000, 1.0, 20);
    rate_window_rates(&w, &r);
    assert_float_equal(r.span_s, 4.0, 1e-9);
    assert_float_equal(r.speed, 1.0, 1e-9);
    assert_float_equal(r.fps_in, 20, 1e-9);
    assert_float_equal(r.fps_out, 60, 1e-9);
    /* Then 20 s at half speed: the window sees only the last 10 s. */
    run(&w, &t, &media, &fr, 200, 100000, 0.5, 10);
    rate_window_rates(&w, &r);
    assert_true(r.span_s <= 10.0 && r.span_s >= 9.5);
    assert_float_equal(r.speed, 0.5, 1e-6);
    assert_float_equal(r.fps_in, 10, 1e-6);
    /* Back at real time for 5 s: the window mixes, about 0.75. */
    run(&w, &t, &media, &fr, 50, 100000, 1.0, 25);
    rate_window_rates(&w, &r);
    assert_true(r.speed > 0.7 && r.speed < 0.8);
}

static void test_samples_kept_every_step(void **state)
{
    (void)state;
    rate_window_t w;
    memset(&w, 0, sizeof(w));
    /* Pushes 1 ms apart keep one sample per RATE_WINDOW_STEP_US. */
    for (int64_t t = 0; t <= 2000000; t += 1000)
        rate_window_push(&w, &(rate_window_sample_t){t, t, 0, 0});
    assert_int_equal(w.n, 5); /* 0, 0.5, 1, 1.5, 2 s */
    /* The ring never holds more than its slots, however long it runs. */
    for (int64_t t = 2000000; t <= 100000000; t += 1000)
        rate_window_push(&w, &(rate_window_sample_t){t, t, 0, 0});
    assert_int_equal(w.n, RATE_WINDOW_SLOTS);
    rate_window_rates_t r;
    rate_window_rates(&w, &r);
    assert_float_equal(r.speed, 1.0, 1e-9);
    assert_true(r.span_s <= 10.0);
}

TEST_MAIN(cmocka_unit_test(test_rates),
          cmocka_unit_test(test_samples_kept_every_step))
