/* Tests of the origin's disk spill: the store's bookkeeping (what is in
 * memory, being written, on disk) and the files in a real directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "origin_spill.h"
#include "origin_store.h"
#include "test_main.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    char dir[64];
    origin_store_t *s;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/prism-spill-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char err[256];
    if (origin_spill_open(f->dir, err, sizeof(err)) < 0)
        return -1;
    /* 3000 bytes in memory, 5000 on disk. */
    f->s = origin_store_new(3000);
    origin_store_set_spill(f->s, 5000);
    *state = f;
    return 0;
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    origin_store_free(&f->s);
    char err[256];
    origin_spill_open(f->dir, err, sizeof(err)); /* empties it */
    rmdir(f->dir);
    free(f);
    return 0;
}

static void put(fx_t *f, const char *path, size_t n, char fill)
{
    char buf[4096];
    memset(buf, fill, n);
    pthread_mutex_lock(&mu);
    assert_true(
        origin_store_put(f->s, path, origin_blob_new(buf, n), 0, NULL, 0) >= 0);
    origin_spill_run(f->s, &mu, f->dir);
    pthread_mutex_unlock(&mu);
}

/* path's bytes, from memory or disk, checked to be n times fill. */
static bool holds(fx_t *f, const char *path, size_t n, char fill)
{
    origin_blob_t *b = origin_store_get(f->s, path, NULL);
    uint64_t id;
    size_t len;
    int err = 0;
    if (b)
        b = origin_blob_ref(b);
    else if (origin_store_on_disk(f->s, path, &id, &len))
        b = origin_spill_read(f->dir, id, len, &err);
    if (!b)
        return false;
    bool ok = b->len == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = b->data[i] == fill;
    origin_blob_unref(&b);
    return ok;
}

/* Memory evicts media to disk, oldest first; what is on disk is served
 * from there, and past the disk's limit the oldest go for good. */
static void test_spill_and_drop(void **state)
{
    fx_t *f = *state;
    origin_store_stats_t st;
    put(f, "/l/index.m3u8", 500, 'p');
    for (int i = 0; i < 4; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/l/seg_%d.m4s", i);
        put(f, p, 1000, (char)('a' + i));
    }
    /* 4500 > 3000: seg_0 and seg_1 went to disk, the playlist stayed. */
    uint64_t id;
    size_t len;
    assert_true(origin_store_on_disk(f->s, "/l/seg_0.m4s", &id, &len));
    assert_int_equal(len, 1000);
    assert_null(origin_store_get(f->s, "/l/seg_0.m4s", NULL));
    assert_false(origin_store_on_disk(f->s, "/l/seg_3.m4s", &id, &len));
    assert_true(holds(f, "/l/seg_0.m4s", 1000, 'a'));
    assert_true(holds(f, "/l/seg_1.m4s", 1000, 'b'));
    assert_true(holds(f, "/l/seg_3.m4s", 1000, 'd'));
    assert_true(holds(f, "/l/index.m3u8", 500, 'p'));
    origin_store_stats(f->s, &st);
    assert_int_equal(st.bytes, 2500);
    assert_int_equal(st.spill_bytes, 2000);
    assert_int_equal(st.spill_files, 2);
    assert_int_equal(st.spill_writes, 2);
    assert_int_equal(st.files, 5);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(files_in(f->dir), 2);
    /* Four more: 6000 bytes would be on disk; the oldest (seg_0) goes. */
    for (int i = 4; i < 8; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/l/seg_%d.m4s", i);
        put(f, p, 1000, (char)('a' + i));
    }
    origin_store_stats(f->s, &st);
    assert_int_equal(st.spill_bytes, 5000);
    assert_int_equal(st.evictions, 1);
    assert_false(holds(f, "/l/seg_0.m4s", 1000, 'a'));
    assert_true(holds(f, "/l/seg_1.m4s", 1000, 'b'));
    assert_int_equal(files_in(f->dir), 5);
}

/* Deleting or replacing a spilled file removes its file on disk. */
static void test_delete_and_replace(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 5; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/l/seg_%d.m4s", i);
        put(f, p, 1000, (char)('a' + i));
    }
    assert_int_equal(files_in(f->dir), 2);
    pthread_mutex_lock(&mu);
    assert_int_equal(origin_store_delete(f->s, "/l/seg_0.m4s"), 0);
    origin_spill_run(f->s, &mu, f->dir);
    pthread_mutex_unlock(&mu);
    assert_false(holds(f, "/l/seg_0.m4s", 1000, 'a'));
    assert_int_equal(files_in(f->dir), 1);
    put(f, "/l/seg_1.m4s", 700, 'z'); /* back in memory, new bytes */
    assert_true(holds(f, "/l/seg_1.m4s", 700, 'z'));
    origin_store_stats_t st;
    origin_store_stats(f->s, &st);
    /* seg_1's old file went; the new seg_1 made seg_2 spill. */
    assert_int_equal(st.spill_files, 1);
    assert_int_equal(files_in(f->dir), 1);
    assert_true(holds(f, "/l/seg_2.m4s", 1000, 'c'));
}

