/* Tests for tools/hls_check: one hand-made playlist per broken rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "hls_check.h"
#include "test_main.h"

/* A live media playlist as the worker writes it: valid. */
static const char good_media[] = "#EXTM3U\n"
                                 "#EXT-X-VERSION:3\n"
                                 "#EXT-X-TARGETDURATION:2\n"
                                 "#EXT-X-MEDIA-SEQUENCE:10\n"
                                 "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                                 "#EXTINF:2.000,\n"
                                 "seg10.ts\n"
                                 "#EXT-X-DISCONTINUITY\n"
                                 "#EXTINF:2.000,\n"
                                 "seg11.ts\n"
                                 "#EXTINF:1.960,\n"
                                 "seg12.ts\n"
                                 "#EXTINF:2.040,\n"
                                 "seg13.ts\n";

static const char good_master[] =
    "#EXTM3U\n"
    "#EXT-X-VERSION:3\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,"
    "RESOLUTION=640x360,FRAME-RATE=30.000,CODECS=\"avc1.64001e,mp4a.40.2\"\n"
    "source/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,"
    "CODECS=\"avc1.4d4015,mp4a.40.2\"\n"
    "240p30/index.m3u8\n";

/* The rules a media playlist breaks (report in *r, media in *m). */
static hls_report_t *media(const char *text, hls_media_t **mp)
{
    hls_report_t *r = calloc(1, sizeof(*r));
    hls_media_t *m = calloc(1, sizeof(*m));
    assert_non_null(r);
    assert_non_null(m);
    hls_check_media(text, m, r);
    for (int i = 0; i < r->n; i++)
        fprintf(stderr, "  %d: %s: %s\n", r->p[i].line, r->p[i].rule,
                r->p[i].text);
    if (mp)
        *mp = m;
    else
        free(m);
    return r;
}

static hls_report_t *master(const char *text, hls_master_t **mp)
{
    hls_report_t *r = calloc(1, sizeof(*r));
    hls_master_t *m = calloc(1, sizeof(*m));
    assert_non_null(r);
    assert_non_null(m);
    hls_check_master(text, m, r);
    for (int i = 0; i < r->n; i++)
        fprintf(stderr, "  %d: %s: %s\n", r->p[i].line, r->p[i].rule,
                r->p[i].text);
    if (mp)
        *mp = m;
    else
        free(m);
    return r;
}

/* The good media playlist with the text `from` replaced by `to`. */
static char *edit(const char *text, const char *from, const char *to)
{
    char *out = fixture_text_edit(text, from, to);
    assert_non_null(out);
    return out;
}

/* Asserts that the media playlist (good_media edited) breaks exactly the
 * rule named, and nothing else. */
static void expect_media_rule(const char *from, const char *to,
                              const char *rule)
{
    char *text = edit(good_media, from, to);
    hls_report_t *r = media(text, NULL);
    assert_true(hls_report_has(r, rule));
    for (int i = 0; i < r->n; i++)
        assert_string_equal(r->p[i].rule, rule);
    free(r);
    free(text);
}

static void expect_master_rule(const char *from, const char *to,
                               const char *rule)
{
    char *text = edit(good_master, from, to);
    hls_report_t *r = master(text, NULL);
    assert_true(hls_report_has(r, rule));
    for (int i = 0; i < r->n; i++)
        assert_string_equal(r->p[i].rule, rule);
    free(r);
    free(text);
}

static void test_good_playlists_pass(void **state)
{
    (void)state;
    hls_media_t *m;
    hls_report_t *r = media(good_media, &m);
    assert_int_equal(r->n, 0);
    assert_int_equal(m->nseg, 4);
    assert_int_equal(m->media_seq, 10);
    assert_int_equal(m->disc_seq, 1);
    assert_int_equal(m->target, 2);
    assert_true(m->seg[1].discontinuity);
    assert_string_equal(m->seg[3].uri, "seg13.ts");
    free(r);
    free(m);
    hls_master_t *ms;
    r = master(good_master, &ms);
    assert_int_equal(r->n, 0);
    assert_int_equal(ms->nvar, 2);
    assert_int_equal(ms->var[0].bandwidth, 900000);
    assert_int_equal(ms->var[0].average, 700000);
    assert_int_equal(ms->var[1].average, -1);
    assert_string_equal(ms->var[1].codecs, "avc1.4d4015,mp4a.40.2");
    free(r);
    free(ms);
    assert_int_equal(hls_check_kind(good_media), HLS_KIND_MEDIA);
    assert_int_equal(hls_check_kind(good_master), HLS_KIND_MASTER);
    /* CR LF line ends and comments are fine. */
    char *crlf = edit(good_media, "seg12.ts\n", "seg12.ts\r\n# note\r\n");
    r = media(crlf, NULL);
    assert_int_equal(r->n, 0);
    free(r);
    free(crlf);
}

