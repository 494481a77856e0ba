/* Tests for worker/hwplan: backend choice, graphs, encoders, options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "hwplan.h"
#include "ladder.h"
#include "test_main.h"

/* The default ladder fitted to a 1080p30 source. */
static ladder_t ladder_1080p30(void)
{
    ladder_profile_t p;
    ladder_t l;
    ladder_source_t src = {
        .width = 1920, .height = 1080, .fps_num = 30, .fps_den = 1};
    assert_int_equal(ladder_profile_default(&p), 0);
    assert_int_equal(ladder_apply(&p, &src, &l), 0);
    return l;
}

static hwplan_t plan(hwplan_backend_t b, const ladder_t *l, const char *codec,
                     bool live)
{
    hwplan_t p;
    char why[256] = "";
    hwplan_encode_t enc = {.segment_s = 2, .live = live, .bframes = -1};
    int ret = hwplan_build(b, l, codec, &enc, &p, why, sizeof(why));
    if (ret < 0)
        fail_msg("hwplan_build: %d %s", ret, why);
    return p;
}

static int find(const ladder_t *l, const char *name)
{
    for (int i = 0; i < l->n; i++) {
        if (!strcmp(l->r[i].name, name))
            return i;
    }
    fail_msg("no rendition %s", name);
    return -1;
}

/* The graph parses in FFmpeg (filter names and option names exist). */
static void assert_graph_parses(const hwplan_t *p)
{
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterInOut *ins = NULL, *outs = NULL;
    assert_non_null(g);
    int ret = avfilter_graph_parse2(g, p->graph, &ins, &outs);
    if (ret < 0)
        fail_msg("graph does not parse: %s", p->graph);
    /* One open input "in", one open output per size. */
    assert_non_null(ins);
    assert_string_equal(ins->name, "in");
    assert_null(ins->next);
    int n = 0;
    for (AVFilterInOut *o = outs; o; o = o->next)
        n++;
    assert_int_equal(n, p->nsizes);
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    avfilter_graph_free(&g);
}

/* Every option in the plan is one the named encoder really has. */
static void assert_opts_known(const hwplan_encoder_t *e)
{
    const AVCodec *c = avcodec_find_encoder_by_name(e->encoder);
    if (!c)
        fail_msg("FFmpeg has no %s", e->encoder);
    AVCodecContext *ctx = avcodec_alloc_context3(c);
    AVDictionary *d = NULL;
    assert_non_null(ctx);
    assert_true(av_dict_parse_string(&d, e->opts, "=", " ", 0) >= 0);
    assert_int_equal(av_opt_set_dict2(ctx, &d, AV_OPT_SEARCH_CHILDREN), 0);
    const AVDictionaryEntry *left =
        av_dict_get(d, "", NULL, AV_DICT_IGNORE_SUFFIX);
    if (left)
        fail_msg("%s has no option %s (opts \"%s\")", e->encoder, left->key,
                 e->opts);
    av_dict_free(&d);
    avcodec_free_context(&ctx);
}

static void test_backend_names(void **state)
{
    (void)state;
    hwplan_backend_t b;
    assert_int_equal(hwplan_backend_parse("nvenc", &b), 0);
    assert_int_equal(b, HWPLAN_NVENC);
    assert_int_equal(hwplan_backend_parse("vaapi", &b), 0);
    assert_int_equal(b, HWPLAN_VAAPI);
    assert_int_equal(hwplan_backend_parse("software", &b), 0);
    assert_int_equal(hwplan_backend_parse("auto", &b), 0);
    assert_int_equal(b, HWPLAN_AUTO);
    assert_int_equal(hwplan_backend_parse("hybrid", &b), 0);
    assert_int_equal(b, HWPLAN_HYBRID);
    assert_string_equal(hwplan_backend_name(HWPLAN_HYBRID), "hybrid");
    assert_int_equal(hwplan_backend_parse("qsv", &b), -EINVAL);
}

static void test_pick_without_devices(void **state)
{
    (void)state;
    hwplan_devices_t none = {0};
    char why[256];
    unsigned h264 = 1u << LADDER_CODEC_H264;

    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &none, h264, why, sizeof(why)),
        HWPLAN_SOFTWARE);
    assert_non_null(strstr(why, "auto fell back to software"));
    assert_non_null(strstr(why, "no CUDA driver"));
    assert_non_null(strstr(why, "no VAAPI render node"));
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_NVENC, &none, h264, why, sizeof(why)),
        -ENODEV);
    assert_non_null(strstr(why, "no CUDA driver"));
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_VAAPI, &none, h264, why, sizeof(why)),
        -ENODEV);
    assert_non_null(strstr(why, "no VAAPI render node"));
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_SOFTWARE, &none, h264, why, sizeof(why)),
        HWPLAN_SOFTWARE);
}

