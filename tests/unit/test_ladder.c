/* Tests for ladder profiles: JSON parsing, the fitting rules and the cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ladder.h"
#include "log.h"
#include "test_main.h"

/* One expected rendition; fps_den 0 means 1. */
typedef struct {
    const char *name;
    int width, height;
    int fps_num, fps_den;
    int frame_step;
    int bitrate_kbps;
} want_t;

typedef struct {
    const char *what;
    ladder_source_t src;
    int n;
    want_t r[LADDER_MAX_RUNGS];
} fit_case_t;

static ladder_profile_t default_profile(void)
{
    ladder_profile_t p;
    assert_int_equal(ladder_profile_default(&p), 0);
    return p;
}

static void check_ladder(const char *what, const ladder_t *got, int n,
                         const want_t *want)
{
    for (int i = 0; i < got->n; i++)
        print_message("%s: got %s %dx%d %d/%d step %d %d kbps\n", what,
                      got->r[i].name, got->r[i].width, got->r[i].height,
                      got->r[i].fps_num, got->r[i].fps_den,
                      got->r[i].frame_step, got->r[i].bitrate_kbps);
    assert_int_equal(got->n, n);
    for (int i = 0; i < n; i++) {
        const ladder_rendition_t *r = &got->r[i];
        const want_t *w = &want[i];
        assert_string_equal(r->name, w->name);
        assert_int_equal(r->remux, strcmp(w->name, "source") == 0);
        assert_int_equal(r->width, w->width);
        assert_int_equal(r->height, w->height);
        assert_int_equal(r->fps_num, w->fps_num);
        assert_int_equal(r->fps_den, w->fps_den ? w->fps_den : 1);
        assert_int_equal(r->frame_step, w->frame_step);
        assert_int_equal(r->bitrate_kbps, w->bitrate_kbps);
    }
}