/* 4.3.1.1: EXTM3U is the first line. */
static void test_extm3u_first(void **state)
{
    (void)state;
    expect_media_rule("#EXTM3U\n", "#EXT-X-FOO\n#EXTM3U\n", "extm3u");
    expect_master_rule("#EXTM3U\n", "", "extm3u");
}

/* 4.1: no BOM, no control characters. */
static void test_encoding(void **state)
{
    (void)state;
    expect_media_rule("seg12.ts", "seg\t12.ts", "encoding");
}

/* 4.3.3.1: EXT-X-TARGETDURATION is required. */
static void test_targetduration_required(void **state)
{
    (void)state;
    expect_media_rule("#EXT-X-TARGETDURATION:2\n", "",
                      "targetduration-required");
}

/* 4.3.3.1: every EXTINF, rounded, is at most the target duration. */
static void test_targetduration(void **state)
{
    (void)state;
    expect_media_rule("#EXTINF:2.040,", "#EXTINF:2.500,", "targetduration");
    /* 2.49 rounds to 2: fine. */
    char *text = edit(good_media, "#EXTINF:2.040,", "#EXTINF:2.49,");
    hls_report_t *r = media(text, NULL);
    assert_int_equal(r->n, 0);
    free(r);
    free(text);
}

/* 4.3.2.1: #EXTINF:<duration>,[<title>]. */
static void test_extinf_syntax(void **state)
{
    (void)state;
    expect_media_rule("#EXTINF:1.960,", "#EXTINF:1.960", "extinf");
    expect_media_rule("#EXTINF:1.960,", "#EXTINF:-1,", "extinf");
}

/* 4.3.2: each segment is its tags then a URI line; EXTINF is required
 * for each segment. */
static void test_uri_lines(void **state)
{
    (void)state;
    expect_media_rule("#EXTINF:1.960,\n", "", "uri");
    expect_media_rule("seg12.ts\n", "", "uri");
}

/* 4.3.3.2: EXT-X-MEDIA-SEQUENCE before the first segment. */
static void test_media_sequence_position(void **state)
{
    (void)state;
    char *a = edit(good_media, "#EXT-X-MEDIA-SEQUENCE:10\n", "");
    char *b = edit(a, "seg10.ts\n", "seg10.ts\n#EXT-X-MEDIA-SEQUENCE:10\n");
    hls_report_t *r = media(b, NULL);
    assert_true(hls_report_has(r, "media-sequence-position"));
    assert_int_equal(r->n, 1);
    free(r);
    free(a);
    free(b);
}

/* 4.3.3.3: EXT-X-DISCONTINUITY-SEQUENCE before the first segment and
 * any EXT-X-DISCONTINUITY. */