static void test_pick_h100_has_no_nvenc(void **state)
{
    (void)state;
    /* An H100: CUDA and NVDEC work, no encode session opens. */
    hwplan_devices_t h100 = {.cuda_driver = true, .nvdec = true};
    char why[256];
    unsigned h264 = 1u << LADDER_CODEC_H264;
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_NVENC, &h100, h264, why, sizeof(why)),
        -ENODEV);
    assert_non_null(strstr(why, "no working NVENC"));
    /* Auto runs it hybrid: NVDEC decodes and scales, x264 encodes. */
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &h100, h264, why, sizeof(why)),
        HWPLAN_HYBRID);
    assert_non_null(strstr(why, "auto chose hybrid"));
    assert_non_null(strstr(why, "no working NVENC"));
    /* Software encoders take every codec. */
    unsigned all = h264 | 1u << LADDER_CODEC_HEVC | 1u << LADDER_CODEC_AV1;
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_HYBRID, &h100, all, why, sizeof(why)),
        HWPLAN_HYBRID);
    /* Without a working NVDEC there is nothing for the GPU to do. */
    hwplan_devices_t nodec = {.cuda_driver = true};
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_HYBRID, &nodec, h264, why, sizeof(why)),
        -ENODEV);
    assert_non_null(strstr(why, "no working NVDEC"));
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &nodec, h264, why, sizeof(why)),
        HWPLAN_SOFTWARE);
    hwplan_devices_t none = {0};
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_HYBRID, &none, h264, why, sizeof(why)),
        -ENODEV);
    assert_non_null(strstr(why, "no CUDA driver"));
}

static void test_pick_prefers_nvenc_then_vaapi(void **state)
{
    (void)state;
    char why[256];
    unsigned h264 = 1u << LADDER_CODEC_H264;
    unsigned hevc = 1u << LADDER_CODEC_HEVC;
    hwplan_devices_t both = {.cuda_driver = true,
                             .nvenc_h264 = true,
                             .nvenc_hevc = true,
                             .vaapi_node = true,
                             .vaapi_h264 = true,
                             .vaapi_device = "/dev/dri/renderD128"};
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &both, h264, why, sizeof(why)),
        HWPLAN_NVENC);
    assert_non_null(strstr(why, "auto chose nvenc"));
    hwplan_devices_t intel = {.vaapi_node = true,
                              .vaapi_h264 = true,
                              .vaapi_device = "/dev/dri/renderD128"};
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &intel, h264, why, sizeof(why)),
        HWPLAN_VAAPI);
    assert_non_null(strstr(why, "renderD128"));
    /* A node without HEVC encode cannot run an HEVC ladder. */
    assert_int_equal(hwplan_pick_backend(HWPLAN_VAAPI, &intel, h264 | hevc, why,
                                         sizeof(why)),
                     -ENODEV);
    assert_non_null(strstr(why, "HEVC"));
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &intel, h264 | hevc, why, sizeof(why)),
        HWPLAN_SOFTWARE);
}

static void test_sizes_cascade(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    hwplan_size_t sizes[HWPLAN_MAX_SIZES];
    int rs[LADDER_MAX_RUNGS];
    int n = hwplan_sizes(&l, sizes, HWPLAN_MAX_SIZES, rs);
    assert_int_equal(n, 4);
    /* Largest first; 480p from the decoder, 360p from 720p, 160p from
     * 360p (each at least 2x), 720p from the decoder. */
    assert_int_equal(sizes[0].height, 720);
    assert_int_equal(sizes[0].parent, -1);
    assert_int_equal(sizes[1].height, 480);
    assert_int_equal(sizes[1].parent, -1);
    assert_int_equal(sizes[2].height, 360);
    assert_int_equal(sizes[2].parent, 0);
    assert_int_equal(sizes[3].height, 160);
    assert_int_equal(sizes[3].parent, 2);
    assert_int_equal(rs[find(&l, "source")], -1);
    assert_int_equal(rs[find(&l, "720p30")], 0);
    assert_int_equal(rs[find(&l, "160p30")], 3);
}

static void test_sizes_shared_between_rates(void **state)
{
    (void)state;
    ladder_profile_t p;
    ladder_t l;
    ladder_source_t src = {
        .width = 1280, .height = 720, .fps_num = 60, .fps_den = 1};
    assert_int_equal(ladder_profile_default(&p), 0);
    assert_int_equal(ladder_apply(&p, &src, &l), 0);
    hwplan_size_t sizes[HWPLAN_MAX_SIZES];
    int rs[LADDER_MAX_RUNGS];
    int n = hwplan_sizes(&l, sizes, HWPLAN_MAX_SIZES, rs);
    /* 720p60 and 720p30 scale once. */
    assert_int_equal(rs[find(&l, "720p60")], rs[find(&l, "720p30")]);
    assert_int_equal(n, 4);
}

