/* Tests of the origin's rendition reports: what a playlist reports of
 * itself, and reports written again from what the store holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "origin_reports.h"
#include "test_main.h"

/* The store of the tests: 360p30 has moved on to 49.0; 144p30 ended on a
 * complete segment without parts. */
static bool lookup(void *ctx, const char *path, origin_report_t *out)
{
    int *calls = ctx;
    (*calls)++;
    if (!strcmp(path, "/live/c/360p30/index.m3u8")) {
        *out = (origin_report_t){49, 0};
        return true;
    }
    if (!strcmp(path, "/live/c/144p30/index.m3u8")) {
        *out = (origin_report_t){47, -1};
        return true;
    }
    return false;
}

#define HEAD                                                                   \
    "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"                     \
    "#EXT-X-PART-INF:PART-TARGET=0.33400\n#EXT-X-MEDIA-SEQUENCE:40\n"          \
    "#EXTINF:2.000,\nseg_00040.m4s\n"                                          \
    "#EXT-X-PART:DURATION=0.33400,URI=\"seg_00041.0.m4s\",INDEPENDENT=YES\n"   \
    "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg_00041.1.m4s\"\n"

static void test_rewrite(void **state)
{
    (void)state;
    const char *in =
        HEAD "#EXT-X-RENDITION-REPORT:URI=\"../360p30/index.m3u8\","
             "LAST-MSN=48,LAST-PART=1\r\n"
             "#EXT-X-RENDITION-REPORT:URI=\"../160p30/index.m3u8\","
             "LAST-MSN=41,LAST-PART=0\n"
             "#EXT-X-RENDITION-REPORT:URI=\"../144p30/index.m3u8\","
             "LAST-MSN=46,LAST-PART=5";
    const char *want =
        HEAD "#EXT-X-RENDITION-REPORT:URI=\"../360p30/index.m3u8\","
             "LAST-MSN=49,LAST-PART=0\r\n"
             "#EXT-X-RENDITION-REPORT:URI=\"../160p30/index.m3u8\","
             "LAST-MSN=41,LAST-PART=0\n"
             "#EXT-X-RENDITION-REPORT:URI=\"../144p30/index.m3u8\","
             "LAST-MSN=47";
    int calls = 0;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(origin_reports_rewrite("/live/c/720p30/index.m3u8", in,
                                            strlen(in), lookup, &calls, &out,
                                            &len),
                     0);
    assert_int_equal(calls, 3);
    assert_non_null(out);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    free(out);
    /* No report the store knows: the text is served as it is. */
    const char *only = HEAD "#EXT-X-RENDITION-REPORT:URI=\"../160p30/"
                            "index.m3u8\",LAST-MSN=41,LAST-PART=0\n";
    assert_int_equal(origin_reports_rewrite("/live/c/720p30/index.m3u8", only,
                                            strlen(only), lookup, &calls, &out,
                                            &len),
                     0);
    assert_null(out);
    assert_int_equal(origin_reports_rewrite("/live/c/720p30/index.m3u8", HEAD,
                                            strlen(HEAD), lookup, &calls, &out,
                                            &len),
                     0);
    assert_null(out);
}

/* A playlist's own report: the segment being written when it has parts,
 * else the last complete one with its last part (none: no LAST-PART). */
static void test_report_of(void **state)
{
    (void)state;
    origin_playlist_t p;
    assert_int_equal(origin_playlist_parse(HEAD, strlen(HEAD), &p), 0);
    origin_report_t r = origin_report_of(&p);
    assert_int_equal(r.last_msn, 41);
    assert_int_equal(r.last_part, 0);
    const char *done =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n"
        "#EXT-X-PART:DURATION=0.5,URI=\"seg_00040.0.m4s\"\n"
        "#EXT-X-PART:DURATION=0.5,URI=\"seg_00040.1.m4s\"\n"
        "#EXTINF:1.000,\nseg_00040.m4s\n";
    assert_int_equal(origin_playlist_parse(done, strlen(done), &p), 0);
    r = origin_report_of(&p);
    assert_int_equal(r.last_msn, 40);
    assert_int_equal(r.last_part, 1);
    const char *plain = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                        "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.0,\nseg_7.ts\n";
    assert_int_equal(origin_playlist_parse(plain, strlen(plain), &p), 0);
    r = origin_report_of(&p);
    assert_int_equal(r.last_msn, 7);
    assert_int_equal(r.last_part, -1);
}

TEST_MAIN(cmocka_unit_test(test_rewrite), cmocka_unit_test(test_report_of))
