/* Tests for worker/nvml: CUDA and NVML GPUs matched by PCI bus id. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "nvml.h"
#include "test_main.h"

static void lib_path(char *out, size_t len, const char *name)
{
    const char *b = getenv("PRISM_BUILD_DIR");
    snprintf(out, len, "%s/tests/lib/lib%s.so", b ? b : ".", name);
}

/* CUDA index 0 is the GPU in slot 65, which NVML lists second: its
 * figures (91, 92, 93) come back, not NVML index 0's (11, 12, 13). */
static void test_matched_by_bus_id(void **state)
{
    (void)state;
    char nv[1024], cu[1024];
    lib_path(nv, sizeof(nv), "prism_fake_nvml");
    lib_path(cu, sizeof(cu), "prism_fake_cuda");
    nvml_t *n = nvml_open_libs(nv, cu);
    assert_non_null(n);
    nvml_sample_t s;
    assert_int_equal(nvml_sample(n, 0, &s), 0);
    assert_int_equal(s.encoder_util, 91);
    assert_int_equal(s.decoder_util, 92);
    assert_int_equal(s.sm_util, 93);
    assert_int_equal(s.memory_used, 91LL << 20);
    assert_string_equal(nvml_pci_bus_id(n, 0), "0000:65:00.0");
    assert_int_equal(nvml_sample(n, 1, &s), 0);
    assert_int_equal(s.encoder_util, 11);
    assert_string_equal(nvml_pci_bus_id(n, 1), "0000:17:00.0");
    assert_int_equal(nvml_sample(n, 2, &s), -ENODEV);
    assert_int_equal(s.encoder_util, -1);
    nvml_close(&n);
    assert_null(n);
}

/* Without the CUDA driver the indices are taken as the same. */
static void test_without_cuda_by_index(void **state)
{
    (void)state;
    char nv[1024];
    lib_path(nv, sizeof(nv), "prism_fake_nvml");
    nvml_t *n = nvml_open_libs(nv, "libprism-no-such-cuda.so");
    assert_non_null(n);
    nvml_sample_t s;
    assert_int_equal(nvml_sample(n, 0, &s), 0);
    assert_int_equal(s.encoder_util, 11);
    assert_string_equal(nvml_pci_bus_id(n, 0), "");
    nvml_close(&n);
    assert_null(nvml_open_libs("libprism-no-such-nvml.so", NULL));
}

TEST_MAIN(cmocka_unit_test(test_matched_by_bus_id),
          cmocka_unit_test(test_without_cuda_by_index))
