/* Tests for worker/segment_align: table-driven cuts, selection and jumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "segment_align.h"
#include "test_main.h"

/* 90 kHz ticks: a 30 fps frame, half of it, a 2 s target. */
#define FRAME  3000
#define HALF   1500
#define TARGET 180000
#define NMAX   8

/* A source of N frames at 30 fps: keyframes every GOP frames from
 * FIRST_KEY on (GOP 0: FIRST_KEY only), the first boundary allowed from
 * frame FIRST_OK; WANT lists the boundary frames (-1 ends it). */
typedef struct {
    const char *name;
    bool remuxing;
    int n, first_key, gop, first_ok;
    int want[NMAX];
} decide_case_t;

static const decide_case_t decide_cases[] = {
    {"encoded, one keyframe: on the grid",
     false,
     200,
     0,
     0,
     0,
     {0, 60, 120, 180, -1}},
    {"encoded: the source's GOP does not matter",
     false,
     200,
     0,
     45,
     0,
     {0, 60, 120, 180, -1}},
    {"encoded: the first boundary waits for a keyframe",
     false,
     100,
     10,
     30,
     0,
     {10, 70, -1}},
    {"encoded: and for the resume point",
     false,
     160,
     0,
     30,
     20,
     {30, 90, 150, -1}},
    {"remux, 59-frame GOP: every keyframe (1.967 s), not every other",
     true,
     200,
     0,
     59,
     0,
     {0, 59, 118, 177, -1}},
    {"remux, 1 s GOP: every other keyframe",
     true,
     200,
     0,
     30,
     0,
     {0, 60, 120, 180, -1}},
    {"remux, 1.5 s GOP: the keyframe nearest the target",
     true,
     200,
     0,
     45,
     0,
     {0, 45, 90, 135, 180, -1}},
    {"remux, 4 s GOP: each keyframe", true, 250, 0, 120, 0, {0, 120, 240, -1}},
    {"remux, no keyframe after the first: every two targets",
     true,
     250,
     0,
     0,
     0,
     {0, 120, 240, -1}},
};

static bool is_key(const decide_case_t *c, int i)
{
    if (i < c->first_key)
        return false;
    return c->gop ? (i - c->first_key) % c->gop == 0 : i == c->first_key;
}

static void test_decide(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(decide_cases) / sizeof(decide_cases[0]);
         k++) {
        const decide_case_t *c = &decide_cases[k];
        segment_align_t a;
        segment_align_init(&a, TARGET, HALF);
        int got[64], n = 0;
        for (int i = 0; i < c->n; i++) {
            if (segment_align_decide(&a, (int64_t)i * FRAME, is_key(c, i),
                                     c->remuxing, i >= c->first_ok) &&
                n < 64)
                got[n++] = i;
        }
        print_message("case: %s -> %d boundaries\n", c->name, n);
        int w = 0;
        while (w < NMAX && c->want[w] >= 0)
            w++;
        assert_int_equal(n, w);
        for (int i = 0; i < n; i++)
            assert_int_equal(got[i], c->want[i]);
    }
}

/* A remuxing session whose keyframe lands late by a frame still cuts
 * there, and the next cut counts from it. */
static void test_decide_late_keyframe(void **state)
{
    (void)state;
    segment_align_t a;
    segment_align_init(&a, TARGET, HALF);
    assert_true(segment_align_decide(&a, 0, true, true, true));
    assert_false(segment_align_decide(&a, 177000, false, true, true));
    assert_true(segment_align_decide(&a, 183000, true, true, true));
    assert_int_equal(a.last_bnd, 183000);
    assert_int_equal(a.key_gap, 183000);
    assert_false(segment_align_decide(&a, 183000 + 88500, true, true, true));
}

