/* Tests of the origin's store: bounds, eviction order, hints, ETags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "origin_store.h"
#include "test_main.h"

static origin_blob_t *blob_of(size_t n, char fill)
{
    char buf[4096];
    memset(buf, fill, n);
    return origin_blob_new(buf, n);
}

static void test_put_get_replace_delete(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(1 << 20);
    assert_int_equal(origin_store_put(s, "/live/a/x.m4s",
                                      origin_blob_new("abc", 3), 1, NULL, 0),
                     0);
    int64_t t = 0;
    origin_blob_t *b = origin_store_get(s, "/live/a/x.m4s", &t);
    assert_non_null(b);
    assert_int_equal(b->len, 3);
    assert_memory_equal(b->data, "abc", 3);
    assert_int_equal(t, 1);
    char etag[24];
    snprintf(etag, sizeof(etag), "%s", b->etag);
    /* Replacing: 1, new bytes, new ETag; the same bytes, the same ETag. */
    assert_int_equal(origin_store_put(s, "/live/a/x.m4s",
                                      origin_blob_new("abcd", 4), 2, NULL, 0),
                     1);
    b = origin_store_get(s, "/live/a/x.m4s", NULL);
    assert_int_equal(b->len, 4);
    assert_string_not_equal(b->etag, etag);
    origin_blob_t *same = origin_blob_new("abc", 3);
    assert_string_equal(same->etag, etag);
    origin_blob_unref(&same);
    assert_null(same);
    origin_store_stats_t st;
    origin_store_stats(s, &st);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.bytes, 4);
    assert_null(origin_store_get(s, "/live/a/y.m4s", NULL));
    assert_int_equal(origin_store_delete(s, "/live/a/y.m4s"), -ENOENT);
    assert_int_equal(origin_store_delete(s, "/live/a/x.m4s"), 0);
    assert_null(origin_store_get(s, "/live/a/x.m4s", NULL));
    origin_store_stats(s, &st);
    assert_int_equal(st.files, 0);
    assert_int_equal(st.bytes, 0);
    origin_store_free(&s);
    assert_null(s);
}

/* A blob referenced by an answer outlives its replacement in the store. */
static void test_blob_outlives_replacement(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(1 << 20);
    origin_store_put(s, "/p.m3u8", origin_blob_new("#EXTM3U\n", 8), 0, NULL, 0);
    origin_blob_t *held = origin_blob_ref(origin_store_get(s, "/p.m3u8", NULL));
    origin_store_put(s, "/p.m3u8", origin_blob_new("#EXTM3U\n#x\n", 11), 0,
                     NULL, 0);
    origin_store_free(&s);
    assert_memory_equal(held->data, "#EXTM3U\n", 8); /* still valid */
    origin_blob_unref(&held);
}

/* Over the limit, the oldest media files go first, then playlists; the
 * file just put never; evictions are counted. */
static void test_eviction_order(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(4000);
    origin_store_put(s, "/l/index.m3u8", blob_of(500, 'p'), 0, NULL, 0);
    origin_store_put(s, "/l/seg_1.m4s", blob_of(1000, 'a'), 1, NULL, 0);
    origin_store_put(s, "/l/seg_2.m4s", blob_of(1000, 'b'), 2, NULL, 0);
    origin_store_put(s, "/l/seg_3.m4s", blob_of(1000, 'c'), 3, NULL, 0);
    /* 3500 bytes. The playlist is replaced (it is now the newest file). */
    origin_store_put(s, "/l/index.m3u8", blob_of(400, 'q'), 4, NULL, 0);
    origin_store_stats_t st;
    origin_store_stats(s, &st);
    assert_int_equal(st.bytes, 3400);
    assert_int_equal(st.evictions, 0);
    /* 4400 > 4000: seg_1 (the oldest media file) goes, not the playlist,
     * which is older than seg_4. */
    origin_store_put(s, "/l/seg_4.m4s", blob_of(1000, 'd'), 5, NULL, 0);
    assert_null(origin_store_get(s, "/l/seg_1.m4s", NULL));
    assert_non_null(origin_store_get(s, "/l/seg_2.m4s", NULL));
    assert_non_null(origin_store_get(s, "/l/index.m3u8", NULL));
    origin_store_stats(s, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.evicted_bytes, 1000);
    assert_int_equal(st.bytes, 3400);
    /* A file as large as the store evicts everything else, playlists last
     * (media first even though the playlist is older than seg_4). */
    origin_store_put(s, "/l/big.m4s", blob_of(3600, 'e'), 6, NULL, 0);
    assert_null(origin_store_get(s, "/l/seg_4.m4s", NULL));
    assert_non_null(origin_store_get(s, "/l/big.m4s", NULL));
    assert_non_null(origin_store_get(s, "/l/index.m3u8", NULL));
    origin_store_put(s, "/l/big2.m4s", blob_of(3900, 'f'), 7, NULL, 0);
    assert_null(origin_store_get(s, "/l/big.m4s", NULL));
    assert_null(origin_store_get(s, "/l/index.m3u8", NULL));
    origin_store_stats(s, &st);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.bytes, 3900);
    assert_int_equal(st.evictions, 6);
    /* Larger than the whole store: refused, nothing evicted. */
    assert_int_equal(
        origin_store_put(s, "/l/huge.m4s", blob_of(4001, 'g'), 8, NULL, 0),
        -EFBIG);
    assert_non_null(origin_store_get(s, "/l/big2.m4s", NULL));
    origin_store_free(&s);
}

