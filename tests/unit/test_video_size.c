/* Tests of video_size: the size (and rate) from parameter sets in Annex B
 * and in avcC + length-prefixed packets, and nothing before an SPS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>

#include "log.h"
#include "video_size.h"

#define NFRAMES 12
#define GOP     10

typedef struct {
    uint8_t *data[NFRAMES];
    int size[NFRAMES];
    int64_t pts[NFRAMES];
    uint8_t *extra;
    int extra_len;
} clip_t;

/* Encodes NFRAMES 320x180 frames at 30 fps with libx264, an IDR every
 * GOP frames; with global, the parameter sets are in the extradata only. */
static void encode(clip_t *c, bool global)
{
    memset(c, 0, sizeof(*c));
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    assert_non_null(codec);
    AVCodecContext *e = avcodec_alloc_context3(codec);
    e->width = 320;
    e->height = 180;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->time_base = (AVRational){1, 30};
    e->framerate = (AVRational){30, 1};
    e->gop_size = GOP;
    e->max_b_frames = 0;
    if (global)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *o = NULL;
    av_dict_set(&o, "preset", "ultrafast", 0);
    av_dict_set(&o, "x264-params", "scenecut=0", 0);
    assert_int_equal(avcodec_open2(e, codec, &o), 0);
    av_dict_free(&o);
    AVFrame *f = av_frame_alloc();
    f->width = 320;
    f->height = 180;
    f->format = AV_PIX_FMT_YUV420P;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    AVPacket *p = av_packet_alloc();
    int n = 0;
    for (int i = 0; i <= NFRAMES; i++) {
        if (i < NFRAMES) {
            av_frame_make_writable(f);
            for (int pl = 0; pl < 3; pl++)
                memset(f->data[pl], (i * 7 + pl * 50) & 0xff,
                       (size_t)f->linesize[pl] * (pl ? 90 : 180));
            f->pts = i;
        }
        assert_int_equal(avcodec_send_frame(e, i < NFRAMES ? f : NULL), 0);
        while (avcodec_receive_packet(e, p) == 0) {
            assert_true(n < NFRAMES);
            c->data[n] = malloc((size_t)p->size);
            memcpy(c->data[n], p->data, (size_t)p->size);
            c->size[n] = p->size;
            c->pts[n] = p->pts;
            n++;
            av_packet_unref(p);
        }
    }
    assert_int_equal(n, NFRAMES);
    if (global) {
        c->extra = malloc((size_t)e->extradata_size);
        memcpy(c->extra, e->extradata, (size_t)e->extradata_size);
        c->extra_len = e->extradata_size;
    }
    av_packet_free(&p);
    av_frame_free(&f);
    avcodec_free_context(&e);
}

static void clip_free(clip_t *c)
{
    for (int i = 0; i < NFRAMES; i++)
        free(c->data[i]);
    free(c->extra);
}

/* The NAL units of an Annex B buffer, one at a time. */
static bool next_nal(const uint8_t *b, int len, int *pos, const uint8_t **nal,
                     int *nlen)
{
    int i = *pos;
    while (i + 3 <= len && !(b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1))
        i++;
    if (i + 3 > len)
        return false;
    int start = i + 3, end = start;
    while (end + 3 <= len &&
           !(b[end] == 0 && b[end + 1] == 0 &&
             (b[end + 2] == 1 ||
              (b[end + 2] == 0 && end + 3 < len && b[end + 3] == 1))))
        end++;
    if (end + 3 > len)
        end = len;
    *nal = b + start;
    *nlen = end - start;
    *pos = end;
    return true;
}