static void test_ring(void **state)
{
    (void)state;
    segment_align_ring_t g;
    segment_align_bnd_t b;
    memset(&g, 0, sizeof(g));
    segment_align_ring_push(&g, 100, 1);
    segment_align_ring_push(&g, 200, 2);
    assert_true(segment_align_ring_has(&g, 200));
    assert_false(segment_align_ring_has(&g, 150));
    /* Two renditions (bits 0 and 1): complete when both reached it. */
    segment_align_ring_reach(&g, 0, 100);
    assert_false(segment_align_ring_pop(&g, 3, &b));
    segment_align_ring_reach(&g, 1, 200); /* the later one first */
    assert_false(segment_align_ring_pop(&g, 3, &b));
    segment_align_ring_reach(&g, 1, 100);
    assert_true(segment_align_ring_pop(&g, 3, &b));
    assert_int_equal(b.pts, 100);
    assert_int_equal(b.read_us, 1);
    assert_false(segment_align_ring_pop(&g, 3, &b));
    /* Rendition 0 dropped: the mask shrinks, the boundary completes. */
    assert_true(segment_align_ring_pop(&g, 2, &b));
    assert_int_equal(b.pts, 200);
    assert_false(segment_align_ring_has(&g, 200));
    assert_false(segment_align_ring_pop(&g, 0, &b));
    /* A full ring forgets its oldest. */
    for (int i = 0; i <= SEGMENT_ALIGN_RING; i++)
        segment_align_ring_push(&g, 1000 + i, 0);
    assert_false(segment_align_ring_has(&g, 1000));
    assert_true(segment_align_ring_has(&g, 1001));
    assert_true(segment_align_ring_has(&g, 1000 + SEGMENT_ALIGN_RING));
    assert_true(segment_align_ring_pop(&g, 0, &b));
    assert_int_equal(b.pts, 1001);
}

/* 60 fps source frames (by index, -1 ends), boundaries among them, and the
 * frames a 30 fps rendition keeps. */
typedef struct {
    const char *name;
    int step, fps;
    int frames[16];
    int boundary; /* frame index that is a boundary, -1: none */
    bool want[16];
} select_case_t;

static const select_case_t select_cases[] = {
    {"every frame at step 1", 1, 60, {0, 1, 2, 3, -1}, -1, {1, 1, 1, 1}},
    {"60->30: every other frame",
     2,
     30,
     {0, 1, 2, 3, 4, 5, -1},
     -1,
     {1, 0, 1, 0, 1, 0}},
    {"a dropped source frame does not shift the later ones",
     2,
     30,
     {0, 1, 2, 4, 5, 6, -1},
     -1,
     {1, 0, 1, 1, 0, 1}},
    {"a frame missing from a slot: the next one takes it",
     2,
     30,
     {0, 1, 3, 4, 5, -1},
     -1,
     {1, 0, 1, 1, 0}},
    {"a boundary is kept and sets the phase",
     2,
     30,
     {0, 1, 2, 3, 4, 5, -1},
     3,
     {1, 0, 1, 1, 0, 1}},
    {"60->20: one in three",
     3,
     20,
     {0, 1, 2, 3, 4, 5, 6, -1},
     -1,
     {1, 0, 0, 1, 0, 0, 1}},
};

static void test_select(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(select_cases) / sizeof(select_cases[0]);
         k++) {
        const select_case_t *c = &select_cases[k];
        segment_align_sel_t sel = {0};
        print_message("case: %s\n", c->name);
        for (int i = 0; c->frames[i] >= 0; i++) {
            int f = c->frames[i];
            int64_t pts_us = (int64_t)f * 1000000 / 60;
            int64_t at_us = -1;
            bool kept = segment_align_select(&sel, c->step, c->fps, 1, pts_us,
                                             f == c->boundary, &at_us);
            assert_int_equal(kept, c->want[i]);
            /* Kept frames go to the output rate's grid: at most half an
             * output frame before their own time, never after it. */
            if (kept)
                assert_true(at_us <= pts_us &&
                            pts_us - at_us <= 500000 / c->fps + 1);
        }
    }
}

/* Frames at the source's own rate (30 fps): times in ms as stamped, the
 * boundary's index, and each frame's time out in ms (-1: dropped). */
