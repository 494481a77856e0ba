/* Tests for worker/hls_master: the master playlist and codec strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hls_master.h"
#include "test_main.h"

static void test_h264_annexb_and_avcc(void **state)
{
    (void)state;
    char s[48];
    /* An AUD, then an SPS: High profile (100), level 3.1. */
    const uint8_t annexb[] = {0, 0, 0,    1,    0x09, 0xf0, 0,    0,
                              0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9};
    assert_int_equal(hls_codec_h264(annexb, sizeof(annexb), s, sizeof(s)), 0);
    assert_string_equal(s, "avc1.64001f");
    /* avcC: version 1, Main (77), constraint 0x40, level 3.0. */
    const uint8_t avcc[] = {1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 4};
    assert_int_equal(hls_codec_h264(avcc, sizeof(avcc), s, sizeof(s)), 0);
    assert_string_equal(s, "avc1.4d401e");
    const uint8_t no_sps[] = {0, 0, 1, 0x65, 0x88, 0x84, 0, 0};
    assert_int_equal(hls_codec_h264(no_sps, sizeof(no_sps), s, sizeof(s)),
                     -EINVAL);
}

static void test_hevc_sps(void **state)
{
    (void)state;
    char s[48];
    /* SPS NAL (type 33): Main profile, compat 0x60000000, constraint
     * 0x90 00 00 00 00 00, level 93; with emulation prevention bytes. */
    const uint8_t sps[] = {0,    0,    0,    1,    0x42, 0x01, 0x01, 0x01,
                           0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
                           0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0xa0};
    assert_int_equal(hls_codec_hevc(sps, sizeof(sps), s, sizeof(s)), 0);
    assert_string_equal(s, "hvc1.1.6.L93.90");
}

static void test_av1_levels(void **state)
{
    (void)state;
    char s[32];
    hls_codec_av1(426, 240, 30, s, sizeof(s));
    assert_string_equal(s, "av01.0.00M.08"); /* level 2.0 */
    hls_codec_av1(1280, 720, 30, s, sizeof(s));
    assert_string_equal(s, "av01.0.05M.08"); /* 3.1 */
    hls_codec_av1(1920, 1080, 60, s, sizeof(s));
    assert_string_equal(s, "av01.0.09M.08"); /* 4.1 */
}

static void test_aac(void **state)
{
    (void)state;
    char s[24];
    hls_codec_aac(1, s, sizeof(s)); /* FF_PROFILE_AAC_LOW */
    assert_string_equal(s, "mp4a.40.2");
    hls_codec_aac(4, s, sizeof(s)); /* FF_PROFILE_AAC_HE */
    assert_string_equal(s, "mp4a.40.5");
    hls_codec_aac(-99, s, sizeof(s)); /* unknown: LC */
    assert_string_equal(s, "mp4a.40.2");
}

static void test_master(void **state)
{
    (void)state;
    hls_variant_t v[2] = {
        {.name = "720p30",
         .bandwidth = 3600000,
         .average = 3300000,
         .width = 1280,
         .height = 720,
         .fps = 30,
         .video_codec = "avc1.64001f",
         .audio_codec = "mp4a.40.2"},
        {.name = "audio", .bandwidth = 140000, .audio_codec = "mp4a.40.2"},
    };
    char buf[1024];
    int n = hls_master_format(v, 2, true, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    assert_string_equal(
        buf, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
             "#EXT-X-STREAM-INF:BANDWIDTH=3600000,AVERAGE-BANDWIDTH=3300000,"
             "RESOLUTION=1280x720,FRAME-RATE=30.000,"
             "CODECS=\"avc1.64001f,mp4a.40.2\",NAME=\"720p30\"\n"
             "720p30/index.m3u8\n"
             "#EXT-X-STREAM-INF:BANDWIDTH=140000,CODECS=\"mp4a.40.2\","
             "NAME=\"audio\"\naudio/index.m3u8\n");
    assert_int_equal(hls_master_format(v, 2, true, buf, 40), -ENOSPC);

    /* What a continued stream reads back from it. */
    char c[48];
    assert_int_equal(hls_master_format(v, 2, true, buf, sizeof(buf)), n);
    assert_int_equal(
        hls_master_video_codec(buf, "720p30/index.m3u8", c, sizeof(c)), 0);
    assert_string_equal(c, "avc1.64001f");
    assert_int_equal(
        hls_master_video_codec(buf, "audio/index.m3u8", c, sizeof(c)), -ENOENT);
    assert_int_equal(
        hls_master_video_codec(buf, "720p/index.m3u8", c, sizeof(c)), -ENOENT);
}

/* A continued stream declares what both sessions' segments need. */
static void test_codec_cover(void **state)
{
    (void)state;
    char c[48] = "avc1.42c01e"; /* Constrained Baseline 3.0 (ultrafast) */
    hls_codec_cover(c, sizeof(c), "avc1.64001f"); /* High 3.1 (veryslow) */
    assert_string_equal(c, "avc1.64001f");
    snprintf(c, sizeof(c), "avc1.640028");        /* High 4.0 */
    hls_codec_cover(c, sizeof(c), "avc1.4d401f"); /* Main 3.1 */
    assert_string_equal(c, "avc1.640028");
    snprintf(c, sizeof(c), "avc1.4d401e");
    hls_codec_cover(c, sizeof(c), "avc1.4d001f"); /* same profile */
    assert_string_equal(c, "avc1.4d001f");
    snprintf(c, sizeof(c), "hvc1.1.6.L93.B0"); /* not both H.264: ours */
    hls_codec_cover(c, sizeof(c), "avc1.64001f");
    assert_string_equal(c, "hvc1.1.6.L93.B0");
    snprintf(c, sizeof(c), "avc1.58001e"); /* Extended: off the line */
    hls_codec_cover(c, sizeof(c), "avc1.64001f");
    assert_string_equal(c, "avc1.58001e");
}

TEST_MAIN(cmocka_unit_test(test_h264_annexb_and_avcc),
          cmocka_unit_test(test_hevc_sps), cmocka_unit_test(test_av1_levels),
          cmocka_unit_test(test_aac), cmocka_unit_test(test_master),
          cmocka_unit_test(test_codec_cover))