static void test_software_plan(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    hwplan_t p = plan(HWPLAN_SOFTWARE, &l, "h264", true);
    assert_null(p.hwdevice_type);
    assert_false(p.hw_decode);
    assert_string_equal(p.frames_format, "yuv420p");
    assert_int_equal(p.nrend, l.n);
    assert_string_equal(p.enc[find(&l, "source")].encoder, "");
    const hwplan_encoder_t *e = &p.enc[find(&l, "720p30")];
    assert_string_equal(e->encoder, "libx264");
    assert_non_null(strstr(e->opts, "b=3000k"));
    assert_non_null(strstr(e->opts, "maxrate=3000k"));
    assert_non_null(strstr(e->opts, "sc_threshold=0"));
    assert_non_null(strstr(e->opts, "forced-idr=1"));
    assert_non_null(strstr(e->opts, "bf=0"));
    assert_non_null(strstr(e->opts, "g=240"));
    assert_non_null(strstr(e->opts, "threads=2"));
    assert_non_null(strstr(e->opts, "rc-lookahead=5"));
    assert_non_null(strstr(e->opts, "sync-lookahead=0"));
    assert_non_null(strstr(p.enc[find(&l, "160p30")].opts, "threads=1"));
    assert_null(strstr(e->opts, "sliced-threads"));
    /* Low-Latency HLS: no lookahead, threads in slices. */
    hwplan_t ll;
    char why[256];
    hwplan_encode_t lenc = {
        .segment_s = 2, .live = true, .bframes = -1, .low_latency = true};
    assert_int_equal(
        hwplan_build(HWPLAN_SOFTWARE, &l, "h264", &lenc, &ll, why, sizeof(why)),
        0);
    e = &ll.enc[find(&l, "720p30")];
    assert_non_null(strstr(e->opts, "rc-lookahead=0"));
    assert_non_null(strstr(e->opts, "sliced-threads=1"));
    assert_null(strstr(e->opts, "rc-lookahead=5"));
    /* From the decoder bilinear, cascaded (360p from 720p) bicubic. */
    assert_non_null(strstr(p.graph, "scale=w=1280:h=720:flags=bilinear"));
    assert_non_null(strstr(p.graph, "scale=w=640:h=360:flags=bicubic"));
    assert_non_null(strstr(p.graph, "format=yuv420p"));
    assert_null(strstr(p.graph, "cuda"));
    assert_null(strstr(p.graph, "vaapi"));
    assert_graph_parses(&p);
    for (int i = 0; i < p.nrend; i++) {
        if (p.enc[i].encoder[0])
            assert_opts_known(&p.enc[i]);
    }
    /* VOD allows B-frames. */
    hwplan_t v = plan(HWPLAN_SOFTWARE, &l, "h264", false);
    assert_non_null(strstr(v.enc[find(&l, "720p30")].opts, "bf=3"));
}

static void test_software_codecs(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    l.r[find(&l, "480p30")].codec = LADDER_CODEC_HEVC;
    l.r[find(&l, "360p30")].codec = LADDER_CODEC_AV1;
    hwplan_t p = plan(HWPLAN_SOFTWARE, &l, "h264", true);
    const hwplan_encoder_t *h = &p.enc[find(&l, "480p30")];
    assert_string_equal(h->encoder, "libx265");
    assert_non_null(strstr(h->opts, "scenecut=0"));
    assert_opts_known(h);
    const hwplan_encoder_t *a = &p.enc[find(&l, "360p30")];
    assert_string_equal(a->encoder, "libsvtav1");
    assert_opts_known(a);
    /* No AV1 on the hardware backends. */
    hwplan_t q;
    char why[256];
    hwplan_encode_t enc = {.segment_s = 2, .live = true, .bframes = -1};
    assert_int_equal(
        hwplan_build(HWPLAN_NVENC, &l, "h264", &enc, &q, why, sizeof(why)),
        -ENOSYS);
    assert_non_null(strstr(why, "360p30"));
}