static const struct {
    const char *name;
    int64_t ms[12];
    int n, boundary;
    int64_t want[12];
} even_cases[] = {
    {"even times stay", {0, 33, 67, 100, 133}, 5, -1, {0, 33, 67, 100, 133}},
    {"GStreamer's live B-frames, stamped late, come out even",
     {4, 70, 93, 104, 162, 186, 204, 255, 279, 304},
     10,
     -1,
     {4, 37, 71, 104, 137, 171, 204, 237, 271, 304}},
    {"a gap of three frames: the count follows the time",
     {0, 33, 67, 200, 233},
     5,
     -1,
     {0, 33, 67, 200, 233}},
    {"more frames than the rate: those over 2.5 slots ahead are dropped",
     {0, 10, 20, 30, 40, 50, 60, 70, 80},
     9,
     -1,
     {0, 10, 20, 30, -1, 50, -1, -1, -1}},
    {"a boundary keeps its own time and sets the grid",
     {0, 40, 70, 105, 140},
     5,
     3,
     {0, 33, 67, 105, 138}},
    {"never after a frame's own time: early ones keep theirs and move the "
     "grid back",
     {0, 30, 60, 90, 133},
     5,
     -1,
     {0, 30, 60, 90, 123}},
    {"a boundary stamped late: the frames after it never a slot apart, "
     "none dropped",
     {24, 35, 77, 90, 133, 150, 200, 205, 260, 280},
     10,
     0,
     {24, 35, 68, 90, 123, 150, 183, 205, 238, 271}},
    {"frames stamped up to two slots late are not a gap",
     {0, 33, 67, 155, 160, 167, 200},
     7,
     -1,
     {0, 33, 67, 100, 133, 167, 200}},
};

static void test_select_even(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(even_cases) / sizeof(even_cases[0]); k++) {
        segment_align_sel_t sel = {0};
        print_message("case: %s\n", even_cases[k].name);
        for (int i = 0; i < even_cases[k].n; i++) {
            int64_t at_us = -1;
            bool kept =
                segment_align_select(&sel, 1, 30, 1, even_cases[k].ms[i] * 1000,
                                     i == even_cases[k].boundary, &at_us);
            int64_t want = even_cases[k].want[i];
            assert_int_equal(kept, want >= 0);
            if (kept)
                assert_true(llabs(at_us / 1000 - want) <= 1);
        }
    }
}

/* Gaps filled: frames (ms, 30 fps unless STEP 2 from 60) after a
 * boundary at 0; the copies the last one asks for and their times. */
static const struct {
    const char *name;
    int step;
    int64_t ms[6];
    int n;
    int64_t fill;
    int64_t fill_ms[3];
} fill_cases[] = {
    {"no gap: no copy", 1, {0, 33, 67}, 3, 0, {0}},
    {"three frames missing: three copies before the next",
     1,
     {0, 33, 67, 200},
     4,
     3,
     {100, 133, 167}},
    {"two frames missing: counted on, no copy (a late frame is no gap)",
     1,
     {0, 33, 67, 133},
     4,
     0,
     {0}},
    {"more than a second missing: left a gap", 1, {0, 33, 1400}, 3, 0, {0}},
    {"60->30, three source frames missing: one copy",
     2,
     {0, 17, 34, 100},
     4,
     1,
     {67}},
};

static void test_select_fill(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(fill_cases) / sizeof(fill_cases[0]); k++) {
        segment_align_sel_t sel = {0};
        int num = 30, den = 1; /* the rendition's rate */
        int64_t at_us;
        print_message("case: %s\n", fill_cases[k].name);
        for (int i = 0; i < fill_cases[k].n; i++)
            segment_align_select(&sel, fill_cases[k].step, num, den,
                                 fill_cases[k].ms[i] * 1000, i == 0, &at_us);
        assert_int_equal(sel.fill, fill_cases[k].fill);
        for (int64_t j = 0; j < sel.fill; j++) {
            int64_t us = segment_align_slot_us(&sel, num, den,
                                               sel.last_slot - sel.fill + j);
            assert_true(llabs(us / 1000 - fill_cases[k].fill_ms[j]) <= 1);
        }
    }
}

/* Packets of a stream (0 video, 1 audio) at a raw dts with a step; WANT
 * whether it jumps and the shift after it. */
typedef struct {
    int stream;
    int64_t us, step;
    bool jump;
    int64_t shift;
} disc_step_t;