/* Annex B extradata to an avcC record (one SPS, one PPS). */
static int to_avcc(const uint8_t *x, int len, uint8_t *out)
{
    const uint8_t *nal, *sps = NULL, *pps = NULL;
    int nlen, slen = 0, plen = 0, pos = 0;
    while (next_nal(x, len, &pos, &nal, &nlen)) {
        if ((nal[0] & 0x1f) == 7)
            sps = nal, slen = nlen;
        else if ((nal[0] & 0x1f) == 8)
            pps = nal, plen = nlen;
    }
    assert_non_null(sps);
    assert_non_null(pps);
    int o = 0;
    out[o++] = 1;
    out[o++] = sps[1];
    out[o++] = sps[2];
    out[o++] = sps[3];
    out[o++] = 0xff; /* 4-byte lengths */
    out[o++] = 0xe1;
    out[o++] = (uint8_t)(slen >> 8);
    out[o++] = (uint8_t)slen;
    memcpy(out + o, sps, (size_t)slen);
    o += slen;
    out[o++] = 1;
    out[o++] = (uint8_t)(plen >> 8);
    out[o++] = (uint8_t)plen;
    memcpy(out + o, pps, (size_t)plen);
    return o + plen;
}

/* An Annex B packet to 4-byte length prefixes (AVCC, as RTMP carries). */
static int to_lp(const uint8_t *b, int len, uint8_t *out)
{
    const uint8_t *nal;
    int nlen, pos = 0, o = 0;
    while (next_nal(b, len, &pos, &nal, &nlen)) {
        out[o++] = (uint8_t)(nlen >> 24);
        out[o++] = (uint8_t)(nlen >> 16);
        out[o++] = (uint8_t)(nlen >> 8);
        out[o++] = (uint8_t)nlen;
        memcpy(out + o, nal, (size_t)nlen);
        o += nlen;
    }
    return o;
}

static const AVRational TB = {1, 30};

/* Annex B with the SPS in the IDR: the size at the first packet. */
static void test_annexb_first_idr(void **state)
{
    (void)state;
    clip_t c;
    encode(&c, false);
    video_size_t *v = video_size_new(AV_CODEC_ID_H264, NULL, 0);
    assert_non_null(v);
    video_size_info_t info = {0};
    assert_true(video_size_feed(v, c.data[0], c.size[0], c.pts[0], TB, &info));
    assert_int_equal(info.width, 320);
    assert_int_equal(info.height, 180);
    video_size_free(&v);
    assert_null(v);
    clip_free(&c);
}

/* Joined after the first IDR: nothing until the next one, whose SPS gives
 * the size; the rate (30 fps) from the SPS timing or the packets. */
static void test_annexb_joined_mid_gop(void **state)
{
    (void)state;
    clip_t c;
    encode(&c, false);
    video_size_t *v = video_size_new(AV_CODEC_ID_H264, NULL, 0);
    video_size_info_t info = {0};
    for (int i = 1; i < GOP; i++)
        assert_false(
            video_size_feed(v, c.data[i], c.size[i], c.pts[i], TB, &info));
    assert_true(
        video_size_feed(v, c.data[GOP], c.size[GOP], c.pts[GOP], TB, &info));
    assert_int_equal(info.width, 320);
    assert_int_equal(info.height, 180);
    assert_true(info.fps > 29.9 && info.fps < 30.1);
    video_size_free(&v);
    clip_free(&c);
}

/* RTMP: an avcC record and length-prefixed packets without in-band
 * parameter sets. */
static void test_avcc_length_prefixed(void **state)
{
    (void)state;
    clip_t c;
    encode(&c, true);
    uint8_t avcc[512];
    int alen = to_avcc(c.extra, c.extra_len, avcc);
    static uint8_t lp[1 << 20];
    int n = to_lp(c.data[0], c.size[0], lp);
    video_size_info_t info = {0};
    /* Without the record the slice cannot be parsed. */
    video_size_t *v = video_size_new(AV_CODEC_ID_H264, NULL, 0);
    assert_false(video_size_feed(v, lp, n, 0, TB, &info));
    video_size_free(&v);
    v = video_size_new(AV_CODEC_ID_H264, avcc, alen);
    assert_true(video_size_feed(v, lp, n, 0, TB, &info));
    assert_int_equal(info.width, 320);
    assert_int_equal(info.height, 180);
    video_size_free(&v);
    clip_free(&c);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_annexb_first_idr),
        cmocka_unit_test(test_annexb_joined_mid_gop),
        cmocka_unit_test(test_avcc_length_prefixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