static void test_nvenc_plan(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    hwplan_t p = plan(HWPLAN_NVENC, &l, "h264", true);
    assert_string_equal(p.hwdevice_type, "cuda");
    assert_true(p.hw_decode);
    assert_string_equal(p.frames_format, "cuda");
    assert_string_equal(p.sw_format, "nv12");
    const hwplan_encoder_t *e = &p.enc[find(&l, "480p30")];
    assert_string_equal(e->encoder, "h264_nvenc");
    assert_non_null(strstr(e->opts, "forced-idr=1"));
    assert_non_null(strstr(e->opts, "no-scenecut=1"));
    assert_non_null(strstr(e->opts, "bf=0"));
    assert_non_null(strstr(e->opts, "zerolatency=1"));
    /* A small async depth, not 0: renditions do not wait on each other. */
    char delay[32];
    snprintf(delay, sizeof(delay), "delay=%d", HWPLAN_NVENC_ASYNC_DEPTH);
    assert_non_null(strstr(e->opts, delay));
    assert_true(HWPLAN_NVENC_ASYNC_DEPTH > 0);
    assert_non_null(strstr(e->opts, "b=1500k"));
    /* NVDEC copies out into its own pool: no extra surfaces on CUDA. One
     * CUDA context per device: the primary one. */
    assert_int_equal(p.extra_hw_frames, 0);
    assert_string_equal(p.hwdevice_opts, "primary_ctx=1");
    assert_string_equal(p.decoder, "h264");
    assert_opts_known(e);
    /* Frames stay on the GPU: scale_cuda, no upload, no CPU scale. */
    assert_non_null(strstr(p.graph, "scale_cuda=w=854:h=480"));
    assert_null(strstr(p.graph, "hwupload"));
    assert_null(strstr(p.graph, "scale=w"));
    assert_graph_parses(&p);
    /* A codec NVDEC cannot decode is decoded on the CPU and uploaded. */
    hwplan_t u = plan(HWPLAN_NVENC, &l, "prores", true);
    assert_false(u.hw_decode);
    assert_int_equal(strncmp(u.graph, "[in]format=nv12,hwupload,", 25), 0);
    assert_graph_parses(&u);
    /* A device whose decoder does not work: CPU decode, then upload. */
    hwplan_t sw;
    char why[256];
    hwplan_encode_t enc = {
        .segment_s = 2, .live = true, .bframes = -1, .sw_decode = true};
    assert_int_equal(
        hwplan_build(HWPLAN_NVENC, &l, "h264", &enc, &sw, why, sizeof(why)), 0);
    assert_false(sw.hw_decode);
    assert_int_equal(strncmp(sw.graph, "[in]format=nv12,hwupload,", 25), 0);
    l.r[find(&l, "720p30")].codec = LADDER_CODEC_HEVC;
    hwplan_t h = plan(HWPLAN_NVENC, &l, "hevc", true);
    assert_string_equal(h.enc[find(&l, "720p30")].encoder, "hevc_nvenc");
    assert_opts_known(&h.enc[find(&l, "720p30")]);
}