static const struct {
    const char *name;
    disc_step_t s[6];
    int n;
} disc_cases[] = {
    {"steady: no shift",
     {{0, 0, 33333, 0, 0}, {0, 33333, 33333, 0, 0}, {1, 10000, 21333, 0, 0}},
     3},
    {"back by more than 0.5 s: goes on one frame later",
     {{0, 5000000, 33333, 0, 0},
      {0, 1000000, 33333, 1, 4033333},
      {0, 1033333, 33333, 0, 4033333}},
     3},
    {"back by less than 0.5 s: not a break",
     {{0, 5000000, 33333, 0, 0}, {0, 4600000, 33333, 0, 0}},
     2},
    {"forward by more than 10 s: goes on one frame later",
     {{0, 0, 33333, 0, 0}, {0, 20000000, 33333, 1, -19966667}},
     2},
    {"forward by 10 s: not a break",
     {{0, 0, 33333, 0, 0}, {0, 10000000, 33333, 0, 0}},
     2},
    {"one shift for every stream: the audio follows the video's",
     {{0, 5000000, 33333, 0, 0},
      {1, 5000000, 21333, 0, 0},
      {0, 0, 33333, 1, 5033333},
      {1, 0, 21333, 0, 5033333}},
     4},
};

static void test_disc(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(disc_cases) / sizeof(disc_cases[0]); k++) {
        segment_align_disc_t d = {0};
        print_message("case: %s\n", disc_cases[k].name);
        for (int i = 0; i < disc_cases[k].n; i++) {
            const disc_step_t *p = &disc_cases[k].s[i];
            int64_t jump = 0;
            bool j = segment_align_disc(&d, p->stream, p->us, p->step, &jump);
            assert_int_equal(j, p->jump);
            assert_int_equal(d.shift_us, p->shift);
        }
    }
}

static const struct {
    const char *name;
    int64_t out, resume, tol;
    uint64_t was, now;
    segment_align_resume_t want;
} resume_cases[] = {
    {"on the end", 60000000, 60000000, 16667, 0, 0, SEGMENT_ALIGN_FOLLOWS},
    {"within half a frame", 60010000, 60000000, 16667, 0, 0,
     SEGMENT_ALIGN_FOLLOWS},
    {"before the end: published", 58000000, 60000000, 16667, 0, 0,
     SEGMENT_ALIGN_PUBLISHED},
    {"after the end: a gap, re-based", 61000000, 60000000, 16667, 0, 0,
     SEGMENT_ALIGN_REBASE},
    {"more than 15 s back, ids unknown: another publish", 40000000, 60000000,
     16667, 0, 0, SEGMENT_ALIGN_REBASE},
    {"more than 15 s back, same publish: published", 40000000, 60000000, 16667,
     7, 7, SEGMENT_ALIGN_PUBLISHED},
    {"another publish, before the end: re-based", 58000000, 60000000, 16667, 7,
     8, SEGMENT_ALIGN_REBASE},
    {"another publish, on the end: re-based", 60000000, 60000000, 16667, 7, 8,
     SEGMENT_ALIGN_REBASE},
    {"one id unknown: by time", 58000000, 60000000, 16667, 0, 8,
     SEGMENT_ALIGN_PUBLISHED},
};

static void test_resume(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(resume_cases) / sizeof(resume_cases[0]);
         k++) {
        print_message("case: %s\n", resume_cases[k].name);
        assert_int_equal(
            segment_align_resume(resume_cases[k].out, resume_cases[k].resume,
                                 resume_cases[k].tol, resume_cases[k].was,
                                 resume_cases[k].now),
            resume_cases[k].want);
    }
}

static void test_audio_and_tail(void **state)
{
    (void)state;
    /* An audio-only rendition: 2 s segments, cut 5 ms early at most. */
    assert_false(segment_align_audio_cut(10000000, 11994999, 2000000));
    assert_true(segment_align_audio_cut(10000000, 11995000, 2000000));
    assert_true(segment_align_audio_cut(10000000, 12021333, 2000000));
    /* VOD: a last segment under a quarter of the target joins the one
     * before. */
    assert_true(segment_align_joins_tail(0.49, 2.0));
    assert_false(segment_align_joins_tail(0.5, 2.0));
    assert_false(segment_align_joins_tail(1.9, 2.0));
}

TEST_MAIN(cmocka_unit_test(test_decide),
          cmocka_unit_test(test_decide_late_keyframe),
          cmocka_unit_test(test_ring), cmocka_unit_test(test_select),
          cmocka_unit_test(test_select_even),
          cmocka_unit_test(test_select_fill), cmocka_unit_test(test_disc),
          cmocka_unit_test(test_resume), cmocka_unit_test(test_audio_and_tail))
