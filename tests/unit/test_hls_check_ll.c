/* Tests for tools/hls_check_ll: a good Low-Latency playlist, and one
 * broken playlist (or snapshot pair, delta, set of renditions) per rule. */
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
#include "hls_check_ll.h"
#include "test_main.h"

/* A Low-Latency playlist as the worker writes it: segments msn0 ..
 * msn0 + nseg - 1 of 2 s (the last two with six parts of 0.33333 s),
 * then tail parts of the incomplete segment, a part preload hint and a
 * rendition report (its attribute list, or none when NULL). With skip,
 * the first skip segments are replaced by EXT-X-SKIP. */
typedef struct {
    int msn0, nseg, tail, skip;
    const char *report;
} gen_t;

/* gen's playlist, tag after the MSN in every name (Prism's "_9f3a01c2"). */
static char *gen_tagged(gen_t g, const char *tag)
{
    size_t cap = 16384, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
#define PUT(...) n += (size_t)snprintf(t + n, cap - n, __VA_ARGS__)
    PUT("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000,"
        "CAN-SKIP-UNTIL=12.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.33334\n"
        "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n",
        g.msn0);
    if (g.skip)
        PUT("#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", g.skip);
    else
        PUT("#EXT-X-MAP:URI=\"init_%05d.mp4\"\n", g.msn0);
    for (int i = g.skip; i <= g.nseg; i++) {
        int msn = g.msn0 + i;
        int parts = i == g.nseg ? g.tail : i >= g.nseg - 2 ? 6 : 0;
        if (i < g.nseg)
            PUT("#EXT-X-PROGRAM-DATE-TIME:2026-12-03T19:%02d:%02d.123Z\n",
                msn * 2 / 60, msn * 2 % 60);
        for (int k = 0; k < parts; k++)
            PUT("#EXT-X-PART:DURATION=0.33333,URI=\"seg_%05d%s.%d.m4s\"%s\n",
                msn, tag, k, k ? "" : ",INDEPENDENT=YES");
        if (i < g.nseg)
            PUT("#EXTINF:2.00000,\nseg_%05d%s.m4s\n", msn, tag);
        else
            PUT("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_%05d%s.%d.m4s\"\n",
                msn, tag, g.tail);
    }
    if (g.report)
        PUT("#EXT-X-RENDITION-REPORT:%s\n", g.report);
#undef PUT
    assert_true(n < cap);
    return t;
}

static char *gen(gen_t g)
{
    return gen_tagged(g, "");
}

/* The good playlist of the task: 40..47 complete, 48 with two parts. */
static char *good(void)
{
    return gen((gen_t){40, 8, 2, 0,
                       "URI=\"../360p30/index.m3u8\",LAST-MSN=48,LAST-PART=1"});
}

/* text with the first `from` replaced by `to` (text is freed). */
static char *edit(char *text, const char *from, const char *to)
{
    char *out = fixture_text_edit(text, from, to);
    assert_non_null(out);
    free(text);
    return out;
}

static void print(const hls_report_t *r)
{
    for (int i = 0; i < r->n; i++)
        fprintf(stderr, "  %d: %s: %s\n", r->p[i].line, r->p[i].rule,
                r->p[i].text);
}

/* Parses text (freed) into a new media playlist; the problems of the
 * playlist alone, then of opts (NULL: none) go to *rp. */
static hls_media_t *parse(char *text, const hls_ll_opts_t *opts,
                          hls_report_t **rp)
{
    hls_media_t *m = calloc(1, sizeof(*m));
    hls_report_t *r = calloc(1, sizeof(*r));
    assert_non_null(m);
    assert_non_null(r);
    hls_check_media(text, m, r);
    if (opts)
        hls_check_ll(m, opts, r);
    print(r);
    free(text);
    *rp = r;
    return m;
}

/* The number of problems text (freed) has under opts. */
static int problems(char *text, const hls_ll_opts_t *opts, const char *rule)
{
    hls_report_t *r;
    hls_media_t *m = parse(text, opts, &r);
    int n = r->n;
    if (rule && !hls_report_has(r, rule)) {
        fprintf(stderr, "  expected rule %s\n", rule);
        n = -1;
    }
    free(m);
    free(r);
    return n;
}

