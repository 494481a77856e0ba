/* Tests for coordinator/chan_cache: the channels kept for an outage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chan_cache.h"
#include "test_main.h"

static chan_row_t row(int64_t id, const char *doc)
{
    chan_row_t r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    snprintf(r.name, sizeof(r.name), "chan-%lld", (long long)id);
    snprintf(r.salt, sizeof(r.salt), "%032d", 7);
    snprintf(r.hash, sizeof(r.hash), "%064d", (int)id);
    r.priority = 50;
    r.profile_doc = (char *)doc; /* the cache copies it */
    return r;
}

/* A row is found by its id while younger than the age asked, replaced by
 * a newer read, dropped on request. */
static void test_put_get_age_drop(void **state)
{
    (void)state;
    chan_cache_t *c = chan_cache_new(4);
    assert_non_null(c);
    chan_row_t a = row(7, "{\"name\": \"x\"}");
    assert_int_equal(chan_cache_put(c, &a, 1000), 0);
    const chan_row_t *g = chan_cache_get(c, 7, 1500, 1000);
    assert_non_null(g);
    assert_string_equal(g->name, "chan-7");
    assert_string_equal(g->profile_doc, "{\"name\": \"x\"}");
    assert_ptr_not_equal(g->profile_doc, a.profile_doc);
    assert_null(chan_cache_get(c, 7, 2001, 1000)); /* too old */
    assert_null(chan_cache_get(c, 8, 1500, 1000));
    /* Read again: newer, and what the database says now. */
    a.disabled = true;
    a.profile_doc = NULL;
    assert_int_equal(chan_cache_put(c, &a, 1900), 0);
    g = chan_cache_get(c, 7, 2500, 1000);
    assert_non_null(g);
    assert_true(g->disabled);
    assert_null(g->profile_doc);
    assert_int_equal(chan_cache_count(c), 1);
    chan_cache_drop(c, 7);
    assert_null(chan_cache_get(c, 7, 2500, 1000));
    assert_int_equal(chan_cache_count(c), 0);
    chan_cache_drop(c, 7); /* not there: nothing */
    chan_cache_free(&c);
    assert_null(c);
}

/* Full: a new channel replaces the one read longest ago; the others stay
 * findable (the moved entry too). */
static void test_bounded(void **state)
{
    (void)state;
    chan_cache_t *c = chan_cache_new(3);
    assert_non_null(c);
    for (int64_t id = 1; id <= 3; id++) {
        chan_row_t r = row(id, "{}");
        assert_int_equal(chan_cache_put(c, &r, 100 * id), 0);
    }
    chan_row_t r1 = row(1, NULL); /* 1 read again: 2 is now the oldest */
    assert_int_equal(chan_cache_put(c, &r1, 400), 0);
    chan_row_t r4 = row(4, "{}");
    assert_int_equal(chan_cache_put(c, &r4, 500), 0);
    assert_int_equal(chan_cache_count(c), 3);
    assert_null(chan_cache_get(c, 2, 500, 10000));
    for (int64_t id = 1; id <= 4; id += (id == 1 ? 2 : 1)) {
        const chan_row_t *g = chan_cache_get(c, id, 500, 10000);
        assert_non_null(g);
        assert_int_equal(g->id, id);
    }
    /* Drop from the middle: the last entry moves into its place. */
    chan_cache_drop(c, 1);
    assert_non_null(chan_cache_get(c, 3, 500, 10000));
    assert_non_null(chan_cache_get(c, 4, 500, 10000));
    chan_cache_free(&c);
}

/* max 0: nothing is kept. */
static void test_off(void **state)
{
    (void)state;
    chan_cache_t *c = chan_cache_new(0);
    assert_non_null(c);
    chan_row_t r = row(1, "{}");
    assert_int_equal(chan_cache_put(c, &r, 1), 0);
    assert_null(chan_cache_get(c, 1, 1, 1000));
    assert_int_equal(chan_cache_count(c), 0);
    chan_cache_free(&c);
}

TEST_MAIN(cmocka_unit_test(test_put_get_age_drop),
          cmocka_unit_test(test_bounded), cmocka_unit_test(test_off))