static void test_vaapi_plan(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    hwplan_t p = plan(HWPLAN_VAAPI, &l, "h264", true);
    assert_string_equal(p.hwdevice_type, "vaapi");
    assert_true(p.hw_decode);
    assert_string_equal(p.frames_format, "vaapi");
    const hwplan_encoder_t *e = &p.enc[find(&l, "360p30")];
    assert_string_equal(e->encoder, "h264_vaapi");
    assert_non_null(strstr(e->opts, "rc_mode=VBR"));
    assert_non_null(strstr(e->opts, "bf=0"));
    assert_opts_known(e);
    assert_non_null(strstr(p.graph, "scale_vaapi=w=640:h=360:format=nv12"));
    /* VAAPI's decode pool is fixed: room for frames held downstream. */
    assert_int_equal(p.extra_hw_frames, HWPLAN_VAAPI_EXTRA_SURFACES);
    assert_string_equal(p.hwdevice_opts, "");
    assert_null(strstr(p.graph, "hwupload"));
    assert_graph_parses(&p);
    hwplan_t u = plan(HWPLAN_VAAPI, &l, "prores", true);
    assert_int_equal(strncmp(u.graph, "[in]format=nv12,hwupload,", 25), 0);
    assert_graph_parses(&u);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_hybrid_plan(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    l.r[find(&l, "480p30")].codec = LADDER_CODEC_HEVC;
    hwplan_t p = plan(HWPLAN_HYBRID, &l, "h264", true);
    hwplan_t sw = plan(HWPLAN_SOFTWARE, &l, "h264", true);
    /* NVDEC decodes into the CUDA device, one context per device. */
    assert_string_equal(p.hwdevice_type, "cuda");
    assert_string_equal(p.hwdevice_opts, "primary_ctx=1");
    assert_true(p.hw_decode);
    assert_string_equal(p.decoder, "h264");
    assert_int_equal(p.extra_hw_frames, 0);
    /* The encoders are the software ones, with the same options, and get
     * CPU frames. */
    assert_string_equal(p.frames_format, "yuv420p");
    for (int i = 0; i < p.nrend; i++) {
        assert_string_equal(p.enc[i].encoder, sw.enc[i].encoder);
        assert_string_equal(p.enc[i].opts, sw.enc[i].opts);
    }
    assert_string_equal(p.enc[find(&l, "720p30")].encoder, "libx264");
    assert_string_equal(p.enc[find(&l, "480p30")].encoder, "libx265");
    /* Every rung is scaled on the GPU and downloaded once; no CPU scale,
     * no upload. */
    assert_int_equal(count(p.graph, "scale_cuda="), p.nsizes);
    assert_int_equal(count(p.graph, "hwdownload,format=yuv420p"), p.nsizes);
    assert_non_null(strstr(p.graph, "scale_cuda=w=1280:h=720"));
    assert_non_null(strstr(p.graph, "scale_cuda=w=284:h=160"));
    assert_null(strstr(p.graph, "scale=w"));
    assert_null(strstr(p.graph, "hwupload"));
    assert_graph_parses(&p);
    /* Frames the CPU decoded take the software graph. */
    assert_string_equal(p.graph_sw, sw.graph);
    /* A codec without a hardware decoder: nothing for the GPU to do. */
    hwplan_t u = plan(HWPLAN_HYBRID, &l, "prores", true);
    assert_false(u.hw_decode);
    assert_null(u.hwdevice_type);
    assert_string_equal(u.graph, sw.graph);
    assert_string_equal(u.graph_sw, sw.graph);
}

static void test_graph_variants(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    /* Both variants are planned for every backend: the CPU-frames one
     * uploads on NVENC and VAAPI. */
    hwplan_t n = plan(HWPLAN_NVENC, &l, "h264", true);
    assert_null(strstr(n.graph, "hwupload"));
    assert_int_equal(strncmp(n.graph_sw, "[in]format=nv12,hwupload,", 25), 0);
    hwplan_t v = plan(HWPLAN_VAAPI, &l, "h264", true);
    assert_int_equal(strncmp(v.graph_sw, "[in]format=nv12,hwupload,", 25), 0);
    hwplan_t s = plan(HWPLAN_SOFTWARE, &l, "h264", true);
    assert_string_equal(s.graph, s.graph_sw);
    assert_null(s.decoder);
}

/* Whether decoder NAME decodes through a CUDA device context. */
static bool decodes_on_cuda(const char *name)
{
    const AVCodec *c = avcodec_find_decoder_by_name(name);
    for (int i = 0; c; i++) {
        const AVCodecHWConfig *h = avcodec_get_hw_config(c, i);
        if (!h)
            return false;
        if (h->device_type == AV_HWDEVICE_TYPE_CUDA &&
            (h->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX))
            return true;
    }
    return false;
}

static void test_decoders_from_hw_configs(void **state)
{
    (void)state;
    /* AV1 through FFmpeg's own decoder (it has the hwaccels), not the
     * default libdav1d, which has none. */
    assert_string_equal(hwplan_hw_decoder(HWPLAN_HYBRID, "av1"), "av1");
    assert_false(decodes_on_cuda("libdav1d"));
    /* The hwaccel decoder, not the cuvid wrapper. */
    assert_string_equal(hwplan_hw_decoder(HWPLAN_NVENC, "h264"), "h264");
    /* Every codec FFmpeg can decode on CUDA, and only those: the list
     * comes from the hardware configurations. */
    const AVCodecDescriptor *d = NULL;
    int n = 0;
    while ((d = avcodec_descriptor_next(d))) {
        if (d->type != AVMEDIA_TYPE_VIDEO)
            continue;
        bool any = false;
        const AVCodec *c;
        void *it = NULL;
        while ((c = av_codec_iterate(&it))) {
            if (av_codec_is_decoder(c) && c->id == d->id &&
                !strstr(c->name, "_cuvid"))
                any |= decodes_on_cuda(c->name);
        }
        const char *got = hwplan_hw_decoder(HWPLAN_NVENC, d->name);
        if (any != (got != NULL))
            fail_msg("%s: FFmpeg %s, plan %s", d->name, any ? "yes" : "no",
                     got ? got : "none");
        if (got)
            assert_true(decodes_on_cuda(got));
        n += any;
    }
    assert_true(n >= 5); /* h264, hevc, av1, vp9, mpeg2video at least */
    assert_true(hwplan_hw_can_decode(HWPLAN_VAAPI, "hevc"));
    assert_false(hwplan_hw_can_decode(HWPLAN_NVENC, "prores"));
    assert_false(hwplan_hw_can_decode(HWPLAN_SOFTWARE, "h264"));
    assert_false(hwplan_hw_can_decode(HWPLAN_NVENC, "no-such-codec"));
}

static void test_decode_on_cpu(void **state)
{
    (void)state;
    /* An H100 decodes H.264, HEVC and AV1; a Turing card no AV1; a card
     * whose NVDEC does not answer nothing. */
    hwplan_devices_t h100 = {.cuda_driver = true,
                             .nvdec = true,
                             .nvdec_hevc = true,
                             .nvdec_av1 = true};
    hwplan_devices_t t4 = {
        .cuda_driver = true, .nvdec = true, .nvdec_hevc = true};
    hwplan_devices_t broken = {.cuda_driver = true, .nvenc_h264 = true};
    assert_false(hwplan_decode_on_cpu(HWPLAN_HYBRID, &h100, "av1"));
    assert_false(hwplan_decode_on_cpu(HWPLAN_HYBRID, &h100, "hevc"));
    assert_true(hwplan_decode_on_cpu(HWPLAN_NVENC, &t4, "av1"));
    assert_false(hwplan_decode_on_cpu(HWPLAN_NVENC, &t4, "h264"));
    assert_true(hwplan_decode_on_cpu(HWPLAN_NVENC, &broken, "h264"));
    hwplan_devices_t intel = {.vaapi_node = true, .vaapi_h264 = true};
    assert_true(hwplan_decode_on_cpu(HWPLAN_VAAPI, &intel, "av1"));
    assert_false(hwplan_decode_on_cpu(HWPLAN_VAAPI, &intel, "h264"));
    intel.vaapi_av1_decode = true;
    assert_false(hwplan_decode_on_cpu(HWPLAN_VAAPI, &intel, "av1"));
    assert_true(hwplan_decode_on_cpu(HWPLAN_SOFTWARE, &h100, "h264"));
    /* On the CPU an AV1 source opens the default decoder (libdav1d). */
    ladder_t l = ladder_1080p30();
    hwplan_t p;
    char why[256];
    hwplan_encode_t enc = {
        .segment_s = 2, .live = true, .bframes = -1, .sw_decode = true};
    assert_int_equal(
        hwplan_build(HWPLAN_HYBRID, &l, "av1", &enc, &p, why, sizeof(why)), 0);
    assert_null(p.decoder);
    assert_false(p.hw_decode);
}

/* Opens libx264 with a plan's options: x264 checks its profile then. */
static int open_x264(const hwplan_encoder_t *e)
{
    const AVCodec *c = avcodec_find_encoder_by_name(e->encoder);
    AVCodecContext *ctx = avcodec_alloc_context3(c);
    AVDictionary *d = NULL;
    assert_non_null(ctx);
    ctx->width = 64;
    ctx->height = 64;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = (AVRational){1, 30};
    av_dict_parse_string(&d, e->opts, "=", " ", 0);
    int ret = avcodec_open2(ctx, c, &d);
    av_dict_free(&d);
    avcodec_free_context(&ctx);
    return ret;
}

static void test_profiles_per_backend(void **state)
{
    (void)state;
    static const char *const names[] = {"baseline", "constrained_baseline",
                                        "main", "high"};
    static const hwplan_backend_t backends[] = {HWPLAN_SOFTWARE, HWPLAN_HYBRID,
                                                HWPLAN_NVENC, HWPLAN_VAAPI};
    ladder_t l = ladder_1080p30();
    int r = find(&l, "360p30");
    av_log_set_level(AV_LOG_QUIET);
    /* Every H.264 profile a ladder can be saved with is taken by every
     * backend's encoder (its option constants; x264 when it opens). */
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        assert_true(ladder_codec_profile_ok(LADDER_CODEC_H264, names[n]));
        snprintf(l.r[r].profile, sizeof(l.r[r].profile), "%s", names[n]);
        for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
            hwplan_t p = plan(backends[b], &l, "h264", true);
            assert_opts_known(&p.enc[r]);
            if (!strcmp(p.enc[r].encoder, "libx264") &&
                open_x264(&p.enc[r]) < 0)
                fail_msg("libx264 refuses %s (%s)", names[n], p.enc[r].opts);
        }
    }
    /* The names each encoder refuses are mapped. */
    assert_string_equal(
        hwplan_profile_name(HWPLAN_VAAPI, LADDER_CODEC_H264, "baseline"),
        "constrained_baseline");
    assert_string_equal(hwplan_profile_name(HWPLAN_NVENC, LADDER_CODEC_H264,
                                            "constrained_baseline"),
                        "baseline");
    assert_string_equal(hwplan_profile_name(HWPLAN_SOFTWARE, LADDER_CODEC_H264,
                                            "constrained_baseline"),
                        "baseline");
    assert_null(hwplan_profile_name(HWPLAN_NVENC, LADDER_CODEC_HEVC, "main"));
    /* What no backend can make here is refused when the ladder is saved. */
    assert_false(ladder_codec_profile_ok(LADDER_CODEC_H264, "high10"));
    assert_false(ladder_codec_profile_ok(LADDER_CODEC_H264, "high444p"));
    assert_false(ladder_codec_profile_ok(LADDER_CODEC_HEVC, "main10"));
    assert_false(ladder_codec_profile_ok(LADDER_CODEC_HEVC, "high"));
}

