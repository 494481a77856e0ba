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
/*
 * The video codec a master playlist TEXT lists for the variant at URI
 * ("360p30/index.m3u8"): the first CODECS entry that is not audio
 * (mp4a), into OUT. 0, or -ENOENT when the variant or its video is not
 * listed.
 */
int hls_master_video_codec(const char *text, const char *uri, char *out,
                           size_t outlen);

/*
 * The H.264 codec string that declares what both OURS and THEIRS need
 * ("avc1.PPCCLL"): the higher profile of the ordered line Constrained
 * Baseline (as x264 writes it) < Main < High < High 10 < High 4:2:2 <
 * High 4:4:4, with its constraint flags, and the higher level. A stream
 * continued by another worker (another preset, another encoder) may list
 * both kinds of segments for a while, and a player must be able to
 * decode every one. Where the two are not both H.264 or their profiles
 * are not on that line, OURS stays.
 */
void hls_codec_cover(char *ours, size_t outlen, const char *theirs);

/* The codec string of an AAC stream: profile is FF_PROFILE_AAC_* (0-based
 * object type minus one), e.g. 1 (LC) gives "mp4a.40.2". */
void hls_codec_aac(int profile, char *out, size_t outlen);

#endif
