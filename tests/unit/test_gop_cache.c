/* Tests of the GOP cache: history kept behind the newest key frame, where
 * a subscriber begins, bounds that drop the oldest GOP first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gop_cache.h"
#include "pktbuf.h"

/* Pushes a packet of LEN bytes at AT_MS (start: a key frame), tagged
 * with its seq. Returns gop_cache_push's result. */
static int push(gop_cache_t *c, uint64_t seq, int64_t at_ms, bool start,
                uint32_t len)
{
    pktbuf_t *b = pktbuf_new(len);
    gop_entry_t e = {.buf = b,
                     .len = len,
                     .dts = at_ms,
                     .pts = at_ms,
                     .keyframe = start,
                     .seq = seq,
                     .start = start,
                     .at_ms = at_ms};
    int rc = gop_cache_push(c, &e);
    pktbuf_unref(b); /* the cache keeps its own reference */
    return rc;
}

/* A 30 fps stream with a key frame every KEY_MS, FRAMES frames. */
static void push_stream(gop_cache_t *c, int frames, int key_ms)
{
    for (int i = 0; i < frames; i++) {
        int64_t at = (int64_t)i * 1000 / 30;
        int64_t prev = i ? (int64_t)(i - 1) * 1000 / 30 : -1;
        bool key = i == 0 || at / key_ms != prev / key_ms;
        assert_int_equal(push(c, (uint64_t)i, at, key, 100), 0);
    }
}

static int64_t first_at(const gop_cache_t *c, int64_t history_ms)
{
    uint32_t i = gop_cache_from(c, history_ms);
    assert_true(i < c->n);
    assert_true(c->e[i].start);
    return c->e[i].at_ms;
}

/* Without history the cache holds the newest GOP only, as before. */
static void test_newest_gop_only(void **state)
{
    (void)state;
    long live = pktbuf_live();
    gop_cache_t c;
    gop_cache_init(&c, 4096, 1 << 20, 0);
    push_stream(&c, 200, 2000); /* 6.63 s: key frames at 0, 2, 4, 6 s */
    assert_int_equal(c.e[0].at_ms, 6000);
    assert_true(c.e[0].start);
    assert_int_equal(first_at(&c, 0), 6000);
    assert_int_equal(first_at(&c, 6000), 6000); /* nothing older kept */
    gop_cache_free(&c);
    assert_int_equal(pktbuf_live(), live);
}

/* With 4 s of history, a subscriber asking for 3 s begins at the newest
 * key frame at least 3 s before the newest packet; one asking for more
 * than is kept gets the oldest kept; one asking for none the newest. */
static void test_history(void **state)
{
    (void)state;
    long live = pktbuf_live();
    gop_cache_t c;
    gop_cache_init(&c, 4096, 1 << 20, 4000);
    push_stream(&c, 300, 2000); /* to 9.97 s; key frames every 2 s */
    /* At the key frame of 8 s, the newest one 4 s back was at 4 s. */
    assert_int_equal(c.e[0].at_ms, 4000);
    assert_int_equal(first_at(&c, 0), 8000);
    assert_int_equal(first_at(&c, 1000), 8000);
    assert_int_equal(first_at(&c, 3000), 6000);
    assert_int_equal(first_at(&c, 5000), 4000);
    assert_int_equal(first_at(&c, 60000), 4000);
    /* Every packet from the first kept on, in order. */
    for (uint32_t i = 1; i < c.n; i++)
        assert_int_equal(c.e[i].seq, c.e[i - 1].seq + 1);
    assert_int_equal(c.bytes, 100u * c.n);
    gop_cache_free(&c);
    assert_int_equal(pktbuf_live(), live);
}

/* Over the packet bound the oldest GOP goes first: the history shrinks
 * and the newest GOP stays whole. */
static void test_bound_drops_oldest_gop(void **state)
{
    (void)state;
    long live = pktbuf_live();
    gop_cache_t c;
    gop_cache_init(&c, 100, 1 << 20, 6000); /* 100 packets: 3.3 s */
    push_stream(&c, 300, 2000);
    assert_true(c.n <= 100);
    assert_int_equal(first_at(&c, 60000), 8000);
    assert_int_equal(c.e[0].at_ms, 8000);
    /* The byte bound does the same. */
    gop_cache_t b;
    gop_cache_init(&b, 4096, 100 * 100, 6000);
    push_stream(&b, 300, 2000);
    assert_true(b.bytes <= 100 * 100);
    assert_int_equal(b.e[0].at_ms, 8000);
    gop_cache_free(&b);
    gop_cache_free(&c);
    assert_int_equal(pktbuf_live(), live);
}

/* A GOP too big alone empties the cache until the next key frame. */
static void test_overflow_waits_for_key_frame(void **state)
{
    (void)state;
    long live = pktbuf_live();
    gop_cache_t c;
    gop_cache_init(&c, 16, 1 << 20, 6000);
    assert_int_equal(push(&c, 0, 0, true, 100), 0);
    int overflows = 0;
    for (int i = 1; i < 20; i++)
        overflows += push(&c, (uint64_t)i, i * 33, false, 100);
    assert_int_equal(overflows, 1);
    assert_int_equal(c.n, 0);
    assert_false(c.valid);
    assert_int_equal(push(&c, 20, 700, false, 100), 0); /* not cached */
    assert_int_equal(c.n, 0);
    assert_int_equal(push(&c, 21, 733, true, 100), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(gop_cache_from(&c, 0), 0);
    gop_cache_free(&c);
    assert_int_equal(pktbuf_live(), live);
}

/* Packets before the first key frame are not kept. */
static void test_starts_at_key_frame(void **state)
{
    (void)state;
    gop_cache_t c;
    gop_cache_init(&c, 64, 1 << 20, 6000);
    assert_int_equal(push(&c, 0, 0, false, 10), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(gop_cache_from(&c, 1000), 0);
    assert_int_equal(push(&c, 1, 33, true, 10), 0);
    assert_int_equal(push(&c, 2, 66, false, 10), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].seq, 1);
    gop_cache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_gop_only),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_bound_drops_oldest_gop),
        cmocka_unit_test(test_overflow_waits_for_key_frame),
        cmocka_unit_test(test_starts_at_key_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
