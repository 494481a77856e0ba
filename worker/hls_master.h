/* HLS master playlist text and RFC 6381 codec strings for its variants. */
#ifndef PRISM_HLS_MASTER_H
#define PRISM_HLS_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One variant stream as the master playlist lists it. */
typedef struct {
    char name[32];        /* directory: <name>/index.m3u8 */
    int64_t bandwidth;    /* peak bits/s (BANDWIDTH) */
    int64_t average;      /* average bits/s (AVERAGE-BANDWIDTH), 0 = omit */
    int width, height;    /* 0 for audio-only */
    double fps;           /* 0 for audio-only */
    char video_codec[48]; /* "avc1.64001f"; "" when no video */
    char audio_codec[24]; /* "mp4a.40.2"; "" when no audio */
} hls_variant_t;

/*
 * Writes the master playlist text for n variants into buf. Variants are
 * listed in the given order. Returns the length, or -ENOSPC when buf is
 * too small.
 */
int hls_master_format(const hls_variant_t *v, int n, bool independent,
                      char *buf, size_t buflen);

/*
 * The codec string of an H.264 stream from its SPS ("avc1.PPCCLL"), found
 * in Annex B data or in an avcC record. Returns 0 or -EINVAL.
 */
int hls_codec_h264(const uint8_t *data, size_t len, char *out, size_t outlen);
/* The codec string of an HEVC stream from its SPS ("hvc1.1.6.L93.B0"). */
int hls_codec_hevc(const uint8_t *data, size_t len, char *out, size_t outlen);
/*
 * The codec string of an 8-bit 4:2:0 AV1 Main stream ("av01.0.05M.08"),
 * the level being the lowest whose picture size and display rate fit.
 */
void hls_codec_av1(int width, int height, double fps, char *out, size_t outlen);
/* The codec string of an AAC stream: profile is FF_PROFILE_AAC_* (0-based
 * object type minus one), e.g. 1 (LC) gives "mp4a.40.2". */
void hls_codec_aac(int profile, char *out, size_t outlen);

#endif
