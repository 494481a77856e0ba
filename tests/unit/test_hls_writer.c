/* Tests for worker/hls_writer: the media playlist, its window, sequence
 * numbers, rounding and continuation from another session's playlist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hls_writer.h"
#include "test_main.h"

static hls_writer_t *live(int window)
{
    hls_writer_opts_t o = {.target_s = 2.0, .window = window};
    hls_writer_t *w = hls_writer_new(&o);
    assert_non_null(w);
    return w;
}

static void add(hls_writer_t *w, double d, bool disc)
{
    char uri[32];
    snprintf(uri, sizeof(uri), "seg_%05lld.ts",
             (long long)hls_writer_next_sequence(w));
    assert_true(hls_writer_add(w, uri, d, disc, NULL, 0) >= 0);
}

/* The value of TAG in TEXT ("#EXT-X-MEDIA-SEQUENCE:" ...), -1 if none. */
static long long tag(const char *text, const char *t)
{
    const char *p = strstr(text, t);
    return p ? strtoll(p + strlen(t), NULL, 10) : -1;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void test_window_and_sequences(void **state)
{
    (void)state;
    hls_writer_t *w = live(3);
    char ev[64] = "";
    assert_int_equal(hls_writer_add(w, "a.ts", 2.0, false, ev, sizeof(ev)), 0);
    add(w, 2.0, false);
    add(w, 2.0, false);
    assert_int_equal(hls_writer_add(w, "d.ts", 2.0, false, ev, sizeof(ev)), 1);
    assert_string_equal(ev, "a.ts");
    size_t len;
    char *t = hls_writer_text(w, false, &len);
    assert_int_equal(strlen(t), len);
    assert_true(!strncmp(t, "#EXTM3U\n#EXT-X-VERSION:3\n", 25));
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 1);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 0);
    assert_int_equal(tag(t, "#EXT-X-TARGETDURATION:"), 2);
    assert_int_equal(count(t, "#EXTINF:"), 3);
    assert_non_null(strstr(t, "#EXT-X-INDEPENDENT-SEGMENTS\n"));
    assert_null(strstr(t, "ENDLIST"));
    assert_null(strstr(t, "PLAYLIST-TYPE"));
    free(t);
    hls_writer_free(&w);
    assert_null(w);
}

static void test_discontinuity_sequence(void **state)
{
    (void)state;
    hls_writer_t *w = live(3);
    add(w, 2.0, false); /* 0 */
    add(w, 2.0, true);  /* 1: a discontinuity */
    add(w, 2.0, false); /* 2 */
    add(w, 2.0, true);  /* 3: drops 0, no discontinuity left */
    char *t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 0);
    assert_int_equal(count(t, "#EXT-X-DISCONTINUITY\n"), 2);
    free(t);
    add(w, 2.0, false); /* 4: segment 1 and its discontinuity leave */
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 2);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    assert_int_equal(count(t, "#EXT-X-DISCONTINUITY\n"), 1);
    free(t);
    long long prev_m = 2, prev_d = 1;
    for (int i = 0; i < 10; i++) { /* never goes back */
        add(w, 2.0, i % 3 == 0);
        t = hls_writer_text(w, false, NULL);
        long long m = tag(t, "#EXT-X-MEDIA-SEQUENCE:");
        long long d = tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:");
        assert_int_equal(m, prev_m + 1);
        assert_true(d >= prev_d);
        prev_m = m;
        prev_d = d;
        free(t);
    }
    /* 0..14 added; disc at 1, 3, 5, 8, 11, 14; 12..14 listed: five left. */
    assert_int_equal(prev_d, 5);
    hls_writer_free(&w);
}

static void test_rounding(void **state)
{
    (void)state;
    hls_writer_t *w = live(6);
    add(w, 1.967, false);
    add(w, 2.4996, false); /* written 2.500: rounds to 3 */
    char *t = hls_writer_text(w, false, NULL);
    assert_non_null(strstr(t, "#EXTINF:1.967,\n"));
    assert_non_null(strstr(t, "#EXTINF:2.500,\n"));
    assert_int_equal(tag(t, "#EXT-X-TARGETDURATION:"), 3);
    free(t);
    /* TARGETDURATION never shrinks, even after the long segment leaves. */
    for (int i = 0; i < 8; i++)
        add(w, 2.0, false);
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-TARGETDURATION:"), 3);
    free(t);
    hls_writer_free(&w);

    w = live(6);
    add(w, 2.49, false);
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-TARGETDURATION:"), 2);
    free(t);
    assert_int_equal(hls_writer_add(w, "x.ts", -1, false, NULL, 0), -EINVAL);
    assert_int_equal(hls_writer_add(w, "a\nb.ts", 1, false, NULL, 0), -EINVAL);
    hls_writer_free(&w);
}