static void test_pick_format(void **state)
{
    (void)state;
    const enum AVPixelFormat with[] = {AV_PIX_FMT_VAAPI, AV_PIX_FMT_CUDA,
                                       AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE};
    const enum AVPixelFormat ten[] = {AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NONE};
    const enum AVPixelFormat hwonly[] = {AV_PIX_FMT_VAAPI, AV_PIX_FMT_NONE};
    assert_int_equal(hwplan_pick_format(AV_PIX_FMT_CUDA, with),
                     AV_PIX_FMT_CUDA);
    /* Not offered: the first software format, never another device's. */
    assert_int_equal(hwplan_pick_format(AV_PIX_FMT_DRM_PRIME, with),
                     AV_PIX_FMT_YUV420P);
    assert_int_equal(hwplan_pick_format(AV_PIX_FMT_CUDA, ten),
                     AV_PIX_FMT_YUV420P10LE);
    assert_int_equal(hwplan_pick_format(AV_PIX_FMT_CUDA, hwonly),
                     AV_PIX_FMT_NONE);
}

/* get_format as the session sets it up, recording what it was offered. */
static int gf_calls, gf_cuda_offered;
static enum AVPixelFormat gf_last;

static enum AVPixelFormat record_format(AVCodecContext *ctx,
                                        const enum AVPixelFormat *fmts)
{
    (void)ctx;
    gf_calls++;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        gf_cuda_offered += *p == AV_PIX_FMT_CUDA;
    gf_last = hwplan_pick_format(AV_PIX_FMT_CUDA, fmts);
    return gf_last;
}