static void expect_rule(char *text, const hls_ll_opts_t *opts, const char *rule)
{
    assert_true(problems(text, opts, rule) > 0);
}

static void test_good_passes(void **state)
{
    (void)state;
    hls_report_t *r;
    hls_media_t *m = parse(good(), &hls_ll_prism, &r);
    assert_int_equal(r->n, 0);
    assert_int_equal(m->nseg, 8);
    assert_int_equal(m->ll.npart, 14);
    assert_int_equal(m->seg[6].nparts, 6);
    assert_true(m->ll.part[m->seg[6].first_part].independent);
    assert_int_equal(m->ll.tail_nparts, 2);
    assert_string_equal(m->ll.part[m->ll.tail_first + 1].uri,
                        "seg_00048.1.m4s");
    assert_string_equal(m->ll.hint_uri, "seg_00048.2.m4s");
    assert_true(m->ll.can_block_reload);
    assert_true(m->seg[0].has_pdt);
    assert_true(m->seg[1].pdt - m->seg[0].pdt > 1.999 &&
                m->seg[1].pdt - m->seg[0].pdt < 2.001);
    assert_int_equal(m->ll.nreport, 1);
    assert_int_equal(m->ll.report[0].last_msn, 48);
    free(m);
    free(r);
    /* A plain playlist passes the spec's rules (and not Prism's). */
    char *plain = strdup("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                         "#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n");
    char *again = strdup(plain); /* problems() frees what it is given */
    assert_int_equal(problems(plain, &hls_ll_spec, NULL), 0);
    expect_rule(again, &hls_ll_prism, "ll-required");
}

/* 4.4.3.7: EXT-X-PART-INF is REQUIRED with EXT-X-PART. */
static void test_part_inf_required(void **state)
{
    (void)state;
    expect_rule(edit(good(), "#EXT-X-PART-INF:PART-TARGET=0.33334\n", ""), NULL,
                "part-inf-required");
}

/* 4.4.4.9: a part lasts at most PART-TARGET (no tolerance), and at least
 * 85% of it unless INDEPENDENT or the last of its segment. */
static void test_part_durations(void **state)
{
    (void)state;
    expect_rule(edit(good(), "DURATION=0.33333,URI=\"seg_00048.1",
                     "DURATION=0.33335,URI=\"seg_00048.1"),
                NULL, "part-target");
    expect_rule(edit(good(), "DURATION=0.33333,URI=\"seg_00047.2",
                     "DURATION=0.20000,URI=\"seg_00047.2"),
                NULL, "part-duration-min");
    /* The last part of a segment may be short (the sum then is wrong). */
    assert_int_equal(problems(edit(edit(good(), "#EXTINF:2.00000,\nseg_00047",
                                        "#EXTINF:1.86667,\nseg_00047"),
                                   "DURATION=0.33333,URI=\"seg_00047.5",
                                   "DURATION=0.20000,URI=\"seg_00047.5"),
                              NULL, NULL),
                     0);
}

/* 3.2: a complete segment's parts last as long as it (5 ms). */
static void test_part_sum(void **state)
{
    (void)state;
    expect_rule(edit(good(), "#EXTINF:2.00000,\nseg_00047",
                     "#EXTINF:2.01000,\nseg_00047"),
                NULL, "part-sum");
    expect_rule(edit(good(), "#EXTINF:2.00000,\nseg_00047",
                     "#EXTINF:1.99000,\nseg_00047"),
                NULL, "part-sum");
    assert_int_equal(problems(edit(good(), "#EXTINF:2.00000,\nseg_00047",
                                   "#EXTINF:2.00400,\nseg_00047"),
                              NULL, NULL),
                     0);
}

/* The first part after a discontinuity is INDEPENDENT (always); that of
 * every segment with Prism's rules. */
static void test_part_independent(void **state)
{
    (void)state;
    const char *from = "seg_00047.0.m4s\",INDEPENDENT=YES";
    assert_int_equal(
        problems(edit(good(), from, "seg_00047.0.m4s\""), NULL, NULL), 0);
    expect_rule(edit(good(), from, "seg_00047.0.m4s\""), &hls_ll_prism,
                "part-independent");
    char *t = edit(good(), "#EXT-X-PART:DURATION=0.33333,URI=\"seg_00048.0",
                   "#EXT-X-DISCONTINUITY\n"
                   "#EXT-X-PART:DURATION=0.33333,URI=\"seg_00048.0");
    expect_rule(
        edit(t, "seg_00048.0.m4s\",INDEPENDENT=YES", "seg_00048.0.m4s\""), NULL,
        "part-independent");
}

/* 4.4.4.9: a segment's tags come before its first part. */
static void test_part_tag_order(void **state)
{
    (void)state;
    expect_rule(edit(good(), "#EXT-X-PART:DURATION=0.33333,URI=\"seg_00047.1",
                     "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T19:01:34.123Z\n"
                     "#EXT-X-PART:DURATION=0.33333,URI=\"seg_00047.1"),
                NULL, "part-tag-order");
}

/* The six parts of segment msn (a string), then its EXTINF. */
#define SIX_PARTS(msn)                                                         \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn                           \
    ".0.m4s\",INDEPENDENT=YES\n"                                               \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn ".1.m4s\"\n"              \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn ".2.m4s\"\n"              \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn ".3.m4s\"\n"              \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn ".4.m4s\"\n"              \
    "#EXT-X-PART:DURATION=0.33333,URI=\"seg_000" msn ".5.m4s\"\n"              \
    "#EXTINF:2.00000,\nseg_000" msn

/* 6.2.2: parts are listed only within three target durations of the end
 * (a SHOULD: Prism's rule). */
static void test_part_window(void **state)
{
    (void)state;
    hls_ll_opts_t o = hls_ll_spec;
    o.part_window = true;
    /* Segment 45 ends 4.667 s before the end: its parts may stay. */
    char *t = edit(good(), "#EXTINF:2.00000,\nseg_00045", SIX_PARTS("45"));
    assert_int_equal(problems(strdup(t), &o, NULL), 0);
    /* Segment 44 ends 6.667 s before: too old. */
    t = edit(t, "#EXTINF:2.00000,\nseg_00044", SIX_PARTS("44"));
    assert_int_equal(problems(strdup(t), &hls_ll_spec, NULL), 0);
    expect_rule(t, &o, "part-window");
}

/* 4.4.5.3: a part hint names a part to come, never after ENDLIST; with
 * Prism's naming, the next one. */
static void test_preload_hint(void **state)
{
    (void)state;
    expect_rule(
        edit(good(), "PART,URI=\"seg_00048.2", "PART,URI=\"seg_00048.1"), NULL,
        "preload-hint");
    expect_rule(edit(good(), "#EXT-X-RENDITION-REPORT",
                     "#EXT-X-ENDLIST\n"
                     "#EXT-X-RENDITION-REPORT"),
                NULL, "preload-hint");
    expect_rule(
        edit(good(), "PART,URI=\"seg_00048.2", "PART,URI=\"seg_00048.3"),
        &hls_ll_spec, "preload-hint-next");
    hls_ll_opts_t o = hls_ll_spec;
    o.naming = HLS_LL_NAMING_NONE;
    assert_int_equal(problems(edit(good(), "PART,URI=\"seg_00048.2",
                                   "PART,URI=\"seg_00048.3"),
                              &o, NULL),
                     0);
    /* No tail parts: the hint is the first part of the next segment. */
    char *t = gen((gen_t){40, 8, 0, 0, NULL});
    assert_int_equal(problems(t, &hls_ll_spec, NULL), 0);
    t = gen((gen_t){40, 8, 0, 0, NULL});
    expect_rule(edit(t, "seg_00048.0.m4s\"", "seg_00048.1.m4s\""), &hls_ll_spec,
                "preload-hint-next");
}

/* Prism's naming: <stem><MSN><tag>.<K><ext>, here with no tag. */
static void test_part_naming(void **state)
{
    (void)state;
    hls_ll_opts_t o = hls_ll_spec;
    o.naming = HLS_LL_NAMING_PRISM;
    assert_int_equal(problems(good(), &o, NULL), 0);
    expect_rule(edit(good(), "seg_00047.3.m4s", "seg_00047.9.m4s"), &o,
                "part-naming");
}

/* Prism's names carry the session's tag, which may end in digits (a tag
 * ending in the MSN's own digits was once taken for the MSN); a worker
 * that takes the stream over starts the next segment with its own tag. */
static void test_part_naming_tagged(void **state)
{
    (void)state;
    /* No tail parts; the tag ends in the last segment's MSN. */
    gen_t g = {40, 8, 0, 0, NULL};
    const char *tag = "_ff1df047";
    assert_int_equal(problems(gen_tagged(g, tag), &hls_ll_spec, NULL), 0);
    hls_ll_opts_t o = hls_ll_spec;
    o.naming = HLS_LL_NAMING_PRISM;
    assert_int_equal(problems(gen_tagged(g, tag), &o, NULL), 0);
    assert_int_equal(
        problems(gen_tagged((gen_t){40, 8, 2, 0, NULL}, "_9f3a01c2"), &o, NULL),
        0);
    assert_int_equal(problems(edit(gen_tagged(g, tag), "seg_00048_ff1df047.0",
                                   "seg_00048_0badcafe.0"),
                              &o, NULL),
                     0);
    expect_rule(edit(gen_tagged(g, tag), "seg_00048_ff1df047.0",
                     "seg_00049_ff1df047.0"),
                &hls_ll_spec, "preload-hint-next");
    /* Tail parts: the hint is the next part of that segment, same tag. */
    g.tail = 2;
    expect_rule(edit(gen_tagged(g, tag), "PART,URI=\"seg_00048_ff1df047.2",
                     "PART,URI=\"seg_00048_0badcafe.2"),
                &hls_ll_spec, "preload-hint-next");
    /* Parts named after their segment, one tag per segment. */
    expect_rule(edit(gen_tagged(g, tag), "seg_00047_ff1df047.3",
                     "seg_00047_0badcafe.3"),
                &o, "part-naming");
    expect_rule(edit(gen_tagged(g, tag), "\nseg_00047_ff1df047.m4s",
                     "\nseg_00047_0badcafe.m4s"),
                &o, "part-naming");
}

/* 4.4.3.8: PART-HOLD-BACK required, >= 2 PART-TARGETs (Prism: 3);
 * CAN-SKIP-UNTIL >= 6 and HOLD-BACK >= 3 target durations. */
static void test_server_control(void **state)
{
    (void)state;
    expect_rule(edit(good(), ",PART-HOLD-BACK=1.000", ""), NULL,
                "part-hold-back");
    expect_rule(edit(good(), "PART-HOLD-BACK=1.000", "PART-HOLD-BACK=0.660"),
                NULL, "part-hold-back");
    assert_int_equal(
        problems(edit(good(), "PART-HOLD-BACK=1.000", "PART-HOLD-BACK=0.670"),
                 &hls_ll_spec, NULL),
        0);
    expect_rule(edit(good(), "PART-HOLD-BACK=1.000", "PART-HOLD-BACK=0.990"),
                &hls_ll_prism, "part-hold-back");
    expect_rule(edit(good(), "CAN-SKIP-UNTIL=12.000", "CAN-SKIP-UNTIL=11.900"),
                NULL, "can-skip-until");
    expect_rule(edit(good(), "CAN-BLOCK-RELOAD=YES,",
                     "CAN-BLOCK-RELOAD=YES,HOLD-BACK=5.9,"),
                NULL, "hold-back");
    assert_int_equal(problems(edit(good(), "CAN-BLOCK-RELOAD=YES,",
                                   "CAN-BLOCK-RELOAD=YES,HOLD-BACK=6.0,"),
                              NULL, NULL),
                     0);
    expect_rule(edit(good(), "CAN-BLOCK-RELOAD=YES,", ""), &hls_ll_prism,
                "ll-required");
}

/* Section 8: EXT-X-SKIP needs version 9; 4.4.5.2: once, first, and only
 * with CAN-SKIP-UNTIL. */
static void test_skip_tag(void **state)
{
    (void)state;
    char *delta = gen((gen_t){41, 8, 0, 2, NULL});
    assert_int_equal(problems(strdup(delta), NULL, NULL), 0);
    expect_rule(edit(strdup(delta), "VERSION:9", "VERSION:8"), NULL, "version");
    expect_rule(edit(strdup(delta), ",CAN-SKIP-UNTIL=12.000", ""), NULL,
                "skip");
    expect_rule(edit(delta, "seg_00044.m4s\n",
                     "seg_00044.m4s\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"),
                NULL, "skip");
}

/* Successive snapshots (the first, then the second). */
static hls_report_t *update(char *a, char *b)
{
    hls_report_t *ra, *rb;
    hls_media_t *p = parse(a, NULL, &ra), *c = parse(b, NULL, &rb);
    hls_report_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(ra->n, 0);
    hls_check_media_update(p, c, r);
    hls_check_ll_update(p, c, r);
    print(r);
    free(p);
    free(c);
    free(ra);
    free(rb);
    return r;
}

static void expect_update(char *a, char *b, const char *rule)
{
    hls_report_t *r = update(a, b);
    if (rule)
        assert_true(hls_report_has(r, rule));
    else
        assert_int_equal(r->n, 0);
    free(r);
}

static void test_update(void **state)
{
    (void)state;
    /* More parts, then the segment complete, then the next one's. */
    expect_update(good(), gen((gen_t){40, 8, 3, 0, NULL}), NULL);
    expect_update(good(), gen((gen_t){40, 9, 0, 0, NULL}), NULL);
    expect_update(good(), gen((gen_t){41, 8, 1, 0, NULL}), NULL);
    /* A part changes its duration or URI. */
    expect_update(good(),
                  edit(gen((gen_t){40, 8, 3, 0, NULL}),
                       "DURATION=0.33333,URI=\"seg_00048.1",
                       "DURATION=0.30000,URI=\"seg_00048.1"),
                  "part-changed");
    expect_update(
        good(),
        edit(gen((gen_t){40, 9, 0, 0, NULL}), "seg_00048.1.m4s", "other.m4s"),
        "part-changed");
    /* The last part goes back; a part of the incomplete segment goes. */
    expect_update(gen((gen_t){40, 8, 3, 0, NULL}), good(), "part-back");
    expect_update(gen((gen_t){40, 8, 3, 0, NULL}), good(), "part-dropped");
    expect_update(gen((gen_t){40, 8, 2, 0, NULL}),
                  edit(gen((gen_t){40, 8, 3, 0, NULL}), "seg_00048.1.m4s",
                       "seg_00048.7.m4s"),
                  "part-changed");
    /* A take-over: segment 48 starts anew after a discontinuity. */
    char *t = gen((gen_t){40, 8, 0, 0, NULL});
    t = edit(t, "#EXT-X-PRELOAD-HINT",
             "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_00048.mp4\"\n"
             "#EXT-X-PART:DURATION=0.30000,URI=\"seg_00048.0.m4s\","
             "INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT");
    t = edit(t, "seg_00048.0.m4s\"\n", "seg_00048.1.m4s\"\n");
    expect_update(good(), t, NULL);
}

/* A delta (skip) applied to an earlier snapshot gives the full one. */
static hls_report_t *delta(char *base, char *d, char *full)
{
    hls_report_t *r1, *r2, *r3;
    hls_media_t *b = parse(base, NULL, &r1), *dm = parse(d, NULL, &r2),
                *f = parse(full, NULL, &r3);
    hls_report_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    hls_check_ll_delta(b, dm, f, r);
    print(r);
    free(b);
    free(dm);
    free(f);
    free(r1);
    free(r2);
    free(r3);
    return r;
}

static void test_delta(void **state)
{
    (void)state;
    hls_report_t *r = delta(good(), gen((gen_t){41, 8, 1, 2, NULL}),
                            gen((gen_t){41, 8, 1, 0, NULL}));
    assert_int_equal(r->n, 0);
    free(r);
    r = delta(good(),
              edit(gen((gen_t){41, 8, 1, 2, NULL}), "seg_00046.m4s", "x.m4s"),
              gen((gen_t){41, 8, 1, 0, NULL}));
    assert_true(hls_report_has(r, "delta-mismatch"));
    free(r);
    r = delta(good(), gen((gen_t){41, 8, 1, 2, NULL}),
              gen((gen_t){41, 8, 2, 0, NULL}));
    assert_true(hls_report_has(r, "delta-mismatch"));
    free(r);
    /* Three segments skipped: the third ends 10 s before the end. */
    r = delta(good(), gen((gen_t){41, 8, 1, 3, NULL}),
              gen((gen_t){41, 8, 1, 0, NULL}));
    assert_true(hls_report_has(r, "delta-skip-boundary"));
    free(r);
    /* The earlier snapshot starts after what the delta skipped. */
    r = delta(gen((gen_t){42, 6, 2, 0, NULL}), gen((gen_t){41, 8, 1, 2, NULL}),
              gen((gen_t){41, 8, 1, 0, NULL}));
    assert_true(hls_report_has(r, "delta-base"));
    free(r);
}

/* Rendition reports of two playlists fetched together. */
static hls_report_t *reports(char *a, char *b, bool all)
{
    hls_report_t *r1, *r2;
    const hls_media_t *pl[2];
    hls_media_t *ma = parse(a, NULL, &r1), *mb = parse(b, NULL, &r2);
    const char *uris[] = {"live/ch/720p30/index.m3u8",
                          "live/ch/360p30/index.m3u8"};
    hls_report_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    pl[0] = ma, pl[1] = mb;
    hls_check_ll_reports(pl, uris, 2, all, r);
    print(r);
    free(ma);
    free(mb);
    free(r1);
    free(r2);
    return r;
}

static void expect_reports(gen_t a, gen_t b, bool all, const char *rule)
{
    hls_report_t *r = reports(gen(a), gen(b), all);
    if (rule)
        assert_true(hls_report_has(r, rule));
    else
        assert_int_equal(r->n, 0);
    free(r);
}

static void test_rendition_reports(void **state)
{
    (void)state;
    const char *to360 = "URI=\"../360p30/index.m3u8\",LAST-MSN=48,LAST-PART=1";
    const char *to720 = "URI=\"../720p30/index.m3u8\",LAST-MSN=48,LAST-PART=2";
    /* 360p30 is one part ahead of what 720p30 reports: fine. */
    expect_reports((gen_t){40, 8, 2, 0, to360}, (gen_t){40, 8, 3, 0, to720},
                   true, NULL);
    /* LAST-MSN and LAST-PART left out: those of the reporting playlist. */
    expect_reports((gen_t){40, 8, 2, 0, "URI=\"../360p30/index.m3u8\""},
                   (gen_t){40, 8, 2, 0, to720}, true, NULL);
    /* Across a segment boundary: 48.5 reported, 49.0 real. */
    expect_reports((gen_t){40, 8, 2, 0,
                           "URI=\"../360p30/index.m3u8\",LAST-MSN=48,"
                           "LAST-PART=5"},
                   (gen_t){40, 9, 1, 0, NULL}, false, NULL);
    /* Two parts behind; two segments behind. */
    expect_reports((gen_t){40, 8, 2, 0, to360}, (gen_t){40, 8, 4, 0, NULL},
                   false, "rendition-report");
    expect_reports((gen_t){40, 8, 2, 0, to360}, (gen_t){40, 10, 1, 0, NULL},
                   false, "rendition-report");
    expect_reports((gen_t){40, 8, 2, 0, "URI=\"../1080p30/index.m3u8\""},
                   (gen_t){40, 8, 2, 0, NULL}, false, "rendition-report-uri");
    expect_reports((gen_t){40, 8, 2, 0, to360}, (gen_t){40, 8, 2, 0, NULL},
                   true, "rendition-report-missing");
}

TEST_MAIN(
    cmocka_unit_test(test_good_passes),
    cmocka_unit_test(test_part_inf_required),
    cmocka_unit_test(test_part_durations), cmocka_unit_test(test_part_sum),
    cmocka_unit_test(test_part_independent),
    cmocka_unit_test(test_part_tag_order), cmocka_unit_test(test_part_window),
    cmocka_unit_test(test_preload_hint), cmocka_unit_test(test_part_naming),
    cmocka_unit_test(test_part_naming_tagged),
    cmocka_unit_test(test_server_control), cmocka_unit_test(test_skip_tag),
    cmocka_unit_test(test_update), cmocka_unit_test(test_delta),
    cmocka_unit_test(test_rendition_reports))
