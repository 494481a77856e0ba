/* Tests of the origin's playlist reading: state, blocking rules, deltas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin_playlist.h"
#include "origin_skip.h"
#include "test_main.h"

/* A live LL-HLS playlist as the worker writes it: segments of 2 s in six
 * parts, parts listed for the last three complete segments. */
typedef struct {
    int64_t ms;         /* EXT-X-MEDIA-SEQUENCE */
    int ncomplete;      /* complete segments */
    int trailing;       /* parts of the segment being written */
    int64_t disc;       /* msn after which a take-over starts (-1: none) */
    int64_t name_shift; /* the take-over names files msn + this */
    bool skip;          /* CAN-SKIP-UNTIL=12 */
    int last_parts;     /* parts of the last complete segment (6) */
} gen_t;

static char *gen(const gen_t *g)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
#define P(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
    P("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n");
    P("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000%s\n",
      g->skip ? ",CAN-SKIP-UNTIL=12.000" : "");
    P("#EXT-X-PART-INF:PART-TARGET=0.33334\n");
    P("#EXT-X-MEDIA-SEQUENCE:%lld\n", (long long)g->ms);
    P("#EXT-X-DISCONTINUITY-SEQUENCE:0\n#PRISM-TIMELINE:OFFSET-US=0\n");
    /* The first worker's init section, named when the stream started. */
    P("#EXT-X-MAP:URI=\"init_00030.mp4\"\n");
    int64_t end = g->ms + g->ncomplete;
    for (int64_t m = g->ms; m <= end; m++) {
        int64_t name = m;
        if (g->disc >= 0 && m >= g->disc) {
            name = m + g->name_shift;
            if (m == g->disc)
                P("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_%05lld.mp4\"\n",
                  (long long)name);
        }
        P("#EXT-X-PROGRAM-DATE-TIME:2026-12-03T19:%02d:%02d.123Z\n",
          (int)(m * 2 / 60 % 60), (int)(m * 2 % 60));
        int parts = m == end                        ? g->trailing
                    : m == end - 1 && g->last_parts ? g->last_parts
                    : m >= end - 3                  ? 6
                                                    : 0;
        for (int i = 0; i < parts; i++)
            P("#EXT-X-PART:DURATION=0.33333,URI=\"seg_%05lld.%d.m4s\"%s\n",
              (long long)name, i, i == 0 ? ",INDEPENDENT=YES" : "");
        if (m == end) {
            P("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_%05lld.%d.m4s\"\n",
              (long long)name, g->trailing);
            P("#EXT-X-RENDITION-REPORT:URI=\"../360p30/index.m3u8\","
              "LAST-MSN=%lld,LAST-PART=1\n",
              (long long)m);
        } else {
            P("#EXTINF:2.00000,\nseg_%05lld.m4s\n", (long long)name);
        }
    }
#undef P
    return b;
}

static origin_playlist_t parse(const gen_t *g)
{
    char *t = gen(g);
    origin_playlist_t p;
    assert_int_equal(origin_playlist_parse(t, strlen(t), &p), 0);
    free(t);
    return p;
}