/* Decodes PATH's video with the hybrid plan's decoder and get_format and
 * no device; returns the frames decoded (their format in *fmt). */
static int decode_with_pick(const char *path, enum AVPixelFormat *fmt)
{
    AVFormatContext *ic = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    int frames = 0;
    assert_int_equal(avformat_open_input(&ic, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(ic, NULL) >= 0);
    const AVCodecParameters *par = ic->streams[0]->codecpar;
    const char *name =
        hwplan_hw_decoder(HWPLAN_HYBRID, avcodec_get_name(par->codec_id));
    AVCodecContext *dec =
        avcodec_alloc_context3(name ? avcodec_find_decoder_by_name(name)
                                    : avcodec_find_decoder(par->codec_id));
    assert_non_null(dec);
    assert_true(avcodec_parameters_to_context(dec, par) >= 0);
    dec->get_format = record_format;
    gf_calls = gf_cuda_offered = 0;
    assert_int_equal(avcodec_open2(dec, NULL, NULL), 0);
    while (av_read_frame(ic, pkt) >= 0) {
        assert_int_equal(avcodec_send_packet(dec, pkt), 0);
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, f) == 0) {
            *fmt = f->format;
            assert_null(f->hw_frames_ctx);
            frames++;
            av_frame_unref(f);
        }
    }
    avcodec_send_packet(dec, NULL);
    while (avcodec_receive_frame(dec, f) == 0) {
        frames++;
        av_frame_unref(f);
    }
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    return frames;
}