static void test_vod_and_fmp4(void **state)
{
    (void)state;
    hls_writer_opts_t o = {.target_s = 2.0, .vod = true, .map_uri = "init.mp4"};
    hls_writer_t *w = hls_writer_new(&o);
    assert_non_null(w);
    for (int i = 0; i < 40; i++)
        add(w, 2.0, false);
    char *t = hls_writer_text(w, true, NULL);
    assert_non_null(strstr(t, "#EXT-X-VERSION:6\n"));
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_non_null(strstr(t, "#EXT-X-MAP:URI=\"init.mp4\"\n"));
    assert_int_equal(count(t, "#EXTINF:"), 40);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 0);
    assert_true(strstr(t, "#EXT-X-ENDLIST\n") == t + strlen(t) - 15);
    free(t);
    hls_writer_free(&w);
    o.target_s = 0;
    assert_null(hls_writer_new(&o));
}

/* A removal never leaves less than three target durations listed (RFC
 * 8216 6.2.2): short segments make the window list more of them. */
static void test_window_keeps_three_targets(void **state)
{
    (void)state;
    hls_writer_t *w = live(3);
    add(w, 2.0, false);
    add(w, 2.0, false);
    add(w, 2.0, false);
    char ev[64] = "";
    /* 2 + 2 + 0.5 after a removal: under 6 s, so nothing leaves. */
    assert_int_equal(hls_writer_add(w, "s.ts", 0.5, false, ev, sizeof(ev)), 0);
    assert_int_equal(hls_writer_count(w), 4);
    char *t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 0);
    free(t);
    /* Two more, and one leaves with each (what stays lasts 6.5 s); the
     * short segment keeps four listed. */
    add(w, 2.0, false);
    assert_int_equal(hls_writer_add(w, "t.ts", 2.0, false, ev, sizeof(ev)), 1);
    assert_string_equal(ev, "seg_00001.ts");
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 2);
    assert_int_equal(count(t, "#EXTINF:"), 4);
    free(t);
    hls_writer_free(&w);
}

static void test_rates_advertised(void **state)
{
    (void)state;
    int64_t avg, bw;
    /* Live, nothing published: the estimate, its peak 25% over. */
    hls_rates_t m = {0};
    hls_rates_advertise(&m, 800000, false, &avg, &bw);
    assert_int_equal(avg, 800000);
    assert_int_equal(bw, 1000000);
    /* Live, a continued stream whose earlier segments peaked higher:
     * BANDWIDTH is never under a published segment. */
    m = (hls_rates_t){.peak_bps = 1622291.5, .bytes = 2000000, .seconds = 20};
    hls_rates_advertise(&m, 800000, false, &avg, &bw);
    assert_int_equal(avg, 800000);
    assert_int_equal(bw, 1622292);
    /* The end: what was measured (800 kbit/s on average), the peak. */
    hls_rates_advertise(&m, 500000, true, &avg, &bw);
    assert_int_equal(avg, 800000);
    assert_int_equal(bw, 1622292);
    /* The end with under half a second measured: the estimate. */
    m = (hls_rates_t){.peak_bps = 0, .bytes = 1000, .seconds = 0.4};
    hls_rates_advertise(&m, 500000, true, &avg, &bw);
    assert_int_equal(avg, 500000);
    assert_int_equal(bw, 625000);
}

/* A writer done with a playlist says so in it (not with ENDLIST); the
 * session that continues it learns it and does not carry the line on. */
static void test_writer_done(void **state)
{
    (void)state;
    hls_writer_t *a = live(3);
    add(a, 2.0, false);
    add(a, 1.5, false);
    char *t = hls_writer_text(a, false, NULL);
    assert_null(strstr(t, "#PRISM-WRITER-DONE"));
    free(t);
    hls_writer_set_done(a);
    t = hls_writer_text(a, true, NULL);
    assert_null(strstr(t, "#PRISM-WRITER-DONE")); /* ENDLIST says more */
    free(t);
    char *done = hls_writer_text(a, false, NULL);
    assert_non_null(strstr(done, "\n#PRISM-WRITER-DONE\n"));
    hls_writer_free(&a);

    hls_writer_t *w = live(3);
    assert_false(hls_writer_previous_done(w));
    assert_int_equal(hls_writer_continue(w, done), 0);
    assert_true(hls_writer_previous_done(w));
    t = hls_writer_text(w, false, NULL);
    assert_null(strstr(t, "#PRISM-WRITER-DONE"));
    free(t);
    /* A playlist whose writer goes on: not done. */
    hls_writer_t *b = live(3);
    add(b, 2.0, false);
    char *live_text = hls_writer_text(b, false, NULL);
    assert_int_equal(hls_writer_continue(w, live_text), 0);
    assert_false(hls_writer_previous_done(w));
    free(live_text);
    free(done);
    hls_writer_free(&b);
    hls_writer_free(&w);
}

