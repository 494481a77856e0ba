/* Tests for worker/host_load's parsers with samples of the real files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "host_load.h"
#include "test_main.h"

/* /proc/stat as Linux 5.15 writes it (the per-CPU lines follow). */
static const char *proc_stat =
    "cpu  1520157 178206 715608 3820280 8219 0 24590 104642 0 0\n"
    "cpu0 753406 86570 351147 1929142 1951 0 10811 52398 0 0\n"
    "cpu1 766751 91636 364461 1891138 6268 0 13779 52244 0 0\n"
    "intr 212427838 0 9 0 0 0\n"
    "ctxt 413532245\n";

static void test_proc_stat(void **state)
{
    (void)state;
    uint64_t busy, total;
    assert_int_equal(host_load_parse_proc_stat(proc_stat, &busy, &total), 0);
    /* user nice system idle iowait irq softirq steal */
    uint64_t t =
        1520157ULL + 178206 + 715608 + 3820280 + 8219 + 0 + 24590 + 104642;
    assert_int_equal(total, t);
    assert_int_equal(busy, t - 3820280 - 8219);
    /* The "cpu " line found after others; a text without one refused. */
    assert_int_equal(
        host_load_parse_proc_stat("intr 1\ncpu  4 0 4 2\n", &busy, &total), 0);
    assert_int_equal(total, 10);
    assert_int_equal(busy, 8);
    assert_int_equal(host_load_parse_proc_stat("cpu0 1 2 3 4\n", &busy, &total),
                     -EINVAL);
    assert_int_equal(host_load_parse_proc_stat("cpu  1 2\n", &busy, &total),
                     -EINVAL);
}

static void test_self_stat(void **state)
{
    (void)state;
    /* utime (14th) 1234, stime (15th) 56; a command with spaces and ')'. */
    const char *s =
        "4242 (prism worker) x) S 1 4242 4242 0 -1 4194560 1100 0 0 0 "
        "1234 56 0 0 20 0 9 0 3196820 3133440 378\n";
    uint64_t ticks = 0;
    assert_int_equal(host_load_parse_self_stat(s, &ticks), 0);
    assert_int_equal(ticks, 1290);
    assert_int_equal(host_load_parse_self_stat("4242 (w) S 1 2\n", &ticks),
                     -EINVAL);
    assert_int_equal(host_load_parse_self_stat("garbage", &ticks), -EINVAL);
}

