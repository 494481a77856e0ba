/* Tests for worker/device_offer: the devices offered, and their budgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "device_offer.h"
#include "test_main.h"
#include "worker_config.h"

static void test_devices_and_budgets(void **state)
{
    (void)state;
    char dir[] = "/tmp/prism-agent-test-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/budgets.txt", dir);
    calibrate_budget_t b[2] = {{"cpu", 33000000, 99000000},
                               {"cuda:0", 900000000, 1800000000}};
    assert_int_equal(calibrate_save(path, b, 2), 0);
    calibrate_budget_t r[4];
    assert_int_equal(calibrate_load(path, r, 4), 2);
    assert_string_equal(r[1].path, "cuda:0");
    assert_int_equal(r[1].decode_budget, 1800000000u);

    probe_t p;
    memset(&p, 0, sizeof(p));
    p.cpu_cores = 4;
    snprintf(p.sw_encoders, sizeof(p.sw_encoders), "libx264,aac");
    p.ncuda = 2;
    p.cuda[0].index = 0;
    snprintf(p.cuda[0].name, sizeof(p.cuda[0].name), "GeForce");
    p.cuda[0].nvenc_h264 = PROBE_NVENC_OK;
    p.cuda[0].nvenc_hevc = PROBE_NVENC_OK;
    p.cuda[1].index = 1;
    p.cuda[1].nvenc_h264 = PROBE_NVENC_ABSENT; /* an H100: NVDEC only */
    p.cuda[1].nvenc_hevc = PROBE_NVENC_ABSENT;

    worker_config_t cfg;
    char err[256];
    char *argv[] = {"run", "--budgets-file", path, "--gpu-max-sessions", "8",
                    NULL};
    assert_int_equal(worker_config_parse(&cfg, 5, argv, err, sizeof(err)), 0);
    assert_true(cfg.worker_id[0] != '\0'); /* the host name by default */
    device_offer_t d[DEVICE_OFFER_MAX];
    int n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    /* auto: the NVENC GPU only (no encoder on the H100, CPU not offered). */
    assert_int_equal(n, 1);
    assert_string_equal(d[0].path, "cuda:0");
    assert_int_equal(d[0].kind, PRISM__DEVICE_KIND__DEVICE_KIND_NVENC);
    assert_int_equal(d[0].max_sessions, 8);
    assert_int_equal(d[0].encode_budget, 900000000u); /* calibrated */
    assert_int_equal(d[0].codecs,
                     (1u << LADDER_CODEC_H264) | (1u << LADDER_CODEC_HEVC));
    /* The probe found the GPU refuses its 6th session: 5 offered, under
     * the 8 set; with none set, 5; when 16 opened unrefused, the 8 set. */
    p.cuda[0].nvenc_sessions = 5;
    snprintf(p.cuda[0].nvenc_limit, sizeof(p.cuda[0].nvenc_limit),
             "session limit");
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].max_sessions, 5);
    cfg.gpu_max_sessions = 3;
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].max_sessions, 3);
    cfg.gpu_max_sessions = 0;
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].max_sessions, 5);
    p.cuda[0].nvenc_sessions = 16;
    p.cuda[0].nvenc_limit[0] = '\0';
    cfg.gpu_max_sessions = 8;
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].max_sessions, 8);

    char *argv2[] = {"run", "--backend",      "software", "--cpu-max-sessions",
                     "4",   "--budgets-file", path,       NULL};
    assert_int_equal(worker_config_parse(&cfg, 7, argv2, err, sizeof(err)), 0);
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].path, "cpu");
    assert_int_equal(d[0].max_sessions, 4);
    assert_int_equal(d[0].encode_budget, 33000000u);
    assert_int_equal(d[0].codecs, 1u << LADDER_CODEC_H264);

    /* Without a budgets file: 12M encode / 60M decode per core. */
    char *argv3[] = {"run", "--backend", "software", NULL};
    assert_int_equal(worker_config_parse(&cfg, 3, argv3, err, sizeof(err)), 0);
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].encode_budget, 48000000u);
    assert_int_equal(d[0].decode_budget, 240000000u);
    /* In a cgroup limited to 1.5 of the 4 cores: a 1.5-core device. */
    p.cpu_limit_cores = 1.5;
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].encode_budget, 18000000u);
    assert_int_equal(d[0].decode_budget, 90000000u);
    assert_string_equal(d[0].name, "cpu (1.50 of 4 cores: cgroup)");
    p.cpu_limit_cores = 0;

    /* An H100 alone: the CPU is offered, its sessions hybrid (NVDEC and
     * scale_cuda on the GPU, x264 on the CPU). */
    p.ncuda = 1;
    p.cuda[0].nvenc_h264 = PROBE_NVENC_ABSENT;
    p.cuda[0].nvenc_hevc = PROBE_NVENC_ABSENT;
    p.cuda[0].nvdec_h264 = true;
    char *argv4[] = {"run", NULL};
    assert_int_equal(worker_config_parse(&cfg, 1, argv4, err, sizeof(err)), 0);
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].path, "cpu");
    assert_int_equal(d[0].backend, HWPLAN_HYBRID);
    assert_string_equal(d[0].device, "0");
    assert_true(d[0].hw_decode);
    /* Software asked for: no GPU decode. */
    char *argv5[] = {"run", "--backend", "software", NULL};
    assert_int_equal(worker_config_parse(&cfg, 3, argv5, err, sizeof(err)), 0);
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(d[0].backend, HWPLAN_SOFTWARE);
    /* A VAAPI node with AV1 encode entry points: no AV1 offered, the
     * planner has no VAAPI AV1 encoder. */
    p.ncuda = 0;
    p.nvaapi = 1;
    p.vaapi[0].ok = true;
    p.vaapi[0].nprofiles = 2;
    snprintf(p.vaapi[0].profiles[0].profile, 40, "VAProfileH264Main");
    p.vaapi[0].profiles[0].encode = true;
    snprintf(p.vaapi[0].profiles[1].profile, 40, "VAProfileAV1Profile0");
    p.vaapi[0].profiles[1].encode = true;
    char *argv6[] = {"run", NULL};
    assert_int_equal(worker_config_parse(&cfg, 1, argv6, err, sizeof(err)), 0);
    n = device_offer_list(&p, &cfg, d, DEVICE_OFFER_MAX);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].kind, PRISM__DEVICE_KIND__DEVICE_KIND_VAAPI);
    assert_int_equal(d[0].codecs, 1u << LADDER_CODEC_H264);

    char *bad[] = {"run", "--max-streams", "0", NULL};
    assert_true(worker_config_parse(&cfg, 3, bad, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "max"));
    unlink(path);
    rmdir(dir);
}

TEST_MAIN(cmocka_unit_test(test_devices_and_budgets))
