/* Tests of RTMP chunk reassembly: header types, extended timestamps, Set
 * Chunk Size, Abort, limits, and arbitrary read boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rtmp_chunk.h"
#include "test_main.h"

typedef struct {
    rtmp_msg_t m[16];
    uint8_t data[16][9000];
    int n;
} got_t;

static int on_msg(void *opaque, rtmp_msg_t *m)
{
    got_t *g = opaque;
    if (g->n < 16) {
        g->m[g->n] = *m;
        memcpy(g->data[g->n], m->buf->data, m->length);
        g->n++;
    }
    pktbuf_unref(m->buf);
    return 0;
}

/* Feeds p in slices of `step` bytes. */
static int feed(rtmp_chunk_reader_t *r, const uint8_t *p, size_t n, size_t step)
{
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        int rc = rtmp_chunk_feed(r, p + off, k);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void test_roundtrip_any_slicing(void **state)
{
    (void)state;
    uint8_t payload[5000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    uint8_t wire[8000];
    long n = rtmp_chunk_write(wire, sizeof(wire), 128, 6, 1234, RTMP_MSG_VIDEO,
                              1, payload, sizeof(payload));
    assert_true(n > (long)sizeof(payload));
    size_t steps[] = {1, 3, 128, 129, 4096, 8000};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        got_t *g = calloc(1, sizeof(*g));
        rtmp_chunk_reader_t r;
        rtmp_chunk_reader_init(&r, 65536, 1 << 20, on_msg, g);
        assert_int_equal(feed(&r, wire, (size_t)n, steps[s]), 0);
        assert_int_equal(g->n, 1);
        assert_int_equal(g->m[0].timestamp, 1234);
        assert_int_equal(g->m[0].type, RTMP_MSG_VIDEO);
        assert_int_equal(g->m[0].stream_id, 1);
        assert_int_equal(g->m[0].csid, 6);
        assert_memory_equal(g->data[0], payload, sizeof(payload));
        rtmp_chunk_reader_reset(&r);
        free(g);
    }
}

static void test_header_types_and_deltas(void **state)
{
    (void)state;
    /* fmt 0 (ts 100, len 2, type 9, msid 1), fmt 1 (delta 10, len 1, type
     * 8), fmt 2 (delta 5), fmt 3 (delta 5 again), and a csid >= 64 in the
     * 2-byte form and >= 320 in the 3-byte form. */
    uint8_t w[] = {
        0x04, 0,    0,  100, 0, 0, 2, 9,    1,    0, 0, 0, 0xaa, 0xbb, 0x44,
        0,    0,    10, 0,   0, 1, 8, 0xcc, 0x84, 0, 0, 5, 0xdd, 0xc4, 0xee,
        0x00, 6,    0,  0,   1, 0, 0, 1,    18,   0, 0, 0, 0,    0x11, 0x01,
        0x00, 0x02, 0,  0,   2, 0, 0, 1,    18,   0, 0, 0, 0,    0x22,
    };
    got_t *g = calloc(1, sizeof(*g));
    rtmp_chunk_reader_t r;
    rtmp_chunk_reader_init(&r, 65536, 1 << 20, on_msg, g);
    assert_int_equal(feed(&r, w, sizeof(w), 1), 0);
    assert_int_equal(g->n, 6);
    assert_int_equal(g->m[0].timestamp, 100);
    assert_int_equal(g->m[1].timestamp, 110);
    assert_int_equal(g->m[1].type, 8);
    assert_int_equal(g->m[1].stream_id, 1);
    assert_int_equal(g->m[2].timestamp, 115);
    assert_int_equal(g->m[2].length, 1);
    assert_int_equal(g->m[3].timestamp, 120);
    assert_int_equal(g->data[3][0], 0xee);
    assert_int_equal(g->m[4].csid, 70);
    assert_int_equal(g->m[5].csid, 64 + 0 + 2 * 256);
    assert_int_equal(g->data[5][0], 0x22);
    rtmp_chunk_reader_reset(&r);
    free(g);
}

static void test_extended_timestamp(void **state)
{
    (void)state;
    uint8_t payload[300];
    memset(payload, 5, sizeof(payload));
    uint8_t wire[600];
    long n = rtmp_chunk_write(wire, sizeof(wire), 128, 4, 0x12345678,
                              RTMP_MSG_AUDIO, 1, payload, sizeof(payload));
    got_t *g = calloc(1, sizeof(*g));
    rtmp_chunk_reader_t r;
    rtmp_chunk_reader_init(&r, 65536, 1 << 20, on_msg, g);
    assert_int_equal(feed(&r, wire, (size_t)n, 7), 0);
    assert_int_equal(g->n, 1);
    assert_int_equal(g->m[0].timestamp, 0x12345678);
    assert_int_equal(g->m[0].length, 300);
    rtmp_chunk_reader_reset(&r);
    free(g);
}

static void test_set_chunk_size_and_abort(void **state)
{
    (void)state;
    got_t *g = calloc(1, sizeof(*g));
    rtmp_chunk_reader_t r;
    rtmp_chunk_reader_init(&r, 65536, 1 << 20, on_msg, g);
    /* A 200-byte message on csid 5: its first 128-byte chunk, then an
     * Abort for csid 5, then a whole message on csid 5. */
    uint8_t part[12 + 128] = {0x05, 0, 0, 0, 0, 0, 200, 9, 1, 0, 0, 0};
    assert_int_equal(feed(&r, part, sizeof(part), 100), 0);
    uint8_t abort_msg[] = {0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(feed(&r, abort_msg, sizeof(abort_msg), 100), 0);
    uint8_t whole[] = {0x05, 0, 0, 9, 0, 0, 2, 9, 1, 0, 0, 0, 7, 8};
    assert_int_equal(feed(&r, whole, sizeof(whole), 100), 0);
    assert_int_equal(g->n, 2); /* the abort, then the whole message */
    assert_int_equal(g->m[1].length, 2);
    assert_int_equal(g->data[1][0], 7);
    /* Set Chunk Size 4096: a 3000-byte message then fits one chunk. */
    uint8_t scs[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0};
    assert_int_equal(feed(&r, scs, sizeof(scs), 5), 0);
    assert_int_equal(r.chunk_size, 4096);
    static uint8_t one[12 + 3000] = {0x06, 0, 0, 0, 0, 0x0b, 0xb8, 9, 1};
    assert_int_equal(feed(&r, one, sizeof(one), 1000), 0);
    assert_int_equal(g->n, 4);
    assert_int_equal(g->m[3].length, 3000);
    rtmp_chunk_reader_reset(&r);
    free(g);
}

static void test_limits(void **state)
{
    (void)state;
    got_t *g = calloc(1, sizeof(*g));
    rtmp_chunk_reader_t r;
    /* Message larger than max_message. */
    rtmp_chunk_reader_init(&r, 65536, 1000, on_msg, g);
    uint8_t big[] = {0x04, 0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0};
    assert_int_equal(feed(&r, big, sizeof(big), 1), RTMP_CHUNK_EMSGSIZE);
    rtmp_chunk_reader_reset(&r);
    /* Chunk size 0 and above the bound. */
    rtmp_chunk_reader_init(&r, 65536, 1000, on_msg, g);
    uint8_t zero[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(feed(&r, zero, sizeof(zero), 16), RTMP_CHUNK_ECHUNKSIZE);
    rtmp_chunk_reader_reset(&r);
    rtmp_chunk_reader_init(&r, 65536, 1000, on_msg, g);
    uint8_t huge[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 2, 0, 0};
    assert_int_equal(feed(&r, huge, sizeof(huge), 16), RTMP_CHUNK_ECHUNKSIZE);
    rtmp_chunk_reader_reset(&r);
    /* More chunk streams than RTMP_CHUNK_STREAMS. */
    rtmp_chunk_reader_init(&r, 65536, 1000, on_msg, g);
    int rc = 0;
    for (int i = 0; i < RTMP_CHUNK_STREAMS + 1 && rc == 0; i++) {
        uint8_t h[] = {(uint8_t)(3 + i), 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 1};
        rc = feed(&r, h, sizeof(h), 13);
    }
    assert_int_equal(rc, RTMP_CHUNK_ESTREAMS);
    rtmp_chunk_reader_reset(&r);
    /* fmt 3 on a stream never introduced. */
    rtmp_chunk_reader_init(&r, 65536, 1000, on_msg, g);
    uint8_t f3[] = {0xc7, 1};
    assert_int_equal(feed(&r, f3, sizeof(f3), 2), RTMP_CHUNK_EPROTO);
    rtmp_chunk_reader_reset(&r);
    free(g);
}

TEST_MAIN(cmocka_unit_test(test_roundtrip_any_slicing),
          cmocka_unit_test(test_header_types_and_deltas),
          cmocka_unit_test(test_extended_timestamp),
          cmocka_unit_test(test_set_chunk_size_and_abort),
          cmocka_unit_test(test_limits))
