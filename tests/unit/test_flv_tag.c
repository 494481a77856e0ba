/* Tests of FLV tag body parsing: AVC, Enhanced RTMP hvc1/av01, AAC, MP3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flv_tag.h"
#include "test_main.h"

static void test_avc(void **state)
{
    (void)state;
    flv_pkt_t p;
    uint8_t seq[] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f};
    assert_int_equal(flv_parse_video(seq, sizeof(seq), &p), 0);
    assert_int_equal(p.codec, FLV_CODEC_H264);
    assert_true(p.config);
    assert_true(p.keyframe);
    assert_int_equal(p.offset, 5);
    assert_int_equal(p.size, 4);
    uint8_t inter[] = {0x27, 1, 0xff, 0xff, 0xfe, 0, 0, 0, 1, 0x41};
    assert_int_equal(flv_parse_video(inter, sizeof(inter), &p), 0);
    assert_false(p.keyframe);
    assert_false(p.config);
    assert_int_equal(p.cts, -2);
    assert_int_equal(p.size, 5);
    uint8_t trunc[] = {0x17, 1, 0};
    assert_int_equal(flv_parse_video(trunc, sizeof(trunc), &p), FLV_EINVAL);
    uint8_t vp6[] = {0x14, 0};
    assert_int_equal(flv_parse_video(vp6, sizeof(vp6), &p), FLV_EUNSUPPORTED);
}

static void test_enhanced_rtmp(void **state)
{
    (void)state;
    flv_pkt_t p;
    uint8_t hseq[] = {0x90, 'h', 'v', 'c', '1', 1, 2, 3};
    assert_int_equal(flv_parse_video(hseq, sizeof(hseq), &p), 0);
    assert_int_equal(p.codec, FLV_CODEC_HEVC);
    assert_true(p.config);
    assert_true(p.keyframe);
    assert_int_equal(p.offset, 5);
    uint8_t hfr[] = {0xa1, 'h', 'v', 'c', '1', 0, 0, 40, 9, 9};
    assert_int_equal(flv_parse_video(hfr, sizeof(hfr), &p), 0);
    assert_false(p.keyframe);
    assert_int_equal(p.cts, 40);
    assert_int_equal(p.offset, 8);
    assert_int_equal(p.size, 2);
    uint8_t hx[] = {0x93, 'h', 'v', 'c', '1', 7};
    assert_int_equal(flv_parse_video(hx, sizeof(hx), &p), 0);
    assert_int_equal(p.cts, 0);
    assert_int_equal(p.offset, 5);
    uint8_t av1[] = {0x91, 'a', 'v', '0', '1', 0x12, 0};
    assert_int_equal(flv_parse_video(av1, sizeof(av1), &p), 0);
    assert_int_equal(p.codec, FLV_CODEC_AV1);
    assert_int_equal(p.offset, 5); /* no composition offset for av01 */
    assert_true(p.keyframe);
    uint8_t vp9[] = {0x91, 'v', 'p', '0', '9', 0};
    assert_int_equal(flv_parse_video(vp9, sizeof(vp9), &p), FLV_EUNSUPPORTED);
    uint8_t meta[] = {0x94, 'h', 'v', 'c', '1', 2};
    assert_int_equal(flv_parse_video(meta, sizeof(meta), &p), 0);
    assert_true(p.skip);
}

static void test_audio(void **state)
{
    (void)state;
    flv_pkt_t p;
    uint8_t asc[] = {0xaf, 0, 0x11, 0x90}; /* AAC LC, 48 kHz, stereo */
    assert_int_equal(flv_parse_audio(asc, sizeof(asc), &p), 0);
    assert_int_equal(p.codec, FLV_CODEC_AAC);
    assert_true(p.config);
    uint32_t sr, ch;
    assert_int_equal(flv_aac_asc_info(asc + p.offset, p.size, &sr, &ch), 0);
    assert_int_equal(sr, 48000);
    assert_int_equal(ch, 2);
    uint8_t raw[] = {0xaf, 1, 0x21};
    assert_int_equal(flv_parse_audio(raw, sizeof(raw), &p), 0);
    assert_false(p.config);
    assert_int_equal(p.size, 1);
    uint8_t mp3[] = {0x2f, 0xff, 0xfb};
    assert_int_equal(flv_parse_audio(mp3, sizeof(mp3), &p), 0);
    assert_int_equal(p.codec, FLV_CODEC_MP3);
    assert_int_equal(p.sample_rate, 44100);
    assert_int_equal(p.channels, 2);
    uint8_t speex[] = {0xb6, 0};
    assert_int_equal(flv_parse_audio(speex, sizeof(speex), &p),
                     FLV_EUNSUPPORTED);
    uint8_t one[] = {0xaf};
    assert_int_equal(flv_parse_audio(one, sizeof(one), &p), FLV_EINVAL);
}

static void test_flv_file(void **state)
{
    (void)state;
    uint8_t f[] = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0,
                   /* audio tag, 2 bytes, ts 0x01000203 */
                   8, 0, 0, 2, 0, 2, 3, 1, 0, 0, 0, 0xaf, 1, 0, 0, 0, 13};
    long off = flv_file_header(f, sizeof(f));
    assert_int_equal(off, 13);
    flv_file_tag_t t;
    long n = flv_file_tag(f + off, sizeof(f) - (size_t)off, &t);
    assert_int_equal(n, 17);
    assert_int_equal(t.type, 8);
    assert_int_equal(t.timestamp, 0x01000203);
    assert_int_equal(t.size, 2);
    assert_int_equal(flv_file_tag(f + off, 12, &t), 0); /* incomplete */
}

TEST_MAIN(cmocka_unit_test(test_avc), cmocka_unit_test(test_enhanced_rtmp),
          cmocka_unit_test(test_audio), cmocka_unit_test(test_flv_file))