static void test_discontinuity_sequence_position(void **state)
{
    (void)state;
    char *a = edit(good_media, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n", "");
    char *b =
        edit(a, "seg11.ts\n", "seg11.ts\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n");
    hls_report_t *r = media(b, NULL);
    assert_true(hls_report_has(r, "discontinuity-sequence-position"));
    assert_int_equal(r->n, 1);
    free(r);
    free(a);
    free(b);
}

/* Prism's rule: a discontinuity comes with its sequence number. */
static void test_discontinuity_sequence_required(void **state)
{
    (void)state;
    expect_media_rule("#EXT-X-DISCONTINUITY-SEQUENCE:1\n", "",
                      "discontinuity-sequence-required");
}

/* 4.3.3: media playlist tags appear once; 4.3.1.2: EXT-X-VERSION once. */
static void test_tag_once(void **state)
{
    (void)state;
    expect_media_rule("#EXT-X-TARGETDURATION:2\n",
                      "#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2\n",
                      "tag-once");
    expect_media_rule("#EXT-X-VERSION:3\n",
                      "#EXT-X-VERSION:3\n#EXT-X-VERSION:3\n", "tag-once");
    expect_media_rule("seg13.ts\n",
                      "seg13.ts\n#EXT-X-ENDLIST\n#EXT-X-ENDLIST\n", "tag-once");
}

/* Tag values: integers are decimal-integers, tags without a value have
 * none, EXT-X-PLAYLIST-TYPE is EVENT or VOD. */
static void test_tag_syntax(void **state)
{
    (void)state;
    expect_media_rule("#EXT-X-MEDIA-SEQUENCE:10", "#EXT-X-MEDIA-SEQUENCE:-1",
                      "tag-syntax");
    expect_media_rule("#EXT-X-DISCONTINUITY\n", "#EXT-X-DISCONTINUITY:1\n",
                      "tag-syntax");
    expect_media_rule("#EXT-X-VERSION:3\n",
                      "#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:LIVE\n",
                      "tag-syntax");
}

/* Section 7: floating-point EXTINF needs version 3, EXT-X-MAP 6. */
static void test_version(void **state)
{
    (void)state;
    expect_media_rule("#EXT-X-VERSION:3\n", "#EXT-X-VERSION:2\n", "version");
    expect_media_rule("#EXT-X-VERSION:3\n", "", "version");
    expect_media_rule("#EXT-X-DISCONTINUITY-SEQUENCE:1\n",
                      "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                      "#EXT-X-MAP:URI=\"init.mp4\"\n",
                      "version");
    expect_master_rule("#EXT-X-INDEPENDENT-SEGMENTS\n",
                       "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\","
                       "NAME=\"en\",INSTREAM-ID=\"SERVICE1\"\n",
                       "version");
}

/* 4.1: a playlist is media or master, not both. */
static void test_mixed(void **state)
{
    (void)state;
    expect_media_rule("seg13.ts\n",
                      "seg13.ts\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\","
                      "NAME=\"a\"\n",
                      "mixed");
    expect_master_rule("#EXT-X-INDEPENDENT-SEGMENTS\n",
                       "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:2\n",
                       "mixed");
}

/* 4.2: attribute-list syntax, no attribute twice. */
static void test_attribute_list(void **state)
{
    (void)state;
    expect_master_rule("BANDWIDTH=400000,", "BANDWIDTH=400000,BANDWIDTH=1,",
                       "attribute-list");
    expect_master_rule("CODECS=\"avc1.4d4015,mp4a.40.2\"",
                       "CODECS=\"avc1.4d4015,mp4a.40.2", "attribute-list");
    expect_master_rule("RESOLUTION=426x240", "resolution=426x240",
                       "attribute-list");
    expect_media_rule("#EXT-X-DISCONTINUITY-SEQUENCE:1\n",
                      "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-KEY:METHOD=NONE,"
                      "\n",
                      "attribute-list");
}

/* 4.3.4.2: BANDWIDTH is required in EXT-X-STREAM-INF. */
static void test_stream_inf_bandwidth(void **state)
{
    (void)state;
    expect_master_rule("BANDWIDTH=400000,", "", "stream-inf-bandwidth");
}

/* Attribute values have their types: decimal-integer, -resolution,
 * -floating-point, quoted-string. */
static void test_attribute_value(void **state)
{
    (void)state;
    expect_master_rule("BANDWIDTH=400000", "BANDWIDTH=400k", "attribute-value");
    expect_master_rule("RESOLUTION=426x240", "RESOLUTION=426",
                       "attribute-value");
    expect_master_rule("FRAME-RATE=30.000", "FRAME-RATE=thirty",
                       "attribute-value");
}

/* 4.3.4.2: the URI line follows EXT-X-STREAM-INF. */
static void test_stream_inf_uri(void **state)
{
    (void)state;
    expect_master_rule("240p30/index.m3u8\n", "", "stream-inf-uri");
    expect_master_rule("source/index.m3u8\n", "#EXT-X-INDEPENDENT-SEGMENTS\n",
                       "stream-inf-uri");
    expect_master_rule("#EXT-X-INDEPENDENT-SEGMENTS\n",
                       "#EXT-X-INDEPENDENT-SEGMENTS\nstray.m3u8\n", "uri");
}

/* 4.3.4.1: EXT-X-MEDIA has TYPE, GROUP-ID and NAME; a STREAM-INF AUDIO
 * group exists. */
static void test_media_and_groups(void **state)
{
    (void)state;
    expect_master_rule("#EXT-X-INDEPENDENT-SEGMENTS\n",
                       "#EXT-X-INDEPENDENT-SEGMENTS\n"
                       "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"en\",URI=\"a.m3u8\"\n",
                       "media-required");
    expect_master_rule("BANDWIDTH=400000,", "BANDWIDTH=400000,AUDIO=\"aac\",",
                       "group");
    char *ok = edit(good_master, "#EXT-X-INDEPENDENT-SEGMENTS\n",
                    "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MEDIA:TYPE=AUDIO,"
                    "GROUP-ID=\"aac\",NAME=\"en\",URI=\"a.m3u8\"\n");
    char *text =
        edit(ok, "BANDWIDTH=400000,", "BANDWIDTH=400000,AUDIO=\"aac\",");
    hls_report_t *r = master(text, NULL);
    assert_int_equal(r->n, 0);
    free(r);
    free(text);
    free(ok);
}

/* 6.2.2: a live playlist keeps three target durations after removals. */
static void test_window(void **state)
{
    (void)state;
    char *a = edit(good_media, "#EXTINF:1.960,\nseg12.ts\n", "");
    char *b = edit(a, "#EXTINF:2.040,\nseg13.ts\n", "");
    hls_report_t *r = media(b, NULL);
    assert_true(hls_report_has(r, "window"));
    assert_int_equal(r->n, 1);
    free(r);
    free(a);
    /* The same window with EXT-X-ENDLIST is fine. */
    a = edit(b, "seg11.ts\n", "seg11.ts\n#EXT-X-ENDLIST\n");
    r = media(a, NULL);
    assert_int_equal(r->n, 0);
    free(r);
    free(a);
    free(b);
}

/* Snapshot pairs: prev, then cur; the rules cur breaks as an update. */
static hls_report_t *update(const char *prev, const char *cur)
{
    hls_media_t *p, *c;
    hls_report_t *r1 = media(prev, &p), *r2 = media(cur, &c);
    assert_int_equal(r1->n, 0);
    hls_report_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    hls_check_media_update(p, c, r);
    for (int i = 0; i < r->n; i++)
        fprintf(stderr, "  update: %s: %s\n", r->p[i].rule, r->p[i].text);
    free(p);
    free(c);
    free(r1);
    free(r2);
    return r;
}

static const char next_media[] = "#EXTM3U\n"
                                 "#EXT-X-VERSION:3\n"
                                 "#EXT-X-TARGETDURATION:2\n"
                                 "#EXT-X-MEDIA-SEQUENCE:11\n"
                                 "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                                 "#EXT-X-DISCONTINUITY\n"
                                 "#EXTINF:2.000,\n"
                                 "seg11.ts\n"
                                 "#EXTINF:1.960,\n"
                                 "seg12.ts\n"
                                 "#EXTINF:2.040,\n"
                                 "seg13.ts\n"
                                 "#EXTINF:2.000,\n"
                                 "seg14.ts\n";

static void expect_update_rule(const char *prev, const char *cur,
                               const char *rule)
{
    hls_report_t *r = update(prev, cur);
    assert_true(hls_report_has(r, rule));
    for (int i = 0; i < r->n; i++)
        assert_string_equal(r->p[i].rule, rule);
    free(r);
}

static void test_update_good(void **state)
{
    (void)state;
    hls_report_t *r = update(good_media, next_media);
    assert_int_equal(r->n, 0);
    free(r);
    /* The discontinuity leaves: the sequence grows by one. */
    char *a = edit(next_media,
                   "#EXT-X-MEDIA-SEQUENCE:11\n"
                   "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                   "#EXT-X-DISCONTINUITY\n"
                   "#EXTINF:2.000,\n"
                   "seg11.ts\n",
                   "#EXT-X-MEDIA-SEQUENCE:12\n"
                   "#EXT-X-DISCONTINUITY-SEQUENCE:2\n");
    r = update(next_media, a);
    assert_int_equal(r->n, 0);
    free(r);
    /* Unchanged, and EXT-X-ENDLIST added: fine. */
    r = update(next_media, next_media);
    assert_int_equal(r->n, 0);
    free(r);
    char *end = edit(a, "seg14.ts\n", "seg14.ts\n#EXT-X-ENDLIST\n");
    r = update(a, end);
    assert_int_equal(r->n, 0);
    free(r);
    free(end);
    free(a);
}

/* 6.2.1: the media sequence never goes back. */
static void test_update_media_sequence_back(void **state)
{
    (void)state;
    expect_update_rule(next_media, good_media, "media-sequence-back");
}

/* 6.2.1: the discontinuity sequence never goes back. */
static void test_update_discontinuity_sequence_back(void **state)
{
    (void)state;
    char *a = edit(next_media, "#EXT-X-DISCONTINUITY-SEQUENCE:1",
                   "#EXT-X-DISCONTINUITY-SEQUENCE:0");
    expect_update_rule(good_media, a, "discontinuity-sequence-back");
    free(a);
}

/* 6.2.1: it grows by exactly the discontinuities that left. */
static void test_update_discontinuity_sequence_count(void **state)
{
    (void)state;
    /* The discontinuity leaves but the sequence stays. */
    char *a = edit(next_media,
                   "#EXT-X-MEDIA-SEQUENCE:11\n"
                   "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                   "#EXT-X-DISCONTINUITY\n"
                   "#EXTINF:2.000,\n"
                   "seg11.ts\n",
                   "#EXT-X-MEDIA-SEQUENCE:12\n"
                   "#EXT-X-DISCONTINUITY-SEQUENCE:1\n");
    expect_update_rule(next_media, a, "discontinuity-sequence-count");
    /* No discontinuity leaves but the sequence grows. */
    char *b = edit(next_media, "#EXT-X-DISCONTINUITY-SEQUENCE:1",
                   "#EXT-X-DISCONTINUITY-SEQUENCE:2");
    expect_update_rule(good_media, b, "discontinuity-sequence-count");
    free(a);
    free(b);
}

/* 6.2.1: a segment keeps its URI (and duration, discontinuity). */
static void test_update_segment_changed(void **state)
{
    (void)state;
    char *a = edit(next_media, "seg12.ts", "other12.ts");
    expect_update_rule(good_media, a, "segment-changed");
    char *b = edit(next_media, "#EXTINF:1.960,", "#EXTINF:1.900,");
    expect_update_rule(good_media, b, "segment-changed");
    free(a);
    free(b);
}

/* 6.2.1: the target duration does not change. */
static void test_update_targetduration_changed(void **state)
{
    (void)state;
    char *a =
        edit(next_media, "#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:3");
    expect_update_rule(good_media, a, "targetduration-changed");
    free(a);
}

/* 6.2.1: nothing changes after EXT-X-ENDLIST. */
static void test_update_after_endlist(void **state)
{
    (void)state;
    char *a = edit(good_media, "seg13.ts\n", "seg13.ts\n#EXT-X-ENDLIST\n");
    expect_update_rule(a, next_media, "after-endlist");
    free(a);
}

/* CODECS names the profile and level of the video and the AAC object
 * type of the audio. */
static void test_codecs(void **state)
{
    (void)state;
    hls_master_t *m;
    hls_report_t *r = master(good_master, &m);
    free(r);
    const hls_variant_info_t *v = hls_check_variant(m, "240p30/index.m3u8");
    assert_non_null(v);
    r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(hls_check_codecs(v, "Main", 21, "LC", r), 0);
    assert_int_equal(hls_check_codecs(v, "High", 21, "LC", r), 1);
    assert_int_equal(hls_check_codecs(v, "Main", 30, "LC", r), 1);
    assert_int_equal(hls_check_codecs(v, "Main", 21, "HE-AAC", r), 1);
    assert_int_equal(hls_check_codecs(v, "Main", 21, NULL, r), 1);
    assert_int_equal(hls_check_codecs(v, NULL, 0, "LC", r), 1);
    assert_true(hls_report_has(r, "codecs"));
    v = hls_check_variant(m, "source/index.m3u8");
    r->n = 0;
    assert_int_equal(hls_check_codecs(v, "High", 30, "LC", r), 0);
    /* Declaring more than the video needs is no error (a decoder of High
     * 3.0 plays Main 2.1 and Constrained Baseline); less is. */
    assert_int_equal(hls_check_codecs(v, "Main", 21, "LC", r), 0);
    assert_int_equal(hls_check_codecs(v, "Constrained Baseline", 30, "LC", r),
                     0);
    assert_int_equal(hls_check_codecs(v, "High", 31, "LC", r), 1);
    assert_int_equal(hls_check_codecs(v, "High 10", 30, "LC", r), 1);
    assert_int_equal(hls_check_codecs(v, "Extended", 30, "LC", r), 1);
    assert_null(hls_check_variant(m, "nope.m3u8"));
    free(r);
    free(m);
}

/* BANDWIDTH is at least the peak segment bit rate; AVERAGE-BANDWIDTH is
 * the average one. */
static void test_bandwidth(void **state)
{
    (void)state;
    hls_master_t *m;
    hls_report_t *r = master(good_master, &m);
    free(r);
    const hls_variant_info_t *v = hls_check_variant(m, "source/index.m3u8");
    r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(hls_check_bandwidth(v, 900000, 700000, 0.1, r), 0);
    /* A bit/s of rounding is not a broken rule; 1000 bits/s is. */
    assert_int_equal(hls_check_bandwidth(v, 900001.4, 700000, 0.1, r), 0);
    assert_int_equal(hls_check_bandwidth(v, 901000, 700000, 0.1, r), 1);
    r->n = 0;
    assert_int_equal(hls_check_bandwidth(v, 950000, 700000, 0.1, r), 1);
    assert_true(hls_report_has(r, "bandwidth-peak"));
    r->n = 0;
    assert_int_equal(hls_check_bandwidth(v, 800000, 500000, 0.1, r), 1);
    assert_true(hls_report_has(r, "average-bandwidth"));
    r->n = 0;
    v = hls_check_variant(m, "240p30/index.m3u8"); /* no AVERAGE */
    assert_int_equal(hls_check_bandwidth(v, 300000, 200000, 0.1, r), 1);
    assert_true(hls_report_has(r, "average-bandwidth"));
    free(r);
    free(m);
}

/* The report keeps a bounded number of problems and counts the rest. */
static void test_report_bound(void **state)
{
    (void)state;
    char *text = malloc(100 * 12 + 64);
    assert_non_null(text);
    strcpy(text, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for (int i = 0; i < 100; i++)
        strcat(text, "stray.ts\n");
    hls_report_t *r = media(text, NULL);
    assert_int_equal(r->n, HLS_CHECK_MAX_PROBLEMS);
    assert_int_equal(r->dropped, 100 - HLS_CHECK_MAX_PROBLEMS);
    free(r);
    free(text);
}

TEST_MAIN(cmocka_unit_test(test_good_playlists_pass),
          cmocka_unit_test(test_extm3u_first), cmocka_unit_test(test_encoding),
          cmocka_unit_test(test_targetduration_required),
          cmocka_unit_test(test_targetduration),
          cmocka_unit_test(test_extinf_syntax),
          cmocka_unit_test(test_uri_lines),
          cmocka_unit_test(test_media_sequence_position),
          cmocka_unit_test(test_discontinuity_sequence_position),
          cmocka_unit_test(test_discontinuity_sequence_required),
          cmocka_unit_test(test_tag_once), cmocka_unit_test(test_tag_syntax),
          cmocka_unit_test(test_version), cmocka_unit_test(test_mixed),
          cmocka_unit_test(test_attribute_list),
          cmocka_unit_test(test_stream_inf_bandwidth),
          cmocka_unit_test(test_attribute_value),
          cmocka_unit_test(test_stream_inf_uri),
          cmocka_unit_test(test_media_and_groups),
          cmocka_unit_test(test_window), cmocka_unit_test(test_update_good),
          cmocka_unit_test(test_update_media_sequence_back),
          cmocka_unit_test(test_update_discontinuity_sequence_back),
          cmocka_unit_test(test_update_discontinuity_sequence_count),
          cmocka_unit_test(test_update_segment_changed),
          cmocka_unit_test(test_update_targetduration_changed),
          cmocka_unit_test(test_update_after_endlist),
          cmocka_unit_test(test_codecs), cmocka_unit_test(test_bandwidth),
          cmocka_unit_test(test_report_bound))
