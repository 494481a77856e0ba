/* Tests for worker/probe: NVENC failure classes and the device summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "test_main.h"

static void test_classify_nvenc(void **state)
{
    (void)state;
    assert_int_equal(probe_classify_nvenc(0, ""), PROBE_NVENC_OK);
    assert_int_equal(
        probe_classify_nvenc(-12, "[h264_nvenc @ 0x1] OpenEncodeSessionEx "
                                  "failed: out of memory (10): (no details)\n"),
        PROBE_NVENC_SESSION_LIMIT);
    assert_int_equal(
        probe_classify_nvenc(-38, "[h264_nvenc @ 0x1] No capable devices "
                                  "found\n"),
        PROBE_NVENC_ABSENT);
    assert_int_equal(
        probe_classify_nvenc(-22, "[h264_nvenc @ 0x1] OpenEncodeSessionEx "
                                  "failed: unsupported device (2)\n"),
        PROBE_NVENC_ABSENT);
    assert_int_equal(
        probe_classify_nvenc(-38, "Driver does not support the required "
                                  "nvenc API version. Required: 12.0\n"),
        PROBE_NVENC_DRIVER);
    assert_int_equal(probe_classify_nvenc(-5, "something else"),
                     PROBE_NVENC_ERROR);
    assert_string_equal(probe_nvenc_name(PROBE_NVENC_SESSION_LIMIT),
                        "session_limit");
}

static void test_devices_h100_and_geforce(void **state)
{
    (void)state;
    probe_t *p = calloc(1, sizeof(*p));
    hwplan_devices_t d;
    assert_non_null(p);
    p->cuda_driver = true;
    p->ncuda = 1;
    snprintf(p->cuda[0].name, sizeof(p->cuda[0].name), "NVIDIA H100");
    p->cuda[0].nvdec_h264 = true;
    p->cuda[0].nvdec_av1 = true;
    p->cuda[0].nvenc_h264 = PROBE_NVENC_ABSENT;
    p->cuda[0].nvenc_hevc = PROBE_NVENC_ABSENT;
    probe_devices(p, &d);
    assert_true(d.cuda_driver);
    assert_true(d.nvdec);
    assert_false(d.nvdec_hevc);
    assert_true(d.nvdec_av1);
    assert_false(d.nvenc_h264);

    /* The text says so. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    probe_print(p, false, f);
    fclose(f);
    assert_non_null(strstr(text, "decodes (NVDEC) but has no NVENC"));
    free(text);

    p->cuda[0].nvenc_h264 = PROBE_NVENC_OK;
    p->cuda[0].nvenc_hevc = PROBE_NVENC_SESSION_LIMIT;
    probe_devices(p, &d);
    assert_true(d.nvenc_h264);
    assert_false(d.nvenc_hevc);

    /* The learned session limit, with the refusal's words, in both
     * outputs; a count that reached the bound is "at least". */
    p->cuda[0].nvenc_sessions = 5;
    snprintf(p->cuda[0].nvenc_limit, sizeof(p->cuda[0].nvenc_limit),
             "OpenEncodeSessionEx failed: out of memory (10)");
    f = open_memstream(&text, &len);
    probe_print(p, false, f);
    fclose(f);
    assert_non_null(strstr(text, "NVENC sessions side by side: 5 - the next "
                                 "refused: OpenEncodeSessionEx failed"));
    free(text);
    f = open_memstream(&text, &len);
    probe_print(p, true, f);
    fclose(f);
    assert_non_null(strstr(text, "\"nvenc_sessions\": 5"));
    assert_non_null(strstr(text, "\"nvdec_av1\": true"));
    free(text);
    p->cuda[0].nvenc_sessions = PROBE_NVENC_SESSIONS_MAX;
    p->cuda[0].nvenc_limit[0] = '\0';
    f = open_memstream(&text, &len);
    probe_print(p, false, f);
    fclose(f);
    assert_non_null(strstr(text, "side by side: at least 16"));
    free(text);

    p->nvaapi = 1;
    snprintf(p->vaapi[0].path, sizeof(p->vaapi[0].path), "/dev/dri/renderD129");
    p->vaapi[0].ok = true;
    p->vaapi[0].nprofiles = 2;
    snprintf(p->vaapi[0].profiles[0].profile, 40, "VAProfileH264Main");
    p->vaapi[0].profiles[0].encode = true;
    snprintf(p->vaapi[0].profiles[1].profile, 40, "VAProfileHEVCMain");
    p->vaapi[0].profiles[1].encode = false;
    probe_devices(p, &d);
    assert_true(d.vaapi_node);
    assert_true(d.vaapi_h264);
    assert_false(d.vaapi_hevc);
    assert_string_equal(d.vaapi_device, "/dev/dri/renderD129");
    free(p);
}

static void test_probe_runs(void **state)
{
    (void)state;
    probe_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    probe_run(p);
    /* The system's own counts, read another way: the online CPUs
     * (sysfs "0-3,6" lists) and MemTotal. */
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    assert_non_null(f);
    int cores = 0, a, b;
    char sep;
    while (fscanf(f, "%d", &a) == 1) {
        b = a;
        if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
            assert_int_equal(fscanf(f, "%d", &b), 1);
            if (fscanf(f, "%c", &sep) != 1)
                sep = 0;
        }
        cores += b - a + 1;
        if (sep != ',')
            break;
    }
    fclose(f);
    assert_int_equal(p->cpu_cores, cores);
    f = fopen("/proc/meminfo", "r");
    assert_non_null(f);
    unsigned long long kb = 0;
    assert_int_equal(fscanf(f, "MemTotal: %llu kB", &kb), 1);
    fclose(f);
    assert_true(kb > 0);
    assert_int_equal(p->memory_bytes, kb * 1024);
    assert_non_null(strstr(p->sw_encoders, "libx264"));
    if (!p->cuda_driver)
        assert_non_null(strstr(p->cuda_error, "CUDA"));
    free(p);
}

TEST_MAIN(cmocka_unit_test(test_classify_nvenc),
          cmocka_unit_test(test_devices_h100_and_geforce),
          cmocka_unit_test(test_probe_runs))
