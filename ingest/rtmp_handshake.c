/* RTMP handshake answers: plain echo, or digest (HMAC-SHA256) when C1 has one.
 */
#include "rtmp_handshake.h"

#include <errno.h>
#include <string.h>

#include <libavutil/hmac.h>

#define DIGEST_LEN 32

static const uint8_t key_tail[32] = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0,
    0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80,
    0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};
static const char fp_text[] = "Genuine Adobe Flash Player 001";        /* 30 */
static const char fms_text[] = "Genuine Adobe Flash Media Server 001"; /* 36 */

/* Builds the full key: text followed by the 32 shared bytes. */
static size_t make_key(uint8_t *out, const char *text, int full)
{
    size_t l = strlen(text);
    memcpy(out, text, l);
    if (!full)
        return l;
    memcpy(out + l, key_tail, sizeof(key_tail));
    return l + sizeof(key_tail);
}

static int hmac(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
                const uint8_t *b, size_t blen, uint8_t *out)
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    if (!h)
        return -ENOMEM;
    av_hmac_init(h, key, (unsigned)klen);
    if (alen)
        av_hmac_update(h, a, (unsigned)alen);
    if (blen)
        av_hmac_update(h, b, (unsigned)blen);
    av_hmac_final(h, out, DIGEST_LEN);
    av_hmac_free(h);
    return 0;
}

/* Position of the digest in a 1536-byte block for scheme 0 or 1. */
static size_t digest_pos(const uint8_t *blk, int scheme)
{
    size_t base = scheme ? 772 : 8;
    size_t off =
        (size_t)blk[base] + blk[base + 1] + blk[base + 2] + blk[base + 3];
    return off % 728 + base + 4;
}

/* HMAC over the block with the 32 digest bytes at pos left out. */
static int block_digest(const uint8_t *blk, size_t pos, const uint8_t *key,
                        size_t klen, uint8_t *out)
{
    return hmac(key, klen, blk, pos, blk + pos + DIGEST_LEN,
                RTMP_HANDSHAKE_SIZE - pos - DIGEST_LEN, out);
}

static void fill_random(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        p[i] = (uint8_t)(*s >> 32);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Returns the scheme (0/1) whose digest verifies in c1, or -1. */
static int find_scheme(const uint8_t *c1, uint8_t *digest_out)
{
    uint8_t key[64], d[DIGEST_LEN];
    size_t klen = make_key(key, fp_text, 0);
    for (int scheme = 1; scheme >= 0; scheme--) {
        size_t pos = digest_pos(c1, scheme);
        if (block_digest(c1, pos, key, klen, d) < 0)
            return -1;
        if (memcmp(d, c1 + pos, DIGEST_LEN) == 0) {
            memcpy(digest_out, d, DIGEST_LEN);
            return scheme;
        }
    }
    return -1;
}

int rtmp_handshake_respond(const uint8_t *c1, uint8_t *out, uint32_t epoch,
                           uint64_t seed)
{
    uint8_t *s1 = out + 1, *s2 = out + 1 + RTMP_HANDSHAKE_SIZE;
    uint64_t st = seed | 1;
    out[0] = 3;
    put32(s1, epoch);
    fill_random(s1 + 8, RTMP_HANDSHAKE_SIZE - 8, &st);

    uint8_t cdig[DIGEST_LEN];
    int scheme = (c1[4] | c1[5] | c1[6] | c1[7]) ? find_scheme(c1, cdig) : -1;
    if (scheme < 0) {
        memset(s1 + 4, 0, 4);
        memcpy(s2, c1, RTMP_HANDSHAKE_SIZE);
        put32(s2 + 4, epoch);
        return RTMP_HS_PLAIN;
    }
    /* S1 with our digest at the client's scheme. */
    put32(s1 + 4, 0x04050001);
    uint8_t key[80];
    size_t klen = make_key(key, fms_text, 0);
    size_t pos = digest_pos(s1, scheme);
    if (block_digest(s1, pos, key, klen, s1 + pos) < 0)
        return -ENOMEM;
    /* S2: random, then HMAC(HMAC(full server key, client digest), S2). */
    fill_random(s2, RTMP_HANDSHAKE_SIZE, &st);
    uint8_t k2[DIGEST_LEN];
    klen = make_key(key, fms_text, 1);
    if (hmac(key, klen, cdig, DIGEST_LEN, NULL, 0, k2) < 0 ||
        hmac(k2, DIGEST_LEN, s2, RTMP_HANDSHAKE_SIZE - DIGEST_LEN, NULL, 0,
             s2 + RTMP_HANDSHAKE_SIZE - DIGEST_LEN) < 0)
        return -ENOMEM;
    return RTMP_HS_DIGEST;
}

void rtmp_handshake_client_c0c1(uint8_t *c0c1, int digest, uint64_t seed)
{
    uint8_t *c1 = c0c1 + 1;
    uint64_t st = seed | 1;
    c0c1[0] = 3;
    put32(c1, 0);
    fill_random(c1 + 8, RTMP_HANDSHAKE_SIZE - 8, &st);
    if (!digest) {
        memset(c1 + 4, 0, 4);
        return;
    }
    put32(c1 + 4, 0x80000702);
    uint8_t key[64];
    size_t klen = make_key(key, fp_text, 0);
    size_t pos = digest_pos(c1, 1);
    block_digest(c1, pos, key, klen, c1 + pos);
}

int rtmp_handshake_client_verify_s1(const uint8_t *s1, int digest)
{
    if (!digest)
        return 0;
    uint8_t key[64], d[DIGEST_LEN];
    size_t klen = make_key(key, fms_text, 0);
    for (int scheme = 1; scheme >= 0; scheme--) {
        size_t pos = digest_pos(s1, scheme);
        if (block_digest(s1, pos, key, klen, d) == 0 &&
            memcmp(d, s1 + pos, DIGEST_LEN) == 0)
            return 0;
    }
    return -1;
}