static void test_cgroup_limits(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ret;
        double cores;
    } v2[] = {
        {"max 100000\n", 0, 0},     {"50000 100000\n", 0, 0.5},
        {"400000 100000\n", 0, 4},  {"max\n", -EINVAL, 0},
        {"0 100000\n", -EINVAL, 0}, {"abc 100000\n", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
        double cores = -1;
        assert_int_equal(host_load_parse_cpu_max(v2[i].text, &cores),
                         v2[i].ret);
        if (v2[i].ret == 0)
            assert_float_equal(cores, v2[i].cores, 1e-9);
    }
    static const struct {
        const char *quota, *period;
        int ret;
        double cores;
    } v1[] = {
        {"-1\n", "100000\n", 0, 0},       {"150000\n", "100000\n", 0, 1.5},
        {"25000\n", "50000\n", 0, 0.5},   {"100000\n", "0\n", -EINVAL, 0},
        {"-2\n", "100000\n", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
        double cores = -1;
        assert_int_equal(host_load_parse_cfs(v1[i].quota, v1[i].period, &cores),
                         v1[i].ret);
        if (v1[i].ret == 0)
            assert_float_equal(cores, v1[i].cores, 1e-9);
    }
}

static void test_cgroup_usage(void **state)
{
    (void)state;
    uint64_t us = 0;
    const char *stat = "usage_usec 9876543\nuser_usec 5000000\n"
                       "system_usec 4876543\nnr_periods 10\n"
                       "nr_throttled 2\nthrottled_usec 1000\n";
    assert_int_equal(host_load_parse_usage_usec(stat, &us), 0);
    assert_int_equal(us, 9876543);
    assert_int_equal(host_load_parse_usage_usec("user_usec 5\n", &us), -EINVAL);
    assert_int_equal(host_load_parse_cpuacct_usage("24983972822957\n", &us), 0);
    assert_int_equal(us, 24983972822);
    assert_int_equal(host_load_parse_cpuacct_usage("\n", &us), -EINVAL);
}

static void test_cgroup_path(void **state)
{
    (void)state;
    char p[256];
    /* cgroup v1 with cpu and cpuacct apart (this project's CI host). */
    const char *v1 = "9:name=systemd:/\n8:pids:/\n"
                     "4:memory:/process_api/4ad9\n2:cpuacct:/prism/w1\n"
                     "1:cpu:/prism/w1\n0::/\n";
    assert_int_equal(host_load_cgroup_path(v1, "cpu", p, sizeof(p)), 0);
    assert_string_equal(p, "/prism/w1");
    assert_int_equal(host_load_cgroup_path(v1, "cpuacct", p, sizeof(p)), 0);
    assert_string_equal(p, "/prism/w1");
    assert_int_equal(host_load_cgroup_path(v1, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/");
    /* Joined controllers; "cpu" is not "cpuset". */
    const char *joined = "5:cpuset:/a\n3:cpu,cpuacct:/docker/abc\n";
    assert_int_equal(host_load_cgroup_path(joined, "cpu", p, sizeof(p)), 0);
    assert_string_equal(p, "/docker/abc");
    assert_int_equal(host_load_cgroup_path(joined, NULL, p, sizeof(p)),
                     -ENOENT);
    /* Unified only (systemd hosts). */
    const char *v2 = "0::/system.slice/prism-worker.service\n";
    assert_int_equal(host_load_cgroup_path(v2, "cpu", p, sizeof(p)), -ENOENT);
    assert_int_equal(host_load_cgroup_path(v2, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/system.slice/prism-worker.service");
    assert_int_equal(host_load_cgroup_path(v2, NULL, p, 8), -ENAMETOOLONG);
}

static void test_mountinfo(void **state)
{
    (void)state;
    char m[256], r[256];
    const char *mi =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup "
        "rw,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup "
        "rw,cpuset\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 "
        "cgroup2 rw\n";
    assert_int_equal(host_load_mount(mi, "cpu", m, sizeof(m), r, sizeof(r)), 0);
    assert_string_equal(m, "/sys/fs/cgroup/cpu");
    assert_string_equal(r, "/");
    assert_int_equal(host_load_mount(mi, "cpuacct", m, sizeof(m), r, sizeof(r)),
                     0);
    assert_string_equal(m, "/sys/fs/cgroup/cpuacct");
    assert_int_equal(host_load_mount(mi, NULL, m, sizeof(m), r, sizeof(r)), 0);
    assert_string_equal(m, "/sys/fs/cgroup/unified");
    /* A container's view: a sub-tree mounted, joined controllers. */
    const char *ct = "612 611 0:33 /docker/abc /sys/fs/cgroup/cpu,cpuacct "
                     "ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
    assert_int_equal(host_load_mount(ct, "cpuacct", m, sizeof(m), r, sizeof(r)),
                     0);
    assert_string_equal(m, "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(r, "/docker/abc");
    assert_int_equal(host_load_mount(ct, "memory", m, sizeof(m), r, sizeof(r)),
                     -ENOENT);
    assert_int_equal(host_load_mount(ct, NULL, m, sizeof(m), r, sizeof(r)),
                     -ENOENT);
}

/* The sampler on this host: the first sample has no rate, the second has
 * one within bounds. */
static void test_sample_here(void **state)
{
    (void)state;
    host_load_t *h = host_load_new(HOST_LOAD_AUTO);
    assert_non_null(h);
    host_load_sample_t s;
    assert_int_equal(host_load_sample(h, 1000000, &s), 0);
    assert_true(s.use < 0);
    assert_true(s.cores > 0);
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++)
        x += i;
    assert_int_equal(host_load_sample(h, 1300000, &s), 0);
    assert_true(s.use >= 0 && s.use <= 1);
    assert_true(s.process_cores >= 0);
    host_load_free(&h);
    assert_null(h);
    /* The process alone: its share of the host's CPUs. */
    h = host_load_new(HOST_LOAD_PROCESS);
    assert_int_equal(host_load_sample(h, 1000000, &s), 0);
    for (int i = 0; i < 20000000; i++)
        x += i;
    assert_int_equal(host_load_sample(h, 1300000, &s), 0);
    assert_string_equal(s.source, "process");
    assert_float_equal(s.use, s.process_cores / s.cores, 1e-9);
    host_load_free(&h);
    host_load_mode_t m;
    assert_int_equal(host_load_mode_parse("process", &m), 0);
    assert_int_equal(m, HOST_LOAD_PROCESS);
    assert_int_equal(host_load_mode_parse("off", &m), 0);
    assert_int_equal(m, HOST_LOAD_OFF);
    assert_int_equal(host_load_mode_parse("cgroup", &m), -EINVAL);
}

TEST_MAIN(cmocka_unit_test(test_proc_stat), cmocka_unit_test(test_self_stat),
          cmocka_unit_test(test_cgroup_limits),
          cmocka_unit_test(test_cgroup_usage),
          cmocka_unit_test(test_cgroup_path), cmocka_unit_test(test_mountinfo),
          cmocka_unit_test(test_sample_here))
