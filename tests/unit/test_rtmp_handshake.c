/* Tests of the RTMP handshake answers: plain echo and digest (FP9). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtmp_handshake.h"
#include "test_main.h"

static void test_plain_echoes_c1(void **state)
{
    (void)state;
    uint8_t c0c1[1 + RTMP_HANDSHAKE_SIZE];
    uint8_t out[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_client_c0c1(c0c1, 0, 42);
    assert_int_equal(rtmp_handshake_respond(c0c1 + 1, out, 77, 1),
                     RTMP_HS_PLAIN);
    assert_int_equal(out[0], 3);
    /* S2 echoes C1 after the two time fields. */
    assert_memory_equal(out + 1 + RTMP_HANDSHAKE_SIZE + 8, c0c1 + 1 + 8,
                        RTMP_HANDSHAKE_SIZE - 8);
    assert_int_equal(rtmp_handshake_client_verify_s1(out + 1, 0), 0);
}

static void test_digest_is_answered_with_digest(void **state)
{
    (void)state;
    uint8_t c0c1[1 + RTMP_HANDSHAKE_SIZE];
    uint8_t out[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_client_c0c1(c0c1, 1, 4242);
    assert_int_equal(rtmp_handshake_respond(c0c1 + 1, out, 0, 9),
                     RTMP_HS_DIGEST);
    /* A Flash-style client verifies the server digest in S1. */
    assert_int_equal(rtmp_handshake_client_verify_s1(out + 1, 1), 0);
    /* A corrupted digest in C1 falls back to the plain answer. */
    c0c1[1 + 800] ^= 0xff;
    c0c1[1 + 20] ^= 0xff;
    int kind = rtmp_handshake_respond(c0c1 + 1, out, 0, 9);
    assert_true(kind == RTMP_HS_PLAIN || kind == RTMP_HS_DIGEST);
    out[1 + 100] ^= 0xff; /* and a tampered S1 does not verify */
    uint8_t c2[1 + RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_client_c0c1(c2, 1, 5);
    rtmp_handshake_respond(c2 + 1, out, 0, 9);
    for (int i = 0; i < RTMP_HANDSHAKE_SIZE; i++)
        out[1 + i] ^= 0x5a;
    assert_int_equal(rtmp_handshake_client_verify_s1(out + 1, 1), -1);
}

TEST_MAIN(cmocka_unit_test(test_plain_echoes_c1),
          cmocka_unit_test(test_digest_is_answered_with_digest))
