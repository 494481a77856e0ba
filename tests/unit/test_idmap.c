/* Tests for coordinator/idmap: put, get, replace, delete, growth. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "idmap.h"
#include "test_main.h"

static void test_basic(void **state)
{
    (void)state;
    idmap_t *m = idmap_new();
    assert_non_null(m);
    assert_int_equal(idmap_get(m, "w1"), -1);
    assert_int_equal(idmap_put(m, "w1", 7), 0);
    assert_int_equal(idmap_put(m, "w2", 8), 0);
    assert_int_equal(idmap_get(m, "w1"), 7);
    assert_int_equal(idmap_get(m, "w2"), 8);
    assert_int_equal(idmap_put(m, "w1", 9), 0);
    assert_int_equal(idmap_get(m, "w1"), 9);
    assert_int_equal(idmap_count(m), 2);
    assert_int_equal(idmap_del(m, "w1"), 0);
    assert_int_equal(idmap_del(m, "w1"), -ENOENT);
    assert_int_equal(idmap_get(m, "w1"), -1);
    assert_int_equal(idmap_get(m, "w2"), 8);
    assert_int_equal(idmap_put(m, "", 1), -EINVAL);
    char longkey[IDMAP_KEY_MAX + 1];
    memset(longkey, 'x', sizeof(longkey) - 1);
    longkey[IDMAP_KEY_MAX] = '\0';
    assert_int_equal(idmap_put(m, longkey, 1), -EINVAL);
    idmap_free(&m);
    assert_null(m);
    idmap_free(&m);
}

/* Many keys, churn with deletions: every live key keeps its value. */
static void test_many_with_churn(void **state)
{
    (void)state;
    idmap_t *m = idmap_new();
    char k[32];
    static bool deleted[20000];
    for (long i = 0; i < 20000; i += 3)
        deleted[i / 2] = true;
    for (long i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "stream-%ld", i);
        assert_int_equal(idmap_put(m, k, i), 0);
        if (i % 3 == 0) {
            snprintf(k, sizeof(k), "stream-%ld", i / 2);
            idmap_del(m, k);
        }
    }
    size_t live = 0;
    for (long i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "stream-%ld", i);
        long v = idmap_get(m, k);
        if (deleted[i])
            assert_int_equal(v, -1);
        else
            assert_int_equal(v, i);
        live += v >= 0;
    }
    assert_int_equal(idmap_count(m), live);
    idmap_free(&m);
}

TEST_MAIN(cmocka_unit_test(test_basic), cmocka_unit_test(test_many_with_churn))
