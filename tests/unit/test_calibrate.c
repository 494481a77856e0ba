/* Tests for worker/calibrate: budgets measured without a GPU, and a CUDA
 * calibration that says why when there is no CUDA device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <libavutil/hwcontext.h>
#include <libavutil/log.h>

#include "calibrate.h"
#include "log.h"
#include "test_main.h"

/* Whether CUDA device 0 opens here (then the no-device test is moot). */
static bool have_cuda(void)
{
    AVBufferRef *dev = NULL;
    bool ok =
        av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_CUDA, "0", NULL, 0) >= 0;
    av_buffer_unref(&dev);
    return ok;
}

static void test_cuda_without_a_device(void **state)
{
    (void)state;
    calibrate_cuda_t m;
    av_log_set_level(AV_LOG_QUIET);
    log_set_level(LOG_LEVEL_ERROR);
    if (have_cuda())
        skip();
    /* No device: a clear reason, no figure, nothing else tried. */
    assert_int_equal(calibrate_cuda(0, true, 4, 320, 180, 0.2, &m), -ENODEV);
    assert_int_equal(strncmp(m.note, "no CUDA device 0: ", 18), 0);
    assert_true(m.encode_pps == 0 && m.decode_pps == 0);
    assert_int_equal(m.sessions, 0);
}

/* The CPU budget: the frames are made before the clock starts, so a run
 * of a fraction of a second still encodes many frames. */
static void test_cpu_budget(void **state)
{
    (void)state;
    double e = 0, d = 0;
    assert_int_equal(
        calibrate_measure("libx264", "preset=ultrafast", 320, 180, 0.3, &e, &d),
        0);
    assert_true(e > 320 * 180 * 10.0);
    assert_true(d > e / 10);
}

TEST_MAIN(cmocka_unit_test(test_cuda_without_a_device),
          cmocka_unit_test(test_cpu_budget))