static void test_hints_follow_playlists(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(1 << 20);
    int64_t hold = 0;
    origin_store_put(s, "/l/a/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     "/l/a/seg_1.2.m4s", 6000);
    assert_true(origin_store_hinted(s, "/l/a/seg_1.2.m4s", &hold));
    assert_int_equal(hold, 6000);
    assert_false(origin_store_hinted(s, "/l/a/seg_1.3.m4s", NULL));
    /* A newer playlist moves the hint. */
    origin_store_put(s, "/l/a/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     "/l/a/seg_1.3.m4s", 6000);
    assert_false(origin_store_hinted(s, "/l/a/seg_1.2.m4s", NULL));
    assert_true(origin_store_hinted(s, "/l/a/seg_1.3.m4s", NULL));
    /* A playlist without a hint, or one deleted, hints nothing. */
    origin_store_put(s, "/l/b/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     "/l/b/seg_9.0.m4s", 6000);
    origin_store_put(s, "/l/a/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     NULL, 0);
    assert_false(origin_store_hinted(s, "/l/a/seg_1.3.m4s", NULL));
    assert_true(origin_store_hinted(s, "/l/b/seg_9.0.m4s", NULL));
    origin_store_delete(s, "/l/b/index.m3u8");
    assert_false(origin_store_hinted(s, "/l/b/seg_9.0.m4s", NULL));
    origin_store_free(&s);
}

/* Many files: the table grows and every file is still found. */
/* A playlist's own report is noted until the playlist is replaced. */
static void test_reports_follow_playlists(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(1 << 20);
    origin_report_t r;
    assert_int_equal(
        origin_store_set_report(s, "/l/a/index.m3u8", (origin_report_t){48, 1}),
        -ENOENT);
    origin_store_put(s, "/l/a/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     NULL, 0);
    assert_false(origin_store_report(s, "/l/a/index.m3u8", &r));
    assert_int_equal(
        origin_store_set_report(s, "/l/a/index.m3u8", (origin_report_t){48, 1}),
        0);
    assert_true(origin_store_report(s, "/l/a/index.m3u8", &r));
    assert_int_equal(r.last_msn, 48);
    assert_int_equal(r.last_part, 1);
    origin_store_put(s, "/l/a/index.m3u8", origin_blob_new("#EXTM3U\n", 8), 0,
                     NULL, 0);
    assert_false(origin_store_report(s, "/l/a/index.m3u8", &r));
    origin_store_free(&s);
}

static void test_many_files(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(1 << 24);
    char path[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof(path), "/live/s/r/seg_%05d.m4s", i);
        assert_int_equal(
            origin_store_put(s, path, origin_blob_new(path, 10), i, NULL, 0),
            0);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(path, sizeof(path), "/live/s/r/seg_%05d.m4s", i);
        assert_non_null(origin_store_get(s, path, NULL));
    }
    origin_store_free(&s);
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(origin_content_type("/a/index.m3u8"),
                        "application/vnd.apple.mpegurl");
    assert_string_equal(origin_content_type("/a/seg_1.2.m4s"),
                        "video/iso.segment");
    assert_string_equal(origin_content_type("/a/init_1.mp4"), "video/mp4");
    assert_string_equal(origin_content_type("/a/seg_1.ts"), "video/mp2t");
    assert_string_equal(origin_content_type("/a/thumb.jpg"), "image/jpeg");
    assert_true(origin_path_is_immutable("/a/seg_1.2.m4s"));
    assert_false(origin_path_is_immutable("/a/thumb.jpg"));
    assert_false(origin_path_is_immutable("/a/index.m3u8"));
    assert_true(origin_path_is_playlist("/a/index.m3u8"));
}

TEST_MAIN(cmocka_unit_test(test_put_get_replace_delete),
          cmocka_unit_test(test_blob_outlives_replacement),
          cmocka_unit_test(test_eviction_order),
          cmocka_unit_test(test_hints_follow_playlists),
          cmocka_unit_test(test_reports_follow_playlists),
          cmocka_unit_test(test_many_files), cmocka_unit_test(test_types))