static void test_parse_state(void **state)
{
    (void)state;
    gen_t g = {
        .ms = 40, .ncomplete = 8, .trailing = 2, .disc = -1, .skip = true};
    origin_playlist_t p = parse(&g);
    assert_true(p.target_duration == 2);
    assert_true(p.part_target > 0.3333 && p.part_target < 0.3334);
    assert_int_equal(p.media_sequence, 40);
    assert_true(p.can_block_reload);
    assert_true(p.can_skip_until == 12);
    assert_int_equal(p.nsegments, 8);
    assert_int_equal(p.last_msn, 47);
    assert_int_equal(p.last_parts, 6);
    assert_int_equal(p.next_msn, 48);
    assert_int_equal(p.next_parts, 2);
    assert_string_equal(p.preload_hint, "seg_00048.2.m4s");
    assert_true(p.duration == 16);
    assert_false(p.endlist);
    /* A plain (MPEG-TS) playlist: no blocking, no hint; CRLF lines. */
    const char *ts = "#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n"
                     "#EXT-X-MEDIA-SEQUENCE:7\r\n#EXTINF:4.0,\r\na.ts\r\n"
                     "#EXTINF:4.0,\r\nb.ts\r\n#EXT-X-ENDLIST\r\n";
    assert_int_equal(origin_playlist_parse(ts, strlen(ts), &p), 0);
    assert_false(p.can_block_reload);
    assert_int_equal(p.last_msn, 8);
    assert_int_equal(p.last_parts, 0);
    assert_string_equal(p.preload_hint, "");
    assert_true(p.endlist);
    assert_true(p.target_duration == 4);
    /* Not playlists. */
    assert_int_equal(origin_playlist_parse("hello", 5, &p), -EINVAL);
    const char *master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n";
    assert_int_equal(origin_playlist_parse(master, strlen(master), &p),
                     -EINVAL);
    /* No segment yet: last_msn is one before the media sequence. */
    const char *empty = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n"
                        "#EXT-X-PART:DURATION=0.3,URI=\"s.0.m4s\"\n";
    assert_int_equal(origin_playlist_parse(empty, strlen(empty), &p), 0);
    assert_int_equal(p.last_msn, 4);
    assert_int_equal(p.next_msn, 5);
    assert_int_equal(p.next_parts, 1);
}

static void test_query(void **state)
{
    (void)state;
    origin_query_t q;
    assert_int_equal(origin_query_parse("48", "2", "YES", &q), 0);
    assert_int_equal(q.msn, 48);
    assert_int_equal(q.part, 2);
    assert_int_equal(q.skip, 1);
    assert_int_equal(origin_query_parse("48", NULL, "v2", &q), 0);
    assert_int_equal(q.part, -1);
    assert_int_equal(q.skip, 2);
    assert_int_equal(origin_query_parse(NULL, NULL, NULL, &q), 0);
    assert_int_equal(q.msn, -1);
    assert_int_equal(origin_query_parse(NULL, "2", NULL, &q), -EINVAL);
    assert_int_equal(origin_query_parse("-1", NULL, NULL, &q), -EINVAL);
    assert_int_equal(origin_query_parse("4x", NULL, NULL, &q), -EINVAL);
    assert_int_equal(origin_query_parse("", NULL, NULL, &q), -EINVAL);
    assert_int_equal(origin_query_parse("4", "1.5", NULL, &q), -EINVAL);
    assert_int_equal(origin_query_parse("4", NULL, "NO", &q), -EINVAL);
}

static void test_ready(void **state)
{
    (void)state;
    gen_t g = {.ms = 40, .ncomplete = 8, .trailing = 2, .disc = -1};
    origin_playlist_t p = parse(&g); /* 40..47 complete, 48.0 48.1 */
    assert_true(origin_playlist_ready(&p, 47, -1));
    assert_true(origin_playlist_ready(&p, 30, -1));
    assert_false(origin_playlist_ready(&p, 48, -1));
    assert_true(origin_playlist_ready(&p, 48, 0));
    assert_true(origin_playlist_ready(&p, 48, 1));
    assert_false(origin_playlist_ready(&p, 48, 2));
    assert_false(origin_playlist_ready(&p, 49, 0));
    assert_true(origin_playlist_ready(&p, 47, 5));
    assert_true(origin_playlist_ready(&p, 45, 9));
    /* Past the last part of complete 47: the first part of 48, there. */
    assert_true(origin_playlist_ready(&p, 47, 6));
    g.trailing = 0;
    p = parse(&g);
    assert_false(origin_playlist_ready(&p, 47, 6)); /* 48.0 not yet */
    assert_true(origin_playlist_ready(&p, 47, 5));
    /* Ended: everything is answered at once. */
    const char *ended = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\na.m4s\n"
                        "#EXT-X-ENDLIST\n";
    assert_int_equal(origin_playlist_parse(ended, strlen(ended), &p), 0);
    assert_true(origin_playlist_ready(&p, 3, 0));
}

/* A worker takes over after 47: segment 48 was being written (48.0, 48.1
 * listed, 48.2 hinted) and is never completed; the new worker's first
 * segment gets the next number (positionally 48, named 49 on disk). */