static void test_get_format_falls_back_to_software(void **state)
{
    (void)state;
    char dir[] = "/tmp/prism-test-hwplan-XXXXXX", cmd[600], ten[80], eight[80];
    assert_non_null(mkdtemp(dir));
    snprintf(ten, sizeof(ten), "%s/ten.mp4", dir);
    snprintf(eight, sizeof(eight), "%s/eight.mp4", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i "
             "testsrc2=s=320x180:r=15:d=1 -pix_fmt yuv420p10le -c:v libx264 "
             "-profile:v high10 -preset ultrafast %s && "
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i "
             "testsrc2=s=320x180:r=15:d=1 -c:v libx264 -preset ultrafast %s",
             ten, eight);
    assert_int_equal(system(cmd), 0);
    enum AVPixelFormat fmt = AV_PIX_FMT_NONE;
    /* H.264 High 10: NVDEC cannot take it, FFmpeg offers no CUDA format;
     * the stream decodes in software instead of failing. */
    assert_int_equal(decode_with_pick(ten, &fmt), 15);
    assert_int_equal(fmt, AV_PIX_FMT_YUV420P10LE);
    assert_true(gf_calls >= 1);
    assert_int_equal(gf_cuda_offered, 0);
    assert_int_equal(gf_last, AV_PIX_FMT_YUV420P10LE);
    /* 8-bit: CUDA is offered and chosen (where this FFmpeg has the NVDEC
     * hwaccel), its initialisation fails here (no device), FFmpeg asks
     * again without it and gets a software format. */
    assert_int_equal(decode_with_pick(eight, &fmt), 15);
    assert_int_equal(fmt, AV_PIX_FMT_YUV420P);
    if (decodes_on_cuda("h264")) {
        assert_true(gf_cuda_offered >= 1);
        assert_true(gf_calls >= 2);
    }
    assert_int_equal(gf_last, AV_PIX_FMT_YUV420P);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_software_frame_into_hybrid_graph(void **state)
{
    (void)state;
    ladder_t l = ladder_1080p30();
    hwplan_t p = plan(HWPLAN_HYBRID, &l, "h264", true);
    AVFilterGraph *g = avfilter_graph_alloc();
    AVFilterContext *src = NULL, *sinks[HWPLAN_MAX_SIZES];
    AVFilterInOut *ins = NULL, *outs = avfilter_inout_alloc();
    assert_non_null(g);
    assert_non_null(outs);
    /* A 10-bit frame from the CPU decoder (the fallback), 1080p. */
    assert_int_equal(
        avfilter_graph_create_filter(&src, avfilter_get_by_name("buffer"), "in",
                                     "video_size=1920x1080:pix_fmt=yuv420p10le:"
                                     "time_base=1/30:pixel_aspect=1/1",
                                     NULL, g),
        0);
    for (int k = 0; k < p.nsizes; k++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", k);
        assert_int_equal(avfilter_graph_create_filter(
                             &sinks[k], avfilter_get_by_name("buffersink"),
                             name, NULL, NULL, g),
                         0);
        AVFilterInOut *io = avfilter_inout_alloc();
        io->name = av_strdup(name);
        io->filter_ctx = sinks[k];
        io->next = ins;
        ins = io;
    }
    outs->name = av_strdup("in");
    outs->filter_ctx = src;
    assert_true(avfilter_graph_parse_ptr(g, p.graph_sw, &ins, &outs, NULL) >=
                0);
    assert_true(avfilter_graph_config(g, NULL) >= 0);
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P10LE;
    f->width = 1920;
    f->height = 1080;
    f->pts = 0;
    assert_int_equal(av_frame_get_buffer(f, 0), 0);
    assert_int_equal(av_buffersrc_add_frame(src, f), 0);
    for (int k = 0; k < p.nsizes; k++) {
        AVFrame *o = av_frame_alloc();
        assert_int_equal(av_buffersink_get_frame(sinks[k], o), 0);
        /* Each rung's size, in the encoders' format (the same as from the
         * GPU variant's download). */
        assert_int_equal(o->width, p.sizes[k].width);
        assert_int_equal(o->height, p.sizes[k].height);
        assert_string_equal(av_get_pix_fmt_name(o->format), p.frames_format);
        av_frame_free(&o);
    }
    av_frame_free(&f);
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    avfilter_graph_free(&g);
}

static void test_remux_only_has_no_graph(void **state)
{
    (void)state;
    ladder_t l = {.n = 1};
    snprintf(l.r[0].name, sizeof(l.r[0].name), "source");
    l.r[0].remux = true;
    hwplan_t p = plan(HWPLAN_SOFTWARE, &l, "h264", true);
    assert_int_equal(p.nsizes, 0);
    assert_string_equal(p.graph, "");
}

TEST_MAIN(cmocka_unit_test(test_backend_names),
          cmocka_unit_test(test_pick_without_devices),
          cmocka_unit_test(test_pick_h100_has_no_nvenc),
          cmocka_unit_test(test_pick_prefers_nvenc_then_vaapi),
          cmocka_unit_test(test_sizes_cascade),
          cmocka_unit_test(test_sizes_shared_between_rates),
          cmocka_unit_test(test_software_plan),
          cmocka_unit_test(test_software_codecs),
          cmocka_unit_test(test_nvenc_plan), cmocka_unit_test(test_vaapi_plan),
          cmocka_unit_test(test_remux_only_has_no_graph),
          cmocka_unit_test(test_hybrid_plan),
          cmocka_unit_test(test_graph_variants),
          cmocka_unit_test(test_decoders_from_hw_configs),
          cmocka_unit_test(test_decode_on_cpu),
          cmocka_unit_test(test_profiles_per_backend),
          cmocka_unit_test(test_pick_format),
          cmocka_unit_test(test_get_format_falls_back_to_software),
          cmocka_unit_test(test_software_frame_into_hybrid_graph))
