/* Tests for worker/hwplan: backend choice, graphs, encoders, options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavutil/opt.h>

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
    assert_int_equal(
        hwplan_pick_backend(HWPLAN_AUTO, &h100, h264, why, sizeof(why)),
        HWPLAN_SOFTWARE);
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
    assert_non_null(strstr(e->opts, "b=1500k"));
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
    assert_null(strstr(p.graph, "hwupload"));
    assert_graph_parses(&p);
    hwplan_t u = plan(HWPLAN_VAAPI, &l, "prores", true);
    assert_int_equal(strncmp(u.graph, "[in]format=nv12,hwupload,", 25), 0);
    assert_graph_parses(&u);
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
          cmocka_unit_test(test_remux_only_has_no_graph))
