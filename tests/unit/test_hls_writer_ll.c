/* Tests for worker/hls_writer's Low-Latency HLS playlists: parts, the
 * preload hint, rendition reports, dates and maps, which parts stay
 * listed, and continuing another session's LL playlist; every playlist
 * is also put through the project's validator (tools/hls_check*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hls_check.h"
#include "hls_check_ll.h"
#include "hls_writer.h"
#include "test_main.h"

static hls_writer_t *ll_writer(const char *map)
{
    hls_writer_opts_t o = {
        .target_s = 2.0, .window = 6, .map_uri = map, .part_target_s = 0.335};
    hls_writer_t *w = hls_writer_new(&o);
    assert_non_null(w);
    return w;
}

/* Lists part K of the segment being made, as the worker names it, and
 * hints the next one. */
static void part(hls_writer_t *w, const char *tag, int k, double d)
{
    char uri[64], next[64];
    long long seq = (long long)hls_writer_next_sequence(w);
    snprintf(uri, sizeof(uri), "seg_%05lld_%s.%d.m4s", seq, tag, k);
    assert_int_equal(hls_writer_add_part(w, uri, d, k == 0), 0);
    snprintf(next, sizeof(next), "seg_%05lld_%s.%d.m4s", seq, tag, k + 1);
    hls_writer_set_hint(w, next);
}

/* A whole segment of six parts (2.0 s), dated, then listed. */
static void segment(hls_writer_t *w, const char *tag, int64_t date_us)
{
    char uri[64];
    long long seq = (long long)hls_writer_next_sequence(w);
    hls_writer_set_date(w, date_us);
    for (int k = 0; k < 6; k++)
        part(w, tag, k, k == 5 ? 0.33 : 0.334);
    snprintf(uri, sizeof(uri), "seg_%05lld_%s.m4s", seq, tag);
    assert_true(hls_writer_add(w, uri, 2.0, false, NULL, 0) >= 0);
    snprintf(uri, sizeof(uri), "seg_%05lld_%s.0.m4s", seq + 1, tag);
    hls_writer_set_hint(w, uri);
}

/* Parses TEXT and runs the RFC rules and Prism's LL promises on it;
 * returns the parsed playlist (freed by the caller). */
static hls_media_t *validate(const char *text)
{
    hls_media_t *m = calloc(1, sizeof(*m));
    hls_report_t r = {0};
    assert_non_null(m);
    hls_check_media(text, m, &r);
    hls_check_ll(m, &hls_ll_prism, &r);
    for (int i = 0; i < r.n; i++)
        print_message("problem %s line %d: %s\n", r.p[i].rule, r.p[i].line,
                      r.p[i].text);
    if (r.n)
        print_message("%s", text);
    assert_int_equal(r.n, 0);
    return m;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    return n;
}

static void test_ll_playlist(void **state)
{
    (void)state;
    hls_writer_t *w = ll_writer("init_aaaa.mp4");
    int64_t t0 = 1796000000000000; /* 2026-12-01T..., microseconds */
    segment(w, "aaaa", t0);
    segment(w, "aaaa", t0 + 2000000);
    hls_writer_set_date(w, t0 + 4000000);
    part(w, "aaaa", 0, 0.334);
    part(w, "aaaa", 1, 0.334);
    hls_writer_report_t rep = {
        .uri = "../240p30/index.m3u8", .last_msn = 2, .last_part = 1};
    hls_writer_set_reports(w, &rep, 1);
    char *text = hls_writer_text(w, false, NULL);
    assert_non_null(text);
    hls_media_t *m = validate(text);
    assert_non_null(strstr(text, "#EXT-X-VERSION:9\n"));
    assert_non_null(strstr(text, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                                 "PART-HOLD-BACK=1.005,CAN-SKIP-UNTIL=12.0\n"));
    assert_non_null(strstr(text, "#EXT-X-PART-INF:PART-TARGET=0.33500\n"));
    assert_int_equal(count(text, "#EXT-X-MAP:"), 1);
    assert_int_equal(count(text, "#EXT-X-PROGRAM-DATE-TIME:"), 3);
    assert_non_null(strstr(text, "#EXT-X-PROGRAM-DATE-TIME:"
                                 "2026-11-30T"));
    assert_int_equal(count(text, "#EXT-X-PART:"), 14);
    assert_int_equal(count(text, "INDEPENDENT=YES"), 3);
    assert_non_null(strstr(text, "#EXT-X-PART:DURATION=0.33400,URI=\""
                                 "seg_00002_aaaa.1.m4s\"\n"
                                 "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""
                                 "seg_00002_aaaa.2.m4s\"\n"));
    assert_non_null(strstr(text, "#EXT-X-RENDITION-REPORT:URI=\"../240p30/"
                                 "index.m3u8\",LAST-MSN=2,LAST-PART=1\n"));
    int64_t msn;
    int p;
    hls_writer_last_part(w, &msn, &p);
    assert_int_equal(msn, 2);
    assert_int_equal(p, 1);
    free(m);
    free(text);
    /* Ended: no hint, no reports, no blocking. */
    text = hls_writer_text(w, true, NULL);
    assert_null(strstr(text, "PRELOAD-HINT"));
    assert_null(strstr(text, "SERVER-CONTROL"));
    assert_null(strstr(text, "RENDITION-REPORT"));
    free(text);
    hls_writer_free(&w);
}

/* Parts stay listed for the segments of the last three target durations
 * (6 s: three 2 s segments) and the one being made; an evicted segment
 * says how many parts it had. */