static void test_continue(void **state)
{
    (void)state;
    /* Another session's playlist: sequence 40, one discontinuity gone. */
    hls_writer_t *a = live(3);
    hls_writer_min_sequence(a, 38);
    add(a, 2.0, true);
    add(a, 2.0, false);
    add(a, 2.0, false);
    add(a, 2.0, false);
    add(a, 2.25, false);
    hls_writer_set_timeline(a, 123456, 98765432, 0xabcdef0123456789ull);
    hls_rates_t rates = {
        .peak_bps = 2500000, .bytes = 4000000, .seconds = 11.5};
    hls_writer_set_rates(a, &rates);
    char *old = hls_writer_text(a, false, NULL);
    assert_int_equal(tag(old, "#EXT-X-MEDIA-SEQUENCE:"), 40);
    assert_int_equal(tag(old, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    assert_non_null(strstr(old,
                           "#PRISM-TIMELINE:OFFSET-US=123456,END-US=98765432,"
                           "SOURCE=abcdef0123456789\n"));
    hls_writer_free(&a);

    hls_writer_t *w = live(3);
    assert_int_equal(hls_writer_continue(w, old), 0);
    hls_timeline_t tl = hls_writer_timeline(w);
    assert_true(tl.known);
    assert_int_equal(tl.offset_us, 123456);
    assert_int_equal(tl.end_us, 98765432);
    assert_true(tl.source_id == 0xabcdef0123456789ull);
    hls_rates_t rr = hls_writer_rates(w);
    assert_true(rr.known);
    assert_true(rr.peak_bps == 2500000 && rr.bytes == 4000000);
    assert_true(rr.seconds > 11.499 && rr.seconds < 11.501);
    assert_int_equal(hls_writer_next_sequence(w), 43);
    assert_int_equal(hls_writer_count(w), 3);
    hls_writer_min_sequence(w, 10); /* a lower floor changes nothing */
    assert_int_equal(hls_writer_next_sequence(w), 43);
    char *t = hls_writer_text(w, false, NULL);
    assert_string_equal(t, old); /* the same playlist until a segment */
    free(t);
    add(w, 2.0, false); /* the join: a discontinuity */
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 41);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    assert_non_null(strstr(t, "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n"
                              "seg_00043.ts\n"));
    assert_non_null(strstr(t, "#EXTINF:2.250,\nseg_00042.ts\n"));
    free(t);
    add(w, 2.0, false);
    add(w, 2.0, false);
    add(w, 2.0, false); /* the join leaves the window */
    t = hls_writer_text(w, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 44);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 2);
    assert_null(strstr(t, "#EXT-X-DISCONTINUITY\n"));
    free(t);
    /* A coordinator floor above the playlist wins. */
    hls_writer_t *f = live(3);
    assert_int_equal(hls_writer_continue(f, old), 0);
    hls_writer_min_sequence(f, 50);
    assert_int_equal(hls_writer_next_sequence(f), 50);
    t = hls_writer_text(f, false, NULL);
    assert_int_equal(tag(t, "#EXT-X-MEDIA-SEQUENCE:"), 50);
    assert_int_equal(tag(t, "#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    assert_int_equal(count(t, "#EXTINF:"), 0);
    free(t);
    add(f, 2.0, false);
    t = hls_writer_text(f, false, NULL);
    assert_non_null(strstr(t, "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n"
                              "seg_00050.ts\n"));
    free(t);
    hls_writer_free(&f);
    free(old);
    assert_int_equal(hls_writer_continue(w, "#EXTM3U\n#EXT-X-STREAM-INF:"
                                            "BANDWIDTH=1\na.m3u8\n"),
                     -EINVAL);
    assert_int_equal(hls_writer_continue(w, "<html>404</html>"), -EINVAL);
    assert_int_equal(hls_writer_next_sequence(w), 47);
    hls_writer_free(&w);
}

TEST_MAIN(cmocka_unit_test(test_window_and_sequences),
          cmocka_unit_test(test_discontinuity_sequence),
          cmocka_unit_test(test_rounding), cmocka_unit_test(test_vod_and_fmp4),
          cmocka_unit_test(test_window_keeps_three_targets),
          cmocka_unit_test(test_rates_advertised),
          cmocka_unit_test(test_continue), cmocka_unit_test(test_writer_done))