/* The default profile on the sources a streamer sends. */
static const fit_case_t default_cases[] = {
    {"1080p60",
     {1920, 1080, 60, 1, 0, 0, 6000},
     7,
     {{"source", 1920, 1080, 60, 1, 1, 6000},
      {"1080p60", 1920, 1080, 60, 1, 1, 6000},
      {"720p60", 1280, 720, 60, 1, 1, 4500},
      {"720p30", 1280, 720, 30, 1, 2, 3000},
      {"480p30", 854, 480, 30, 1, 2, 1500},
      {"360p30", 640, 360, 30, 1, 2, 800},
      {"160p30", 284, 160, 30, 1, 2, 300}}},
    {"1080p30",
     {1920, 1080, 30, 1, 1, 1, 0},
     5,
     {{"source", 1920, 1080, 30, 1, 1, 0},
      {"720p30", 1280, 720, 30, 1, 1, 3000},
      {"480p30", 854, 480, 30, 1, 1, 1500},
      {"360p30", 640, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    {"720p30",
     {1280, 720, 30, 1, 0, 0, 3500},
     5,
     {{"source", 1280, 720, 30, 1, 1, 3500},
      {"720p30", 1280, 720, 30, 1, 1, 3000},
      {"480p30", 854, 480, 30, 1, 1, 1500},
      {"360p30", 640, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    {"720p60: no 1080p",
     {1280, 720, 60, 1, 0, 0, 0},
     6,
     {{"source", 1280, 720, 60, 1, 1, 0},
      {"720p60", 1280, 720, 60, 1, 1, 4500},
      {"720p30", 1280, 720, 30, 1, 2, 3000},
      {"480p30", 854, 480, 30, 1, 2, 1500},
      {"360p30", 640, 360, 30, 1, 2, 800},
      {"160p30", 284, 160, 30, 1, 2, 300}}},
    {"480p: no 720p",
     {854, 480, 30, 1, 0, 0, 0},
     4,
     {{"source", 854, 480, 30, 1, 1, 0},
      {"480p30", 854, 480, 30, 1, 1, 1500},
      {"360p30", 640, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    {"odd 853x481",
     {853, 481, 30, 1, 0, 0, 0},
     4,
     {{"source", 853, 481, 30, 1, 1, 0},
      {"480p30", 852, 480, 30, 1, 1, 1500},
      {"360p30", 638, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    {"portrait 1080x1920",
     {1080, 1920, 30, 1, 0, 0, 0},
     5,
     {{"source", 1080, 1920, 30, 1, 1, 0},
      {"720p30", 720, 1280, 30, 1, 1, 3000},
      {"480p30", 480, 854, 30, 1, 1, 1500},
      {"360p30", 360, 640, 30, 1, 1, 800},
      {"160p30", 160, 284, 30, 1, 1, 300}}},
    {"portrait 1080x1920 at 60",
     {1080, 1920, 60, 1, 0, 0, 0},
     7,
     {{"source", 1080, 1920, 60, 1, 1, 0},
      {"1080p60", 1080, 1920, 60, 1, 1, 6000},
      {"720p60", 720, 1280, 60, 1, 1, 4500},
      {"720p30", 720, 1280, 30, 1, 2, 3000},
      {"480p30", 480, 854, 30, 1, 2, 1500},
      {"360p30", 360, 640, 30, 1, 2, 800},
      {"160p30", 160, 284, 30, 1, 2, 300}}},
    {"1080p50: 50 and 25 fps rungs",
     {1920, 1080, 50, 1, 0, 0, 0},
     7,
     {{"source", 1920, 1080, 50, 1, 1, 0},
      {"1080p50", 1920, 1080, 50, 1, 1, 5000},
      {"720p50", 1280, 720, 50, 1, 1, 3750},
      {"720p25", 1280, 720, 25, 1, 2, 2500},
      {"480p25", 854, 480, 25, 1, 2, 1250},
      {"360p25", 640, 360, 25, 1, 2, 667},
      {"160p25", 284, 160, 25, 1, 2, 250}}},
    {"1080p59.94",
     {1920, 1080, 60000, 1001, 0, 0, 0},
     7,
     {{"source", 1920, 1080, 60000, 1001, 1, 0},
      {"1080p60", 1920, 1080, 60000, 1001, 1, 5994},
      {"720p60", 1280, 720, 60000, 1001, 1, 4496},
      {"720p30", 1280, 720, 30000, 1001, 2, 2997},
      {"480p30", 854, 480, 30000, 1001, 2, 1499},
      {"360p30", 640, 360, 30000, 1001, 2, 799},
      {"160p30", 284, 160, 30000, 1001, 2, 300}}},
    {"25 fps stays 25",
     {1280, 720, 25, 1, 0, 0, 0},
     5,
     {{"source", 1280, 720, 25, 1, 1, 0},
      {"720p25", 1280, 720, 25, 1, 1, 2500},
      {"480p25", 854, 480, 25, 1, 1, 1250},
      {"360p25", 640, 360, 25, 1, 1, 667},
      {"160p25", 284, 160, 25, 1, 1, 250}}},
    {"23.976 stays 23.976",
     {1280, 720, 24000, 1001, 0, 0, 0},
     5,
     {{"source", 1280, 720, 24000, 1001, 1, 0},
      {"720p24", 1280, 720, 24000, 1001, 1, 2398},
      {"480p24", 854, 480, 24000, 1001, 1, 1199},
      {"360p24", 640, 360, 24000, 1001, 1, 639},
      {"160p24", 284, 160, 24000, 1001, 1, 240}}},
    /* A source a hair over 30 fps is a 30 fps source: no halving, no 60
       fps rungs. */
    {"30.1 fps within tolerance",
     {640, 360, 301, 10, 0, 0, 0},
     3,
     {{"source", 640, 360, 301, 10, 1, 0},
      {"360p30", 640, 360, 301, 10, 1, 803},
      {"160p30", 284, 160, 301, 10, 1, 301}}},
    {"unknown rate is 30",
     {1920, 1080, 0, 0, 0, 0, 0},
     5,
     {{"source", 1920, 1080, 30, 1, 1, 0},
      {"720p30", 1280, 720, 30, 1, 1, 3000},
      {"480p30", 854, 480, 30, 1, 1, 1500},
      {"360p30", 640, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    {"4:3 1440x1080",
     {1440, 1080, 30, 1, 0, 0, 0},
     5,
     {{"source", 1440, 1080, 30, 1, 1, 0},
      {"720p30", 960, 720, 30, 1, 1, 3000},
      {"480p30", 640, 480, 30, 1, 1, 1500},
      {"360p30", 480, 360, 30, 1, 1, 800},
      {"160p30", 214, 160, 30, 1, 1, 300}}},
    /* HDV: 1440x1080 stored, 4:3 pixels, shown as 1920x1080. */
    {"anamorphic 1440x1080 SAR 4:3",
     {1440, 1080, 30, 1, 4, 3, 0},
     5,
     {{"source", 1440, 1080, 30, 1, 1, 0},
      {"720p30", 1280, 720, 30, 1, 1, 3000},
      {"480p30", 854, 480, 30, 1, 1, 1500},
      {"360p30", 640, 360, 30, 1, 1, 800},
      {"160p30", 284, 160, 30, 1, 1, 300}}},
    /* Narrow pixels: 1920x1080 with SAR 3:4 is shown as 1440x1080. */
    {"anamorphic 1920x1080 SAR 3:4",
     {1920, 1080, 30, 1, 3, 4, 0},
     5,
     {{"source", 1920, 1080, 30, 1, 1, 0},
      {"720p30", 960, 720, 30, 1, 1, 3000},
      {"480p30", 640, 480, 30, 1, 1, 1500},
      {"360p30", 480, 360, 30, 1, 1, 800},
      {"160p30", 214, 160, 30, 1, 1, 300}}},
    /* NTSC DVD 16:9: 720x480 shown as 853.3x480; never wider than that. */
    {"anamorphic 720x480 SAR 32:27",
     {720, 480, 30000, 1001, 32, 27, 0},
     4,
     {{"source", 720, 480, 30000, 1001, 1, 0},
      {"480p30", 852, 480, 30000, 1001, 1, 1499},
      {"360p30", 640, 360, 30000, 1001, 1, 799},
      {"160p30", 284, 160, 30000, 1001, 1, 300}}},
};

static void test_default_profile_fits(void **state)
{
    (void)state;
    ladder_profile_t p = default_profile();
    for (size_t i = 0; i < sizeof(default_cases) / sizeof(*default_cases);
         i++) {
        const fit_case_t *c = &default_cases[i];
        ladder_t l;
        print_message("case: %s\n", c->what);
        assert_int_equal(ladder_apply(&p, &c->src, &l), 0);
        check_ladder(c->what, &l, c->n, c->r);
    }
}

static void test_default_profile_parses(void **state)
{
    (void)state;
    ladder_profile_t p = default_profile();
    assert_string_equal(p.name, "default");
    assert_int_equal(p.nrungs, 7);
    assert_true(p.rungs[0].remux);
    assert_string_equal(p.rungs[0].name, "source");
    static const struct {
        int height, fps, min_source_fps, kbps;
        const char *profile;
    } want[] = {{1080, 60, 30, 6000, "high"}, {720, 60, 30, 4500, "high"},
                {720, 30, 0, 3000, "high"},   {480, 30, 0, 1500, "high"},
                {360, 30, 0, 800, "high"},    {160, 30, 0, 300, "main"}};
    for (int i = 0; i < 6; i++) {
        const ladder_rung_t *r = &p.rungs[i + 1];
        assert_false(r->remux);
        assert_int_equal(r->height, want[i].height);
        assert_int_equal(r->width, 0);
        assert_int_equal(r->fps, want[i].fps);
        assert_int_equal(r->min_source_fps, want[i].min_source_fps);
        assert_int_equal(r->bitrate_kbps, want[i].kbps);
        assert_int_equal(r->codec, LADDER_CODEC_H264);
        assert_string_equal(r->profile, want[i].profile);
    }
}

static void test_default_matches_file(void **state)
{
    (void)state;
    const char *dir = getenv("PRISM_SOURCE_DIR");
    assert_non_null(dir);
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s/ladders/default.json", dir);
    ladder_profile_t from_file, embedded = default_profile();
    assert_int_equal(ladder_profile_load(path, &from_file, err, sizeof(err)),
                     0);
    assert_memory_equal(&from_file, &embedded, sizeof(embedded));

    assert_int_equal(ladder_profile_load("/nonexistent/ladder.json", &from_file,
                                         err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/ladder.json"));
}

static void test_sizes_even_and_never_upscaled(void **state)
{
    (void)state;
    ladder_profile_t p = default_profile();
    static const int sizes[][4] = {
        {1920, 1080, 0, 0}, {853, 481, 0, 0},   {1081, 1921, 0, 0},
        {1279, 719, 0, 0},  {721, 405, 0, 0},   {1440, 1080, 4, 3},
        {720, 576, 16, 11}, {720, 480, 8, 9},   {640, 480, 0, 0},
        {2560, 1080, 0, 0}, {3840, 2160, 0, 0}, {161, 161, 0, 0},
        {333, 1000, 0, 0},  {1000, 333, 0, 0},  {1920, 1080, 1, 2},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        ladder_source_t src = {sizes[i][0], sizes[i][1], 60, 1,
                               sizes[i][2], sizes[i][3], 0};
        double sar = sizes[i][2] ? (double)sizes[i][2] / sizes[i][3] : 1.0;
        double dw = src.width * sar, dh = src.height;
        double src_short = dw < dh ? dw : dh;
        double src_long = dw < dh ? dh : dw;
        ladder_t l;
        assert_int_equal(ladder_apply(&p, &src, &l), 0);
        assert_true(l.n >= 2); /* source and at least 160p */
        for (int j = 0; j < l.n; j++) {
            const ladder_rendition_t *r = &l.r[j];
            if (r->remux)
                continue;
            int s = r->width < r->height ? r->width : r->height;
            int lg = r->width < r->height ? r->height : r->width;
            print_message("%dx%d -> %s %dx%d\n", src.width, src.height, r->name,
                          r->width, r->height);
            assert_int_equal(r->width % 2, 0);
            assert_int_equal(r->height % 2, 0);
            assert_true(r->width >= 2 && r->height >= 2);
            assert_true(s <= src_short);
            assert_true(lg <= src_long);
            /* The display aspect ratio is kept to within rounding. */
            double want = src_long / src_short * s;
            assert_true(lg >= want - 2.0 && lg <= want + 2.0);
            /* Orientation follows the display. */
            assert_int_equal(r->width < r->height, dw < dh);
        }
    }
}

/* A hand-written profile that exercises what the default one does not. */
static const char *custom_json =
    "{\"name\": \"custom\", \"renditions\": ["
    "{\"height\": 720, \"fps\": 60, \"bitrate_kbps\": 4000},"
    "{\"height\": 720, \"fps\": 30, \"bitrate_kbps\": 2000, \"name\": \"dup\"},"
    "{\"height\": 540, \"fps\": 24, \"bitrate_kbps\": 2400, \"codec\": "
    "\"hevc\"},"
    "{\"name\": \"low\", \"width\": 640, \"fps\": 15, \"bitrate_kbps\": 600, "
    "\"codec\": \"av1\"},"
    "{\"height\": 480, \"width\": 480, \"fps\": 30, \"bitrate_kbps\": 900},"
    "{\"height\": 1080, \"fps\": 30, \"bitrate_kbps\": 5000}"
    "]}";

static void test_custom_profile_rules(void **state)
{
    (void)state;
    ladder_profile_t p;
    char err[256] = "";
    assert_int_equal(ladder_profile_parse(custom_json, &p, err, sizeof(err)),
                     0);
    ladder_source_t src = {1280, 720, 30, 1, 0, 0, 0};
    ladder_t l;
    assert_int_equal(ladder_apply(&p, &src, &l), 0);
    /* The 60 fps rung has no min_source_fps: on a 30 fps source it becomes
       720p30 with its bitrate halved; the "dup" rung is then the same output
       and goes. 24 fps from 30 needs k = 2: 15 fps. The width-only rung
       bounds the long side; the box rung (480x480) is bound by its width.
       1080 would upscale. */
    static const want_t want[] = {
        {"720p30", 1280, 720, 30, 1, 1, 2000},
        {"540p15", 960, 540, 15, 1, 2, 1500},
        {"low", 640, 360, 15, 1, 2, 600},
        {"270p30", 480, 270, 30, 1, 1, 900},
    };
    check_ladder("custom", &l, 4, want);
    assert_int_equal(l.r[1].codec, LADDER_CODEC_HEVC);
    assert_int_equal(l.r[2].codec, LADDER_CODEC_AV1);

    ladder_cost_t c;
    ladder_cost(&l, &src, &c);
    assert_int_equal(c.sessions, 4);
    assert_int_equal(c.codecs, (1u << LADDER_CODEC_H264) |
                                   (1u << LADDER_CODEC_HEVC) |
                                   (1u << LADDER_CODEC_AV1));
    assert_int_equal(c.encode_pixels, 1280ull * 720 * 30 + 960ull * 540 * 15 +
                                          640ull * 360 * 15 +
                                          480ull * 270 * 30);
    assert_int_equal(c.decode_pixels, 1280ull * 720 * 30);
}

static void test_bitrate_scales_with_fps(void **state)
{
    (void)state;
    static const struct {
        int num, den, rung_fps, kbps, want_kbps;
    } cases[] = {
        {60, 1, 60, 6000, 6000},       {50, 1, 60, 6000, 5000},
        {60000, 1001, 60, 6000, 5994}, {30000, 1001, 30, 3000, 2997},
        {25, 1, 30, 3000, 2500},       {24, 1, 30, 1000, 800},
        {60, 1, 30, 3000, 3000},       {50, 1, 30, 800, 667},
        {120, 1, 30, 1000, 1000},      {15, 1, 30, 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ladder_profile_t p;
        memset(&p, 0, sizeof(p));
        snprintf(p.name, sizeof(p.name), "one");
        p.nrungs = 1;
        p.rungs[0].height = 360;
        p.rungs[0].fps = cases[i].rung_fps;
        p.rungs[0].bitrate_kbps = cases[i].kbps;
        ladder_source_t src = {640, 360, cases[i].num, cases[i].den, 0, 0, 0};
        ladder_t l;
        assert_int_equal(ladder_apply(&p, &src, &l), 0);
        assert_int_equal(l.n, 1);
        print_message("%d/%d rung %d: %d kbps\n", cases[i].num, cases[i].den,
                      cases[i].rung_fps, l.r[0].bitrate_kbps);
        assert_int_equal(l.r[0].bitrate_kbps, cases[i].want_kbps);
        assert_true(ladder_rendition_fps(&l.r[0]) <= cases[i].rung_fps * 1.01);
    }
}

static void test_cost(void **state)
{
    (void)state;
    ladder_profile_t p = default_profile();
    static const struct {
        ladder_source_t src;
        uint64_t encode, decode;
        int sessions;
    } cases[] = {
        /* 1920*1080*60 + 1280*720*60 + 1280*720*30 + 854*480*30 +
           640*360*30 + 284*160*30 */
        {{1920, 1080, 60, 1, 0, 0, 0}, 227932800, 124416000, 6},
        /* The same at 60000/1001, each rendition rounded to a pixel. */
        {{1920, 1080, 60000, 1001, 0, 0, 0}, 227705095, 124291708, 6},
        /* 1280*720*30 + 854*480*30 + 640*360*30 + 284*160*30 */
        {{1920, 1080, 30, 1, 0, 0, 0}, 48220800, 62208000, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ladder_t l;
        ladder_cost_t c;
        assert_int_equal(ladder_apply(&p, &cases[i].src, &l), 0);
        ladder_cost(&l, &cases[i].src, &c);
        assert_int_equal(c.encode_pixels, cases[i].encode);
        assert_int_equal(c.decode_pixels, cases[i].decode);
        assert_int_equal(c.sessions, cases[i].sessions);
        assert_int_equal(c.codecs, 1u << LADDER_CODEC_H264);
    }

    /* A source-only ladder costs nothing, not even a decode. */
    ladder_profile_t remux_only;
    char err[256];
    assert_int_equal(ladder_profile_parse(
                         "{\"name\":\"r\",\"renditions\":[{\"remux\":true}]}",
                         &remux_only, err, sizeof(err)),
                     0);
    ladder_t l;
    ladder_cost_t c;
    ladder_source_t src = {1920, 1080, 60, 1, 0, 0, 8000};
    assert_int_equal(ladder_apply(&remux_only, &src, &l), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.r[0].remux);
    assert_int_equal(l.r[0].bitrate_kbps, 8000);
    ladder_cost(&l, &src, &c);
    assert_int_equal(c.encode_pixels, 0);
    assert_int_equal(c.decode_pixels, 0);
    assert_int_equal(c.sessions, 0);
    assert_int_equal(c.codecs, 0);
}

static void test_bad_source(void **state)
{
    (void)state;
    ladder_profile_t p = default_profile();
    ladder_t l;
    ladder_source_t none = {0, 0, 30, 1, 0, 0, 0};
    ladder_source_t neg = {-2, 720, 30, 1, 0, 0, 0};
    assert_int_equal(ladder_apply(&p, &none, &l), -EINVAL);
    assert_int_equal(ladder_apply(&p, &neg, &l), -EINVAL);
    assert_int_equal(l.n, 0);
}

/* Each bad profile and a piece of the message it must give. */
static const struct {
    const char *json;
    const char *want;
} bad_profiles[] = {
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true},"
     "{\"height\":720,\"fps\":30,\"bitrate_kbps\":1,\"colour\":1}]}",
     "renditions[1].colour: unknown field"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":-720,\"fps\":30,"
     "\"bitrate_kbps\":100}]}",
     "renditions[0].height"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"bitrate_kbps\":0}]}",
     "renditions[0].bitrate_kbps"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30}]}",
     "renditions[0].bitrate_kbps"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true},{\"remux\":true},"
     "{\"height\":720,\"fps\":-30,\"bitrate_kbps\":10}]}",
     "renditions[2].fps"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"min_source_fps\":-1,\"bitrate_kbps\":10}]}",
     "renditions[0].min_source_fps"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"bitrate_kbps\":10,\"codec\":\"vp9\"}]}",
     "renditions[0].codec"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true,\"height\":720}]}",
     "renditions[0].height: not allowed on a remux rung"},
    {"{\"name\":\"x\",\"renditions\":[{\"fps\":30,\"bitrate_kbps\":10}]}",
     "renditions[0].height"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":\"720\",\"fps\":30,"
     "\"bitrate_kbps\":10}]}",
     "renditions[0].height: must be an integer"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":1}]}", "renditions[0].remux"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true,"
     "\"name\":\"a name far too long for a rendition\"}]}",
     "renditions[0].name"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"bitrate_kbps\":10,\"profile\":\"constrained-baseline-x\"}]}",
     "renditions[0].profile"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"bitrate_kbps\":10,\"profile\":\"high10\"}]}",
     "renditions[0].profile: \"high10\" is not a h264 profile every backend "
     "can encode (baseline, constrained_baseline, main, high, or none)"},
    {"{\"name\":\"x\",\"renditions\":[{\"height\":720,\"fps\":30,"
     "\"bitrate_kbps\":10,\"codec\":\"hevc\",\"profile\":\"main10\"}]}",
     "renditions[0].profile: \"main10\" is not a hevc profile"},
    {"{\"name\":\"x\",\"renditions\":[]}", "renditions"},
    {"{\"name\":\"x\"}", "renditions"},
    {"{\"renditions\":[{\"remux\":true}]}", "name"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true}],\"extra\":1}",
     "extra: unknown field"},
    {"{\"name\":\"x\",\"renditions\":[{\"remux\":true},]}", "line 1"},
    {"[1, 2]", "object"},
};

static void test_parse_errors_name_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_profiles) / sizeof(*bad_profiles); i++) {
        ladder_profile_t p;
        char err[256] = "";
        print_message("bad: %s\n", bad_profiles[i].json);
        assert_int_equal(
            ladder_profile_parse(bad_profiles[i].json, &p, err, sizeof(err)),
            -EINVAL);
        print_message("  -> %s\n", err);
        assert_non_null(strstr(err, bad_profiles[i].want));
    }
}

static void test_too_many_rungs(void **state)
{
    (void)state;
    char json[4096];
    size_t off = (size_t)snprintf(json, sizeof(json),
                                  "{\"name\":\"big\",\"renditions\":[");
    for (int i = 0; i <= LADDER_MAX_RUNGS; i++)
        off += (size_t)snprintf(json + off, sizeof(json) - off,
                                "%s{\"height\":%d,\"fps\":30,"
                                "\"bitrate_kbps\":100}",
                                i ? "," : "", 100 + 2 * i);
    snprintf(json + off, sizeof(json) - off, "]}");
    ladder_profile_t p;
    char err[256] = "";
    assert_int_equal(ladder_profile_parse(json, &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "renditions: at most 16"));

    /* Exactly LADDER_MAX_RUNGS is fine. */
    char *last = strrchr(json, '{');
    snprintf(last - 1, sizeof(json) - (size_t)(last - 1 - json), "]}");
    assert_int_equal(ladder_profile_parse(json, &p, err, sizeof(err)), 0);
    assert_int_equal(p.nrungs, LADDER_MAX_RUNGS);
}

static void test_codec_names(void **state)
{
    (void)state;
    static const ladder_codec_t all[] = {LADDER_CODEC_H264, LADDER_CODEC_HEVC,
                                         LADDER_CODEC_AV1};
    for (size_t i = 0; i < 3; i++) {
        ladder_codec_t c;
        assert_int_equal(ladder_codec_parse(ladder_codec_name(all[i]), &c), 0);
        assert_int_equal(c, all[i]);
    }
    assert_string_equal(ladder_codec_name(LADDER_CODEC_HEVC), "hevc");
    ladder_codec_t c;
    assert_int_equal(ladder_codec_parse("vp9", &c), -EINVAL);
}

TEST_MAIN(cmocka_unit_test(test_default_profile_parses),
          cmocka_unit_test(test_default_matches_file),
          cmocka_unit_test(test_default_profile_fits),
          cmocka_unit_test(test_sizes_even_and_never_upscaled),
          cmocka_unit_test(test_custom_profile_rules),
          cmocka_unit_test(test_bitrate_scales_with_fps),
          cmocka_unit_test(test_cost), cmocka_unit_test(test_bad_source),
          cmocka_unit_test(test_parse_errors_name_field),
          cmocka_unit_test(test_too_many_rungs),
          cmocka_unit_test(test_codec_names))