static void test_ready_after_takeover(void **state)
{
    (void)state;
    gen_t before = {.ms = 40, .ncomplete = 8, .trailing = 2, .disc = -1};
    origin_playlist_t p = parse(&before);
    assert_false(origin_playlist_ready(&p, 48, 2));
    /* The new worker's first playlist: 47 complete, discontinuity, no part
     * of the new segment yet: a request for 48.2 still waits. */
    gen_t after = {
        .ms = 40, .ncomplete = 8, .trailing = 0, .disc = 48, .name_shift = 1};
    p = parse(&after);
    assert_string_equal(p.preload_hint, "seg_00049.0.m4s");
    assert_false(origin_playlist_ready(&p, 48, 2));
    /* Its segment completes in fewer parts than asked for: part 5 of 48
     * means the first part of 49, which is there once 49 has a part. */
    after.ncomplete = 9;
    after.last_parts = 3;
    after.trailing = 0;
    p = parse(&after);
    assert_int_equal(p.last_msn, 48);
    assert_int_equal(p.last_parts, 3);
    assert_true(origin_playlist_ready(&p, 48, 2));
    assert_false(origin_playlist_ready(&p, 48, 5));
    after.trailing = 1;
    p = parse(&after);
    assert_true(origin_playlist_ready(&p, 48, 5));
    /* A playlist whose sequence jumped past the request answers it. */
    gen_t jump = {.ms = 45, .ncomplete = 6, .trailing = 0, .disc = -1};
    p = parse(&jump);
    assert_int_equal(p.last_msn, 50);
    assert_true(origin_playlist_ready(&p, 48, 3));
}

static void test_too_far_and_hold(void **state)
{
    (void)state;
    gen_t g = {.ms = 40, .ncomplete = 8, .trailing = 2, .disc = -1};
    origin_playlist_t p = parse(&g); /* last 47, 48 has 2 parts */
    assert_false(origin_playlist_too_far(&p, 49, -1));
    assert_false(origin_playlist_too_far(&p, 49, 0));
    assert_true(origin_playlist_too_far(&p, 50, -1));
    assert_true(origin_playlist_too_far(&p, 50, 0));
    /* Advance Part Limit: 3 / 0.33334 s = 8 parts past the last one. */
    assert_false(origin_playlist_too_far(&p, 48, 9));
    assert_true(origin_playlist_too_far(&p, 48, 10));
    assert_int_equal(origin_playlist_hold_ms(&p, 30000), 6000);
    assert_int_equal(origin_playlist_hold_ms(&p, 5000), 5000);
    p.target_duration = 0;
    assert_int_equal(origin_playlist_hold_ms(&p, 5000), 5000);
}

