/* RTMP handshake, server side: the plain one and the digest (FP9) one. */
#ifndef PRISM_RTMP_HANDSHAKE_H
#define PRISM_RTMP_HANDSHAKE_H

#include <stdint.h>

#define RTMP_HANDSHAKE_SIZE 1536

/*
 * How this works. The client sends C0 (one version byte, 3) and C1 (1536
 * bytes); we answer S0 S1 S2 at once and then wait for C2, which we read
 * and ignore. A plain C1 has zeros in bytes 4..7: S1 is our time and random
 * bytes, S2 echoes C1. A digest C1 (Flash Player 9 and later, librtmp as in
 * OBS, FFmpeg) carries an HMAC-SHA256 at a position derived from C1 itself
 * (scheme 0: offset bytes at 8, scheme 1: at 772), keyed with the public
 * "Genuine Adobe Flash Player 001" key. Clients of that kind verify our
 * answer, so S1 carries a digest keyed with the server key at the same
 * scheme's position and S2 ends with an HMAC keyed by HMAC(server key,
 * client digest). A C1 whose digest does not verify at either position is
 * answered plainly.
 */

/* What rtmp_handshake_respond recognised in C1. */
typedef enum {
    RTMP_HS_PLAIN = 0,
    RTMP_HS_DIGEST = 1,
} rtmp_hs_kind_t;

/*
 * Fills s0s1s2 (1 + 2 * 1536 bytes) with the answer to c1 (1536 bytes).
 * `epoch` is our timestamp for S1, `seed` feeds the random bytes. Returns
 * the kind of handshake recognised (>= 0) or a negative code when HMAC is
 * unavailable.
 */
int rtmp_handshake_respond(const uint8_t *c1, uint8_t *s0s1s2, uint32_t epoch,
                           uint64_t seed);

/*
 * Client side, for tests and the bench: fills c0c1 (1 + 1536 bytes); with
 * `digest` the C1 carries a scheme-1 digest as Flash Player sends it.
 */
void rtmp_handshake_client_c0c1(uint8_t *c0c1, int digest, uint64_t seed);

/*
 * Client side: checks S1's digest when `digest` was used (returns 0 when
 * it verifies, -1 when not); always 0 for plain.
 */
int rtmp_handshake_client_verify_s1(const uint8_t *s1, int digest);

#endif
