/* Tests for worker/drm_fdinfo's parser with samples of the real files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drm_fdinfo.h"
#include "test_main.h"

/* The busy ns of engine NAME in X, -1 when absent. */
static long long busy(const drm_fdinfo_t *x, const char *name, int *cap)
{
    for (int i = 0; i < x->nengines; i++)
        if (!strcmp(x->engine[i].name, name)) {
            *cap = x->engine[i].capacity;
            return (long long)x->engine[i].busy_ns;
        }
    return -1;
}

static void test_parse(void **state)
{
    (void)state;
    /* i915 on Linux 6.1 (an Intel render node in use by a VAAPI encoder). */
    const char *i915 = "pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t1038\n"
                       "drm-driver:\ti915\ndrm-pdev:\t0000:00:02.0\n"
                       "drm-client-id:\t37\n"
                       "drm-engine-render:\t2213454 ns\n"
                       "drm-engine-copy:\t0 ns\n"
                       "drm-engine-video:\t931882154 ns\n"
                       "drm-engine-capacity-video:\t2\n"
                       "drm-engine-video-enhance:\t4217 ns\n";
    /* amdgpu on Linux 6.5 (capacities absent). */
    const char *amd = "drm-driver:\tamdgpu\ndrm-pdev:\t0000:03:00.0\n"
                      "drm-client-id:\t1042\n"
                      "drm-memory-vram:\t12288 KiB\n"
                      "drm-engine-gfx:\t1750000 ns\n"
                      "drm-engine-dec:\t0 ns\n"
                      "drm-engine-enc:\t88000000 ns\n";
    const struct {
        const char **text;
        const char *pdev;
        uint64_t client;
        const char *engine;
        long long ns;
        int cap;
    } t[] = {
        {&i915, "0000:00:02.0", 37, "video", 931882154, 2},
        {&i915, "0000:00:02.0", 37, "video-enhance", 4217, 1},
        {&i915, "0000:00:02.0", 37, "render", 2213454, 1},
        {&amd, "0000:03:00.0", 1042, "enc", 88000000, 1},
        {&amd, "0000:03:00.0", 1042, "memory-vram", -1, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        drm_fdinfo_t x;
        assert_int_equal(drm_fdinfo_parse(*t[i].text, &x), 0);
        assert_string_equal(x.pdev, t[i].pdev);
        assert_int_equal(x.client_id, t[i].client);
        int cap = 0;
        long long ns = busy(&x, t[i].engine, &cap);
        if (!strcmp(t[i].engine, "memory-vram")) {
            /* drm-memory-* is not an engine. */
            assert_int_equal(ns, -1);
            continue;
        }
        assert_int_equal(ns, t[i].ns);
        assert_int_equal(cap, t[i].cap);
    }
    /* Not a DRM client: a pipe's fdinfo. */
    drm_fdinfo_t x;
    assert_int_equal(
        drm_fdinfo_parse("pos:\t0\nflags:\t02\nmnt_id:\t12\nino:\t5\n", &x),
        -ENOENT);
}

/* A node nobody uses (this host has none): unknown at the first sample,
 * and with no client found, unknown after. */
static void test_sample_without_clients(void **state)
{
    (void)state;
    drm_load_t *d = drm_load_new("/dev/null");
    assert_non_null(d);
    double use = 0;
    assert_int_equal(drm_load_sample(d, 1000000, &use), 0);
    assert_true(use < 0);
    assert_int_equal(drm_load_sample(d, 2000000, &use), 0);
    assert_true(use < 0);
    drm_load_free(&d);
    assert_null(d);
}

TEST_MAIN(cmocka_unit_test(test_parse),
          cmocka_unit_test(test_sample_without_clients))