static void test_resolve_uri(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(origin_resolve_uri("/live/s/720p/index.m3u8",
                                        "seg_1.2.m4s", out, sizeof(out)),
                     0);
    assert_string_equal(out, "/live/s/720p/seg_1.2.m4s");
    assert_int_equal(origin_resolve_uri("/live/s/720p/index.m3u8",
                                        "../360p/x.m4s?a=1", out, sizeof(out)),
                     0);
    assert_string_equal(out, "/live/s/360p/x.m4s");
    assert_int_equal(origin_resolve_uri("/live/s/index.m3u8", "/abs/y.m4s", out,
                                        sizeof(out)),
                     0);
    assert_string_equal(out, "/abs/y.m4s");
    assert_int_equal(origin_resolve_uri("/live/s/index.m3u8",
                                        "http://cdn/x.m4s", out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(origin_resolve_uri("/a/b.m3u8", "", out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(origin_resolve_uri("/a/b.m3u8", "x.m4s", out, 4), -EINVAL);
}

/*
 * A semantic form of a playlist: header lines as they are, then one line
 * per segment with the EXT-X-MAP in effect and its tags, so that a MAP
 * written again (or carried from before) compares equal.
 */
static char *normal_form(const char *t)
{
    size_t cap = strlen(t) * 4 + 4096, n = 0;
    char *o = malloc(cap), map[1024] = "", seg[8192] = "";
    size_t sl = 0;
    const char *p = t;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)len, p);
        p += len + (e ? 1 : 0);
        if (!strncmp(line, "#EXT-X-MAP:", 11)) {
            snprintf(map, sizeof(map), "%s", line);
        } else if (line[0] && line[0] != '#') {
            n += (size_t)snprintf(o + n, cap - n, "SEG %s %s%s\n", map, seg,
                                  line);
            sl = 0;
            seg[0] = '\0';
        } else if (!strncmp(line, "#EXTINF", 7) ||
                   !strncmp(line, "#EXT-X-PART:", 12) ||
                   !strncmp(line, "#EXT-X-PROGRAM-DATE-TIME", 24) ||
                   !strcmp(line, "#EXT-X-DISCONTINUITY")) {
            sl += (size_t)snprintf(seg + sl, sizeof(seg) - sl, "%s|", line);
        } else {
            n += (size_t)snprintf(o + n, cap - n, "%s\n", line);
        }
    }
    n += (size_t)snprintf(o + n, cap - n, "TRAIL %s %s\n", map, seg);
    return o;
}

/* What a client does with a delta: the skipped segments come from the
 * playlist it already has (old), by media sequence number. */
static char *apply_delta(const char *old, const char *delta)
{
    origin_playlist_t po, pd;
    assert_int_equal(origin_playlist_parse(old, strlen(old), &po), 0);
    assert_int_equal(origin_playlist_parse(delta, strlen(delta), &pd), 0);
    const char *skip = strstr(delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=");
    assert_non_null(skip);
    int nskip = atoi(skip + 29);
    assert_true(pd.media_sequence >= po.media_sequence);
    /* Old segments' blocks: from the first segment tag (its MAP), each
     * ending at its URI line. */
    const char *blk = strstr(old, "\n#EXT-X-MAP:") + 1;
    int64_t first = pd.media_sequence - po.media_sequence;
    assert_true(first + nskip <= po.nsegments);
    const char *from = NULL, *to = NULL, *p = blk;
    for (int64_t i = 0; i < first + nskip; i++) {
        if (i == first)
            from = p;
        /* the end of block i: the first line not starting with '#' */
        while (*p == '#')
            p = strchr(p, '\n') + 1;
        p = strchr(p, '\n') + 1;
    }
    to = p;
    if (first == 0)
        from = blk;
    size_t cap = strlen(old) + strlen(delta) + 1, n = 0;
    char *o = malloc(cap);
    n += (size_t)snprintf(o + n, cap - n, "%.*s", (int)(skip - delta), delta);
    /* The client knows the MAP in effect for its old segments. */
    const char *map = NULL;
    for (const char *m = strstr(old, "#EXT-X-MAP:"); m && m < from;
         m = strstr(m + 1, "#EXT-X-MAP:"))
        map = m;
    if (map && map != from)
        n += (size_t)snprintf(o + n, cap - n, "%.*s\n",
                              (int)(strchr(map, '\n') - map), map);
    n += (size_t)snprintf(o + n, cap - n, "%.*s", (int)(to - from), from);
    snprintf(o + n, cap - n, "%s", strchr(skip, '\n') + 1);
    return o;
}

static void check_delta(const gen_t *gold, const gen_t *gnew, int want_skip)
{
    char *old = gen(gold), *full = gen(gnew), *delta = NULL;
    size_t dlen = 0;
    int skipped = -1;
    assert_int_equal(
        origin_skip_rewrite(full, strlen(full), false, &delta, &dlen, &skipped),
        0);
    assert_non_null(delta);
    assert_int_equal(skipped, want_skip);
    assert_int_equal(strlen(delta), dlen);
    char want[64];
    snprintf(want, sizeof(want), "\n#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n",
             want_skip);
    assert_non_null(strstr(delta, want));
    /* Header tags stay, and the comment; skipped URIs go. */
    assert_non_null(strstr(delta, "#EXT-X-MEDIA-SEQUENCE:"));
    assert_non_null(strstr(delta, "#EXT-X-SERVER-CONTROL:"));
    assert_non_null(strstr(delta, "#PRISM-TIMELINE:"));
    char first_uri[64];
    snprintf(first_uri, sizeof(first_uri), "\nseg_%05lld.m4s\n",
             (long long)gnew->ms);
    assert_null(strstr(delta, first_uri));
    assert_true(dlen < strlen(full));
    /* Standing alone, the delta's first segment has the tags and the MAP
     * it has in the full playlist. */
    char *nd = normal_form(delta), *nf = normal_form(full);
    const char *sd = strstr(nd, "\nSEG "), *sf = strstr(nf, "\nSEG ");
    for (int i = 0; i < want_skip; i++)
        sf = strstr(sf + 1, "\nSEG ");
    assert_non_null(sd);
    assert_non_null(sf);
    size_t ld = strcspn(sd + 1, "\n"), lf = strcspn(sf + 1, "\n");
    assert_int_equal(ld, lf);
    assert_memory_equal(sd, sf, ld);
    free(nd);
    free(nf);
    /* Applied to the older full playlist, it gives the new one. */
    char *applied = apply_delta(old, delta);
    char *a = normal_form(applied), *b = normal_form(full);
    assert_string_equal(a, b);
    /* The same bytes for v2 (date ranges are kept). */
    char *d2 = NULL;
    size_t d2len = 0;
    assert_int_equal(
        origin_skip_rewrite(full, strlen(full), true, &d2, &d2len, &skipped),
        0);
    assert_string_equal(d2, delta);
    free(d2);
    free(a);
    free(b);
    free(applied);
    free(old);
    free(full);
    free(delta);
}

static void test_delta(void **state)
{
    (void)state;
    /* 20 segments of 2 s, CAN-SKIP-UNTIL 12: the 13 oldest end more than
     * 12 s before the end (40 s) and are skipped. */
    gen_t old = {
        .ms = 39, .ncomplete = 19, .trailing = 4, .disc = -1, .skip = true};
    gen_t now = {
        .ms = 40, .ncomplete = 20, .trailing = 1, .disc = -1, .skip = true};
    check_delta(&old, &now, 13);
    /* A take-over inside the skipped part: its DISCONTINUITY and MAP go
     * with the skipped segments, its MAP is written again after the SKIP. */
    old.disc = now.disc = 45;
    old.name_shift = now.name_shift = 1;
    check_delta(&old, &now, 13);
    /* A take-over after the boundary: its tags stay in place. */
    old.disc = now.disc = 56;
    check_delta(&old, &now, 13);
    /* An old playlist that starts earlier works too (the client finds
     * the skipped segments by their sequence numbers). */
    old.ms = 36;
    old.ncomplete = 20;
    old.disc = now.disc = -1;
    check_delta(&old, &now, 13);
}

static void test_delta_nothing_to_skip(void **state)
{
    (void)state;
    char *d = (char *)1;
    size_t dl = 1;
    int sk = -1;
    /* No CAN-SKIP-UNTIL: _HLS_skip is ignored. */
    gen_t g = {.ms = 40, .ncomplete = 20, .trailing = 1, .disc = -1};
    char *t = gen(&g);
    assert_int_equal(origin_skip_rewrite(t, strlen(t), false, &d, &dl, &sk), 0);
    assert_null(d);
    assert_int_equal(sk, 0);
    free(t);
    /* Seven segments: the oldest ends exactly 12 s before the end. */
    g.skip = true;
    g.ncomplete = 7;
    t = gen(&g);
    assert_int_equal(origin_skip_rewrite(t, strlen(t), false, &d, &dl, &sk), 0);
    assert_null(d);
    free(t);
    g.ncomplete = 8;
    t = gen(&g);
    assert_int_equal(origin_skip_rewrite(t, strlen(t), false, &d, &dl, &sk), 0);
    assert_non_null(d);
    assert_int_equal(sk, 1);
    free(d);
    free(t);
}

TEST_MAIN(cmocka_unit_test(test_parse_state), cmocka_unit_test(test_query),
          cmocka_unit_test(test_ready),
          cmocka_unit_test(test_ready_after_takeover),
          cmocka_unit_test(test_too_far_and_hold),
          cmocka_unit_test(test_resolve_uri), cmocka_unit_test(test_delta),
          cmocka_unit_test(test_delta_nothing_to_skip))