/* A write that went for nothing (its entry deleted while it was written)
 * leaves no file; a write that fails drops the entry, counted. */
static void test_write_races_and_failures(void **state)
{
    fx_t *f = *state;
    char buf[1000];
    memset(buf, 'x', sizeof(buf));
    for (int i = 0; i < 5; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/l/seg_%d.m4s", i);
        origin_store_put(f->s, p, origin_blob_new(buf, 1000), 0, NULL, 0);
    }
    origin_spill_job_t jobs[4];
    assert_int_equal(origin_store_spill_jobs(f->s, jobs, 4), 2);
    /* Being written: still served from memory. */
    assert_non_null(origin_store_get(f->s, "/l/seg_0.m4s", NULL));
    assert_int_equal(origin_store_delete(f->s, "/l/seg_0.m4s"), 0);
    assert_int_equal(origin_spill_write(f->dir, jobs[0].id, jobs[0].blob), 0);
    origin_store_spill_done(f->s, &jobs[0], true);
    origin_store_spill_done(f->s, &jobs[1], false);
    pthread_mutex_lock(&mu);
    origin_spill_run(f->s, &mu, f->dir); /* the removal of seg_0's file */
    pthread_mutex_unlock(&mu);
    assert_int_equal(files_in(f->dir), 0);
    assert_null(origin_store_get(f->s, "/l/seg_1.m4s", NULL));
    origin_store_stats_t st;
    origin_store_stats(f->s, &st);
    assert_int_equal(st.spill_failures, 1);
    assert_int_equal(st.spill_files, 0);
    assert_int_equal(st.spill_bytes, 0);
    assert_int_equal(st.files, 3);
    /* A directory that cannot be written: the write fails, nothing stays. */
    origin_blob_t *b = origin_blob_new("abc", 3);
    int err = 0;
    assert_true(origin_spill_write("/nonexistent/prism", 1, b) < 0);
    assert_null(origin_spill_read("/nonexistent/prism", 1, 3, &err));
    assert_int_equal(err, -ENOENT);
    /* A file shorter than listed is an error, not a short answer. */
    assert_int_equal(origin_spill_write(f->dir, 7, b), 0);
    assert_null(origin_spill_read(f->dir, 7, 4, &err));
    assert_int_equal(err, -EIO);
    origin_spill_remove(f->dir, 7);
    origin_blob_unref(&b);
}

/* Without a spill, memory drops what it evicts (no jobs). */
static void test_no_spill(void **state)
{
    (void)state;
    origin_store_t *s = origin_store_new(2000);
    char buf[1000] = {0};
    for (int i = 0; i < 3; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/l/seg_%d.m4s", i);
        origin_store_put(s, p, origin_blob_new(buf, 1000), 0, NULL, 0);
    }
    origin_spill_job_t jobs[4];
    assert_int_equal(origin_store_spill_jobs(s, jobs, 4), 0);
    uint64_t id;
    size_t len;
    assert_false(origin_store_on_disk(s, "/l/seg_0.m4s", &id, &len));
    origin_store_stats_t st;
    origin_store_stats(s, &st);
    assert_int_equal(st.evictions, 1);
    origin_store_free(&s);
}

/* Opening the directory removes an earlier run's spill files only. */
static void test_open_empties(void **state)
{
    fx_t *f = *state;
    origin_blob_t *b = origin_blob_new("abc", 3);
    assert_int_equal(origin_spill_write(f->dir, 42, b), 0);
    origin_blob_unref(&b);
    char other[128];
    snprintf(other, sizeof(other), "%s/keep.txt", f->dir);
    FILE *o = fopen(other, "w");
    assert_non_null(o);
    fclose(o);
    char err[256];
    assert_int_equal(origin_spill_open(f->dir, err, sizeof(err)), 0);
    assert_int_equal(files_in(f->dir), 1);
    unlink(other);
    assert_true(
        origin_spill_open("/nonexistent/prism/spill", err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/prism/spill"));
}

TEST_MAIN(cmocka_unit_test_setup_teardown(test_spill_and_drop, setup, teardown),
          cmocka_unit_test_setup_teardown(test_delete_and_replace, setup,
                                          teardown),
          cmocka_unit_test_setup_teardown(test_write_races_and_failures, setup,
                                          teardown),
          cmocka_unit_test(test_no_spill),
          cmocka_unit_test_setup_teardown(test_open_empties, setup, teardown))
