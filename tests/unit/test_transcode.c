/* Tests for worker/transcode through its API: a custom packet source, a
 * live overload that must drop and count, segment callbacks, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "ladder.h"
#include "log.h"
#include "packet_source.h"
#include "transcode.h"

static char dir[128], input[200];

/* A source of another kind: it wraps a libavformat source and counts
 * reads, standing in for the ZeroMQ source of a later issue. */
typedef struct {
    packet_source_t *inner;
    int reads;
} wrap_t;

static int wrap_read(packet_source_t *src, AVPacket *pkt)
{
    wrap_t *w = src->priv;
    w->reads++;
    return packet_source_read(w->inner, pkt);
}

static void wrap_interrupt(packet_source_t *src)
{
    wrap_t *w = src->priv;
    packet_source_interrupt(w->inner);
}

static int reads_seen;

static void wrap_close(packet_source_t *src)
{
    wrap_t *w = src->priv;
    reads_seen = w->reads;
    packet_source_free(&w->inner);
    free(w);
}

static const packet_source_ops_t wrap_ops = {
    .kind = "test",
    .read = wrap_read,
    .interrupt = wrap_interrupt,
    .close = wrap_close,
};

static packet_source_t *wrap_open(bool live)
{
    packet_source_t *src = calloc(1, sizeof(*src));
    wrap_t *w = calloc(1, sizeof(*w));
    assert_non_null(src);
    assert_non_null(w);
    w->inner = packet_source_open_url(input, false);
    assert_non_null(w->inner);
    src->ops = &wrap_ops;
    src->priv = w;
    src->live = live;
    snprintf(src->name, sizeof(src->name), "test:%s", input);
    /* The streams are described by the new source itself. */
    src->nb_streams = w->inner->nb_streams;
    for (int i = 0; i < src->nb_streams; i++) {
        src->streams[i] = w->inner->streams[i];
        src->streams[i].par = avcodec_parameters_alloc();
        assert_non_null(src->streams[i].par);
        avcodec_parameters_copy(src->streams[i].par, w->inner->streams[i].par);
    }
    return src;
}

static int nsegments;
static double seg_duration;

static void on_segment(void *opaque, const transcode_segment_t *seg)
{
    (void)opaque;
    nsegments++;
    seg_duration = seg->duration_s;
    assert_true(seg->lag_s >= 0);
}

static int setup(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(dir, sizeof(dir), "/tmp/prism-test-transcode-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(input, sizeof(input), "%s/in.ts", dir);
    /* 6 s of 720p30 with 2 s GOPs: heavier to transcode than to read. */
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i "
             "testsrc2=s=1280x720:r=30:d=6 -f lavfi -i sine=d=6 -c:v libx264 "
             "-preset ultrafast -g 60 -c:a aac -shortest %s",
             input);
    assert_int_equal(system(cmd), 0);
    av_log_set_level(AV_LOG_QUIET);
    log_set_level(LOG_LEVEL_WARN);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static transcode_opts_t opts(const char *sub)
{
    transcode_opts_t o;
    transcode_opts_default(&o);
    snprintf(o.output, sizeof(o.output), "%s/%s", dir, sub);
    o.backend = HWPLAN_SOFTWARE;
    o.preset = "ultrafast";
    o.thumbnail_s = 0;
    o.on_segment = on_segment;
    return o;
}

static void test_custom_source_file(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("file");
    nsegments = 0;
    transcode_session_t *s = transcode_session_new(wrap_open(false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    /* A file is never dropped; three 2 s segments, two boundaries done. */
    assert_int_equal(st.dropped_packets, 0);
    assert_int_equal(st.frames_decoded, 180);
    assert_int_equal(st.renditions, 5);
    assert_int_equal(nsegments, 2);
    assert_true(seg_duration > 1.9 && seg_duration < 2.1);
    transcode_session_free(&s);
    assert_null(s);
    assert_true(reads_seen > 180);
    char path[400];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/file/master.m3u8", dir);
    assert_int_equal(stat(path, &sb), 0);
    snprintf(path, sizeof(path), "%s/file/360p30/index.m3u8", dir);
    assert_int_equal(stat(path, &sb), 0);
}

static void test_live_overload_drops_and_counts(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("live");
    o.queue_packets = 8;
    o.preset = "medium"; /* far slower than reading the file */
    /* A live source that delivers packets as fast as it reads them. */
    transcode_session_t *s = transcode_session_new(wrap_open(true), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    assert_true(st.dropped_packets > 0);
    assert_true(st.frames_decoded < 180);
    assert_true(st.packets_in > st.dropped_packets);
    transcode_session_free(&s);
}

static void *stopper(void *arg)
{
    usleep(300000);
    transcode_session_stop(arg);
    return NULL;
}

static void test_stop_ends_early(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    pthread_t t;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("stop");
    o.preset = "medium";
    transcode_session_t *s = transcode_session_new(wrap_open(false), &p, &o);
    assert_non_null(s);
    assert_int_equal(pthread_create(&t, NULL, stopper, s), 0);
    assert_int_equal(transcode_session_run(s), 0);
    pthread_join(t, NULL);
    transcode_session_stats(s, &st);
    assert_true(st.frames_decoded < 180);
    transcode_session_free(&s);
}

static void test_take_over_continues_playlists(void **state)
{
    (void)state;
    ladder_profile_t p;
    char path[400], text[4096] = "";
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("takeover");
    o.start_sequence = 41;
    o.discontinuity = true;
    transcode_session_t *s = transcode_session_new(wrap_open(false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    snprintf(path, sizeof(path), "%s/takeover/160p30/index.m3u8", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:41\n"));
    assert_non_null(strstr(text, "#EXT-X-DISCONTINUITY\n"));
    assert_non_null(strstr(text, "seg_00041.ts"));
}

static void test_bad_segment_is_refused(void **state)
{
    (void)state;
    ladder_profile_t p;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("bad");
    o.segment_s = 0.1;
    assert_null(transcode_session_new(wrap_open(false), &p, &o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_source_file),
        cmocka_unit_test(test_live_overload_drops_and_counts),
        cmocka_unit_test(test_stop_ends_early),
        cmocka_unit_test(test_take_over_continues_playlists),
        cmocka_unit_test(test_bad_segment_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