static void test_ll_parts_window(void **state)
{
    (void)state;
    hls_writer_t *w = ll_writer("init_aaaa.mp4");
    for (int i = 0; i < 6; i++)
        segment(w, "aaaa", 0);
    char *text = hls_writer_text(w, false, NULL);
    /* seg 2..5 keep theirs (from the end of seg 2 to the end: 6 s) */
    assert_int_equal(count(text, "#EXT-X-PART:"), 4 * 6);
    assert_null(strstr(text, "seg_00001_aaaa.0.m4s"));
    assert_non_null(strstr(text, "seg_00002_aaaa.0.m4s"));
    free(validate(text));
    free(text);
    char gone[HLS_WRITER_URI_MAX] = "";
    part(w, "aaaa", 0, 0.334);
    assert_int_equal(hls_writer_add(w, "seg_00006_aaaa.m4s", 0.334, false, gone,
                                    sizeof(gone)),
                     1);
    assert_string_equal(gone, "seg_00000_aaaa.m4s");
    assert_int_equal(hls_writer_evicted_parts(w), 6);
    hls_writer_free(&w);
}

/* A session continuing an LL playlist keeps the segments with their
 * parts; a segment the other did not finish is listed as it was, complete
 * (its parts, their duration; the timeline ends after it), and this
 * session goes on after it, with a discontinuity and its own init. */
static void test_ll_continue(void **state)
{
    (void)state;
    hls_writer_t *a = ll_writer("init_aaaa.mp4");
    hls_writer_set_timeline(a, 10000000, 14000000, 0);
    segment(a, "aaaa", 1796000000000000);
    segment(a, "aaaa", 1796000002000000);
    hls_writer_set_date(a, 1796000004000000);
    part(a, "aaaa", 0, 0.334);
    part(a, "aaaa", 1, 0.334);
    char *old = hls_writer_text(a, false, NULL);
    hls_media_t *prev = validate(old);

    hls_writer_t *b = ll_writer("init_bbbb.mp4");
    assert_int_equal(hls_writer_continue(b, old), 0);
    assert_true(hls_writer_resumes_unfinished(b));
    assert_int_equal(hls_writer_next_sequence(b), 3);
    assert_int_equal(hls_writer_parts_pending(b), 0);
    assert_string_equal(hls_writer_uri(b, 2), "seg_00002_aaaa.m4s");
    const char *uris[8];
    assert_int_equal(hls_writer_segment_parts(b, 2, uris, 8), 2);
    assert_string_equal(uris[1], "seg_00002_aaaa.1.m4s");
    assert_int_equal(hls_writer_timeline(b).end_us, 14668000);
    hls_writer_set_date(b, 1796000004668000);
    part(b, "bbbb", 0, 0.334);
    char *text = hls_writer_text(b, false, NULL);
    hls_media_t *cur = validate(text);
    assert_int_equal(count(text, "#EXT-X-PART:"), 15);
    assert_non_null(strstr(text, "seg_00002_aaaa.1.m4s\"\n"
                                 "#EXTINF:0.668,\nseg_00002_aaaa.m4s\n"
                                 "#EXT-X-DISCONTINUITY\n"
                                 "#EXT-X-MAP:URI=\"init_bbbb.mp4\"\n"
                                 "#EXT-X-PROGRAM-DATE-TIME:"));
    assert_int_equal(count(text, "#EXT-X-PROGRAM-DATE-TIME:"), 4);
    /* What a player saw before goes on unchanged. */
    hls_report_t r = {0};
    hls_check_ll_update(prev, cur, &r);
    for (int i = 0; i < r.n; i++)
        print_message("problem %s: %s\n", r.p[i].rule, r.p[i].text);
    assert_int_equal(r.n, 0);
    for (int k = 1; k < 6; k++)
        part(b, "bbbb", k, k == 5 ? 0.33 : 0.334);
    assert_true(hls_writer_add(b, "seg_00003_bbbb.m4s", 2.0, false, NULL, 0) >=
                0);
    hls_writer_set_hint(b, "seg_00004_bbbb.0.m4s"); /* as the worker does */
    free(text);
    text = hls_writer_text(b, false, NULL);
    assert_int_equal(count(text, "#EXT-X-MAP:"), 2);
    free(validate(text));
    free(prev);
    free(cur);
    free(old);
    free(text);
    hls_writer_free(&a);
    hls_writer_free(&b);
}

/* Parts are refused without a part target and past the bound. */
static void test_ll_bad_parts(void **state)
{
    (void)state;
    hls_writer_opts_t o = {.target_s = 2.0, .window = 6};
    hls_writer_t *w = hls_writer_new(&o);
    assert_int_equal(hls_writer_add_part(w, "p.m4s", 0.3, true), -EINVAL);
    hls_writer_free(&w);
    w = ll_writer(NULL);
    assert_int_equal(hls_writer_add_part(w, "p\".m4s", 0.3, true), -EINVAL);
    assert_int_equal(hls_writer_add_part(w, "p.m4s", 0, true), -EINVAL);
    for (int i = 0; i < HLS_WRITER_MAX_PARTS; i++)
        assert_int_equal(hls_writer_add_part(w, "p.m4s", 0.01, false), 0);
    assert_int_equal(hls_writer_add_part(w, "p.m4s", 0.01, false), -ENOBUFS);
    hls_writer_free(&w);
}

TEST_MAIN(cmocka_unit_test(test_ll_playlist),
          cmocka_unit_test(test_ll_parts_window),
          cmocka_unit_test(test_ll_continue),
          cmocka_unit_test(test_ll_bad_parts))
