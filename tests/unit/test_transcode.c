/* Tests for worker/transcode through its API: a custom packet source, a
 * live overload that must drop and count, segment callbacks, stop; and
 * its HTTP origin writer (worker/origin) against a loopback server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/time.h>

#include "clock.h"
#include "ladder.h"
#include "log.h"
#include "origin.h"
#include "packet_source.h"
#include "transcode.h"

static char dir[128], input[200], small[200];

/* A source of another kind: it wraps a libavformat source and counts
 * reads, standing in for the ZeroMQ source of a later issue. */
typedef struct {
    packet_source_t *inner;
    int reads;
    bool paced;       /* deliver at the media's pace, as a live feed does */
    bool garble;      /* overwrite the last 2/3 of every video packet */
    int64_t start_us; /* wall clock of the first packet, when paced */
} wrap_t;

static int wrap_read(packet_source_t *src, AVPacket *pkt)
{
    wrap_t *w = src->priv;
    w->reads++;
    int ret = packet_source_read(w->inner, pkt);
    if (ret >= 0 && w->garble &&
        w->inner->streams[pkt->stream_index].par->codec_type ==
            AVMEDIA_TYPE_VIDEO &&
        av_packet_make_writable(pkt) >= 0)
        memset(pkt->data + pkt->size / 3, 0x5a,
               (size_t)(pkt->size - pkt->size / 3));
    if (ret < 0 || !w->paced || pkt->dts == AV_NOPTS_VALUE)
        return ret;
    int64_t now = av_gettime_relative();
    if (!w->start_us)
        w->start_us = now;
    int64_t due =
        w->start_us +
        av_rescale_q(pkt->dts, w->inner->streams[pkt->stream_index].time_base,
                     AV_TIME_BASE_Q);
    if (due > now)
        av_usleep((unsigned)(due - now));
    return ret;
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

static packet_source_t *wrap_open_url(const char *url, bool live, bool paced)
{
    packet_source_t *src = calloc(1, sizeof(*src));
    wrap_t *w = calloc(1, sizeof(*w));
    assert_non_null(src);
    assert_non_null(w);
    w->inner = packet_source_open_url(url, false);
    assert_non_null(w->inner);
    w->paced = paced;
    src->ops = &wrap_ops;
    src->priv = w;
    src->live = live;
    snprintf(src->name, sizeof(src->name), "test:%s", url);
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

static packet_source_t *wrap_open(bool live)
{
    return wrap_open_url(input, live, false);
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
    /* 5 s of 320x180 at 15 fps, 1 s GOPs: a cheap live feed. */
    snprintf(small, sizeof(small), "%s/small.ts", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i "
             "testsrc2=s=320x180:r=15:d=5 -f lavfi -i sine=d=5 -c:v libx264 "
             "-preset ultrafast -g 15 -c:a aac -shortest %s",
             small);
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

/* Reads OUT/<sub>/160p30/index.m3u8 into text (size bytes). */
static void read_playlist(const char *sub, char *text, size_t size)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s/160p30/index.m3u8", dir, sub);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, size - 1, f);
    fclose(f);
    text[n] = '\0';
}

static void test_take_over_continues_playlists(void **state)
{
    (void)state;
    ladder_profile_t p;
    char text[4096];
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("takeover");
    o.start_sequence = 41;
    o.discontinuity = true;
    transcode_session_t *s = transcode_session_new(wrap_open(false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    read_playlist("takeover", text, sizeof(text));
    assert_non_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:41\n"));
    assert_non_null(strstr(text, "#EXT-X-DISCONTINUITY\n"));
    assert_non_null(strstr(text, "seg_00041.ts"));
    assert_non_null(strstr(text, "#EXT-X-ENDLIST")); /* the stream ended */
}

/* A session whose stream moves to another worker leaves its live
 * playlists open: no EXT-X-ENDLIST for players to stop at. */
static void test_moved_session_leaves_playlists_open(void **state)
{
    (void)state;
    ladder_profile_t p;
    char text[4096];
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("moved");
    transcode_session_t *s = transcode_session_new(wrap_open(false), &p, &o);
    assert_non_null(s);
    transcode_session_continues_elsewhere(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    read_playlist("moved", text, sizeof(text));
    assert_non_null(strstr(text, "#EXTINF"));
    assert_null(strstr(text, "#EXT-X-ENDLIST"));
}

/* Writes TEXT to DIR/rel, making its directories. */
static void write_out(const char *rel, const char *text)
{
    char path[400], cmd[500];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void read_out(const char *rel, char *text, size_t size);

/*
 * A moved session that lags (a slow one the stream was taken from): once
 * another session lists past its last segment, it writes nothing more of
 * that rendition: no segment file under the other's numbers, no playlist
 * that would take the other's segments away. A rendition nobody else
 * writes yet goes on as before.
 */
static void test_moved_session_yields_to_next(void **state)
{
    (void)state;
    ladder_profile_t p;
    char text[8192];
    const char *theirs = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                         "#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n"
                         "seg_00000.ts\n#EXTINF:2.000,\nseg_00001.ts\n";
    assert_int_equal(ladder_profile_default(&p), 0);
    write_out("yield/160p15/index.m3u8", theirs);
    write_out("yield/160p15/seg_00000.ts", "theirs");
    transcode_opts_t o = opts("yield");
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(small, false, false), &p, &o);
    assert_non_null(s);
    transcode_session_continues_elsewhere(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    read_out("yield/160p15/index.m3u8", text, sizeof(text));
    assert_string_equal(text, theirs);
    read_out("yield/160p15/seg_00000.ts", text, sizeof(text));
    assert_string_equal(text, "theirs");
    read_out("yield/source/index.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "seg_00000.ts"));
    assert_null(strstr(text, "#EXT-X-ENDLIST"));
}

/* Reads the whole file at DIR/rel into text (size bytes); "" if absent. */
static void read_out(const char *rel, char *text, size_t size)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(text, 1, size - 1, f);
    fclose(f);
    text[n] = '\0';
}

/* Runs one ffmpeg command line (ARGS after the common options). */
static void ffmpeg(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ffmpeg -hide_banner -loglevel error -y %s",
             args);
    assert_int_equal(system(cmd), 0);
}

/* The EXTINF durations of DIR/<sub>/<rend>/index.m3u8, in order. */
static int extinfs(const char *sub, const char *rend, double *d, int max)
{
    char path[400], line[256];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s/%s/index.m3u8", dir, sub, rend);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) && n < max) {
        if (!strncmp(line, "#EXTINF:", 8))
            d[n++] = strtod(line + 8, NULL);
    }
    fclose(f);
    return n;
}

/*
 * Segments are cut at the source keyframe nearest the target: a 59-frame
 * GOP at 30 fps against 2 s gives 1.967 s segments, not 3.93 s ones. A
 * VOD's 0.1 s tail (the last keyframe 0.1 s before the end) joins the
 * segment before; a live stream publishes it as it comes.
 */
static void test_cut_at_nearest_keyframe(void **state)
{
    (void)state;
    ladder_profile_t p;
    char in[300], args[600], text[4096];
    double d[16];
    assert_int_equal(ladder_profile_default(&p), 0);
    snprintf(in, sizeof(in), "%s/gop59.ts", dir);
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=s=320x180:r=30:d=6 -c:v libx264 "
             "-preset ultrafast -g 59 -keyint_min 59 -sc_threshold 0 %s",
             in);
    ffmpeg(args);
    for (int live = 0; live < 2; live++) {
        const char *sub = live ? "gop59live" : "gop59vod";
        transcode_opts_t o = opts(sub);
        o.vod = !live;
        transcode_session_t *s =
            transcode_session_new(wrap_open_url(in, false, false), &p, &o);
        assert_non_null(s);
        assert_int_equal(transcode_session_run(s), 0);
        transcode_session_free(&s);
        for (int k = 0; k < 2; k++) {
            int n = extinfs(sub, k ? "source" : "160p30", d, 16);
            assert_int_equal(n, live ? 4 : 3);
            for (int i = 0; i < 2; i++)
                assert_true(d[i] > 1.966 && d[i] < 1.968);
            if (live)
                assert_true(d[2] > 1.966 && d[2] < 1.968 && d[3] > 0.099 &&
                            d[3] < 0.101);
            else
                assert_true(d[2] > 2.066 && d[2] < 2.068);
        }
        snprintf(args, sizeof(args), "%s/160p30/index.m3u8", sub);
        read_out(args, text, sizeof(text));
        /* A live ladder with a Source remux has a second of room. */
        assert_non_null(strstr(text, live ? "#EXT-X-TARGETDURATION:3\n"
                                          : "#EXT-X-TARGETDURATION:2\n"));
        assert_true(!live == !!strstr(text, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    }
}

/*
 * A source whose keyframes come every 8 s (x264's default GOP, as
 * GStreamer's x264enc sends) with no Source remux in the ladder: every
 * rendition is encoded, so segments are cut on the 2 s grid, and
 * TARGETDURATION, which must never change, holds every one.
 */
static void test_long_gop_encoded_only_cuts_on_grid(void **state)
{
    (void)state;
    ladder_profile_t p;
    char in[300], args[600], err[256], text[4096];
    double d[16];
    assert_int_equal(
        ladder_profile_parse("{\"name\": \"enc\", \"renditions\": ["
                             "{\"height\": 160, \"fps\": 15, "
                             "\"bitrate_kbps\": 200, \"codec\": \"h264\"}]}",
                             &p, err, sizeof(err)),
        0);
    snprintf(in, sizeof(in), "%s/gop240.ts", dir);
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=s=320x180:r=30:d=7 -c:v libx264 "
             "-preset ultrafast -g 240 -keyint_min 240 -sc_threshold 0 %s",
             in);
    ffmpeg(args);
    transcode_opts_t o = opts("gop240");
    o.vod = true;
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(in, false, false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    int n = extinfs("gop240", "160p15", d, 16);
    assert_int_equal(n, 4); /* 2 + 2 + 2 + 1 s */
    for (int i = 0; i < 3; i++)
        if (d[i] < 1.99 || d[i] > 2.01)
            fail_msg("segment %d lasts %.3f s, not 2 s", i, d[i]);
    read_out("gop240/160p15/index.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:2\n"));
}

/* The first and last video pts (s) in the segment file DIR/rel. */
static void video_span(const char *rel, double *first, double *last)
{
    char path[400];
    AVFormatContext *fc = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(avformat_open_input(&fc, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    int vi = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    assert_true(vi >= 0);
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    *first = 1e9;
    *last = -1e9;
    while (av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == vi && pkt->pts != AV_NOPTS_VALUE) {
            double t = pkt->pts * av_q2d(fc->streams[vi]->time_base);
            *first = t < *first ? t : *first;
            *last = t > *last ? t : *last;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fc);
    assert_true(*first <= *last);
}

/*
 * Runs session A on input A into SUB (a stream that moves on), then
 * session B on input B continuing its playlists, and checks each
 * rendition's join: one EXT-X-DISCONTINUITY, the numbering goes on, and
 * B's first video frame is one frame (1/15 s) after A's last, within a
 * millisecond: nothing published twice, no gap. Returns B's first pts.
 */
static double check_continuation_ids(const char *sub, const char *a,
                                     const char *b, uint64_t ida, uint64_t idb)
{
    ladder_profile_t p;
    char rel[300], text[8192];
    double first = 0;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts(sub);
    packet_source_t *src = wrap_open_url(a, false, false);
    src->publish_id = ida;
    transcode_session_t *s = transcode_session_new(src, &p, &o);
    assert_non_null(s);
    transcode_session_continues_elsewhere(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    o.continue_playlists = true;
    src = wrap_open_url(b, false, false);
    src->publish_id = idb;
    s = transcode_session_new(src, &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_free(&s);
    const char *rends[] = {"source", "160p15"};
    for (int k = 0; k < 2; k++) {
        snprintf(rel, sizeof(rel), "%s/%s/index.m3u8", sub, rends[k]);
        read_out(rel, text, sizeof(text));
        char *disc = strstr(text, "#EXT-X-DISCONTINUITY\n");
        assert_non_null(disc);
        assert_null(strstr(disc + 1, "#EXT-X-DISCONTINUITY\n"));
        assert_non_null(strstr(text, "#EXT-X-ENDLIST"));
        /* The old segment is the last URI before the tag, the new one the
         * first after it; they are numbered one after the other. */
        int old_seq = -1, new_seq = -1;
        for (char *l = text; l && *l;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            if (!strncmp(l, "seg_", 4)) {
                if (l < disc)
                    old_seq = atoi(l + 4);
                else if (new_seq < 0)
                    new_seq = atoi(l + 4);
            }
        }
        assert_true(old_seq >= 0);
        assert_int_equal(new_seq, old_seq + 1);
        double of, ol, nf, nl;
        snprintf(rel, sizeof(rel), "%s/%s/seg_%05d.ts", sub, rends[k], old_seq);
        video_span(rel, &of, &ol);
        snprintf(rel, sizeof(rel), "%s/%s/seg_%05d.ts", sub, rends[k], new_seq);
        video_span(rel, &nf, &nl);
        double gap = nf - (ol + 1.0 / 15);
        if (gap < -0.001 || gap > 0.001)
            fail_msg("%s %s: A's last frame at %.6f s, B's first at %.6f s",
                     sub, rends[k], ol, nf);
        first = nf;
    }
    return first;
}

/* check_continuation_ids for inputs from no known publish (files). */
static double check_continuation(const char *sub, const char *a, const char *b)
{
    return check_continuation_ids(sub, a, b, 0, 0);
}

/* Where SUB's 160p15 timeline ends, in output seconds. */
static double timeline_end(const char *sub)
{
    char rel[300], text[8192];
    long long off, end;
    snprintf(rel, sizeof(rel), "%s/160p15/index.m3u8", sub);
    read_out(rel, text, sizeof(text));
    const char *tl = strstr(text, "#PRISM-TIMELINE:");
    assert_non_null(tl);
    assert_true(sscanf(tl, "#PRISM-TIMELINE:OFFSET-US=%lld,END-US=%lld", &off,
                       &end) >= 2);
    return end / 1e6;
}

/*
 * A publisher that reconnects soon (OBS's auto-reconnect) starts its
 * timestamps again at 0, within a few seconds of where the old publish
 * had reached: mapped as before they would land on published time and be
 * skipped as published (a viewer would see the seconds the old publish
 * had reached again as a stall). The ingest's publish id tells the
 * session it is another publish: the whole of it is written, from the
 * published end on; the same publish id keeps the mapping.
 */
static void test_reconnect_rebases_by_publish(void **state)
{
    (void)state;
    char a[300], args[700];
    snprintf(a, sizeof(a), "%s/pub3.ts", dir);
    snprintf(args, sizeof(args), "-i %s -t 3 -c copy %s", small, a);
    ffmpeg(args);
    /* Another publish: B (5 s from 0) goes on at A's end, 13 s, to 18 s. */
    double first = check_continuation_ids("republish", a, small, 7, 9);
    assert_true(first > 12.999 && first < 13.001);
    double end = timeline_end("republish");
    if (end < 17.999 || end > 18.001)
        fail_msg("another publish's timeline ends at %.6f s, not 18 s", end);
    /* The same publish (a take-over): the mapping holds, 3 s were
     * published already, so the timeline ends at 15 s. */
    check_continuation_ids("samepublish", a, small, 7, 7);
    end = timeline_end("samepublish");
    if (end < 14.999 || end > 15.001)
        fail_msg("the same publish's timeline ends at %.6f s, not 15 s", end);
}

/*
 * A take-over whose input starts before the published end (an ingest's
 * GOP cache): the published part is decoded, not written again, and the
 * stream's mapping stays (B's frames keep A's timestamps).
 */
static void test_continuation_follows_on(void **state)
{
    (void)state;
    char a[300], args[700];
    snprintf(a, sizeof(a), "%s/first3.ts", dir);
    snprintf(args, sizeof(args), "-i %s -t 3 -c copy %s", small, a);
    ffmpeg(args);
    double first = check_continuation("follow", a, small);
    /* A's video starts at 10 s: its 45 frames end at 13 s, where B's
     * keyframe at the same source time lands under the same mapping. */
    assert_true(first > 12.999 && first < 13.001);
    /* And B wrote only what A had not: the 5 s input ends at 15 s, not
     * later (the published 3 s again would end it at 18 s). */
    char text[8192];
    long long off, end;
    read_out("follow/160p15/index.m3u8", text, sizeof(text));
    const char *tl = strstr(text, "#PRISM-TIMELINE:");
    assert_non_null(tl);
    assert_int_equal(
        sscanf(tl, "#PRISM-TIMELINE:OFFSET-US=%lld,END-US=%lld", &off, &end),
        2);
    assert_true(end > 14999000 && end < 15001000);
}

/*
 * A publisher reconnect (B's timestamps start again, far behind A's) and
 * a source that moved on during a take-over (B far ahead): the mapping is
 * re-based so B goes on one frame after A.
 */
static void test_continuation_rebases(void **state)
{
    (void)state;
    char a[300], b[300], args[700];
    snprintf(a, sizeof(a), "%s/late.ts", dir);
    snprintf(args, sizeof(args), "-i %s -c copy -output_ts_offset 60 %s", small,
             a);
    ffmpeg(args);
    check_continuation("restart", a, small);
    snprintf(b, sizeof(b), "%s/later.ts", dir);
    snprintf(args, sizeof(args), "-i %s -c copy -output_ts_offset 30 %s", small,
             b);
    ffmpeg(args);
    check_continuation("movedon", small, b);
}

/* Makes a directory where DIR/rel would be written: writing it fails for
 * real (EISDIR), whoever runs the test. */
static void block_file(const char *rel)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/%s", dir, rel);
    assert_int_equal(system(cmd), 0);
}

/*
 * The Source remux cannot write its first segment (a directory stands at
 * the file's name, so the write fails for real in mid-session): the
 * Source rendition is dropped and reported, and the encoded rendition goes
 * on to the end: segments, ENDLIST, boundaries completed without the
 * Source, a master playlist without it, and the session ends well.
 */
static void test_source_failure_drops_only_it(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    char text[4096];
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("srcfail");
    block_file("srcfail/source/seg_00000.ts.tmp");
    nsegments = 0;
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(small, false, false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    assert_int_equal(st.nfailed, 1);
    assert_string_equal(st.failed[0].name, "source");
    assert_non_null(strstr(st.failed[0].reason, "cannot write source/"));
    assert_string_equal(st.error, "");
    /* 75 frames at 15 fps, every one encoded for 160p15. */
    assert_int_equal(st.frames_encoded, 75);
    /* Boundaries at 0, 2 and 4 s: two complete without the Source. */
    assert_int_equal(nsegments, 2);
    read_out("srcfail/160p15/index.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "seg_00002.ts"));
    assert_non_null(strstr(text, "#EXT-X-ENDLIST"));
    read_out("srcfail/master.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "160p15/index.m3u8"));
    assert_null(strstr(text, "source/index.m3u8"));
}

/* An encoder that will not open (SVT-AV1 refuses a picture under 64 lines)
 * drops its rendition alone: the other encoded one and the Source go on.
 * The reason carries FFmpeg's own line, which the log level would drop. */
static void test_encoder_failure_drops_only_it(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    char err[256], text[4096];
    assert_int_equal(
        ladder_profile_parse(
            "{\"name\": \"t\", \"renditions\": ["
            "{\"name\": \"source\", \"remux\": true},"
            "{\"height\": 32, \"fps\": 15, \"bitrate_kbps\": 200, "
            "\"codec\": \"av1\"},"
            "{\"height\": 120, \"fps\": 15, \"bitrate_kbps\": 100, "
            "\"codec\": \"h264\"}]}",
            &p, err, sizeof(err)),
        0);
    transcode_opts_t o = opts("encfail");
    o.fmp4 = true; /* AV1 needs fMP4 */
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(small, false, false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    assert_int_equal(st.nfailed, 1);
    assert_string_equal(st.failed[0].name, "32p15");
    assert_non_null(
        strstr(st.failed[0].reason, "avcodec_open2 (libsvtav1, 56x32): "));
    assert_non_null(
        strstr(st.failed[0].reason, "Error setting encoder parameters"));
    assert_int_equal(st.frames_encoded, 75); /* 120p15's, every frame */
    read_out("encfail/120p15/index.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "#EXT-X-ENDLIST"));
    read_out("encfail/source/index.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "#EXT-X-ENDLIST"));
    read_out("encfail/master.m3u8", text, sizeof(text));
    assert_non_null(strstr(text, "120p15/index.m3u8"));
    assert_null(strstr(text, "32p15/index.m3u8"));
}

/* When every rendition fails the session ends, saying why: the Source
 * cannot make its directory (a file is in the way), 160p15 cannot write
 * its first segment. */
static void test_every_rendition_failed_ends_the_session(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    char path[400];
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("allfail");
    block_file("allfail/160p15/seg_00000.ts.tmp");
    snprintf(path, sizeof(path), "%s/allfail/source", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(small, false, false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), -EIO);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    assert_int_equal(st.nfailed, 2);
    assert_string_equal(st.failed[0].name, "source");
    assert_string_equal(st.failed[0].reason,
                        "cannot create its output directory");
    assert_string_equal(st.failed[1].name, "160p15");
    assert_non_null(strstr(st.error, "every rendition failed"));
}

/* A video the decoder can never decode ends the session after
 * max_decode_errors errors in a row, with the reason, instead of skipping
 * from keyframe to keyframe to the end. */
static void test_decode_errors_end_the_session(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    assert_int_equal(ladder_profile_default(&p), 0);
    transcode_opts_t o = opts("undecodable");
    assert_int_equal(o.max_decode_errors, TRANSCODE_MAX_DECODE_ERRORS);
    o.max_decode_errors = 3;
    packet_source_t *src = wrap_open_url(small, false, false);
    ((wrap_t *)src->priv)->garble = true;
    transcode_session_t *s = transcode_session_new(src, &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), AVERROR_INVALIDDATA);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    assert_int_equal(st.frames_decoded, 0);
    assert_int_equal(st.corrupt, 3);
    assert_non_null(strstr(st.error, "3 video decode errors in a row"));
    assert_non_null(strstr(st.error, "h264"));
}

/* A source that turns 10-bit mid-stream (8-bit then High 10 H.264, one
 * elementary stream) rebuilds the filter graph for the new pixel format:
 * every frame is decoded and encoded, nothing fails. */
static void test_pixel_format_change(void **state)
{
    (void)state;
    ladder_profile_t p;
    transcode_stats_t st;
    char err[256], args[600], path[160];
    snprintf(path, sizeof(path), "%s/ten.h264", dir);
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=s=320x180:r=15:d=2 -c:v libx264 "
             "-preset ultrafast -g 15 -f h264 %s/eight.h264",
             dir);
    ffmpeg(args);
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=s=320x180:r=15:d=2 -pix_fmt yuv420p10le "
             "-c:v libx264 -profile:v high10 -preset ultrafast -g 15 "
             "-f h264 %s/tenonly.h264",
             dir);
    ffmpeg(args);
    snprintf(args, sizeof(args), "cat %s/eight.h264 %s/tenonly.h264 > %s", dir,
             dir, path);
    assert_int_equal(system(args), 0);
    /* In MPEG-TS, with timestamps, as one continuous stream. */
    snprintf(args, sizeof(args), "-framerate 15 -i %s -c copy -f mpegts %s.ts",
             path, path);
    ffmpeg(args);
    strncat(path, ".ts", sizeof(path) - strlen(path) - 1);
    assert_int_equal(
        ladder_profile_parse(
            "{\"name\": \"t\", \"renditions\": [{\"height\": 120, "
            "\"fps\": 15, \"bitrate_kbps\": 100, \"codec\": \"h264\"}]}",
            &p, err, sizeof(err)),
        0);
    transcode_opts_t o = opts("tenbit");
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(path, false, false), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    assert_int_equal(st.nfailed, 0);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.frames_decoded, 60);
    assert_int_equal(st.frames_encoded, 60);
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

/* A loopback HTTP server that answers every request with `status` (after
 * delay_ms, when set; 503 to the first fail_first requests) and keeps the
 * head of the last request it read. It also checks the order of uploads:
 * every file a PUT playlist lists must have been taken (2xx) before it. */
typedef struct {
    int fd, port;
    volatile int status;
    int delay_ms;
    int fail_first;
    char last[4096];
    int requests;
    char put[256][64]; /* names of the files PUT so far */
    int nput;
    int playlists;    /* playlist PUTs seen */
    int out_of_order; /* entries listed before their file arrived */
    pthread_t th;
} server_t;

static bool was_put(const server_t *sv, const char *name)
{
    for (int i = 0; i < sv->nput; i++) {
        if (!strcmp(sv->put[i], name))
            return true;
    }
    return false;
}

/* Notes a PUT of PATH with BODY (LEN bytes, NUL-terminated). */
static void note_put(server_t *sv, const char *path, const char *body)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".m3u8")) {
        sv->playlists++;
        for (const char *l = body; *l;) {
            const char *e = strchr(l, '\n');
            size_t ln = e ? (size_t)(e - l) : strlen(l);
            char entry[64];
            /* A media playlist's segments (the same folder). */
            if (ln && ln < sizeof(entry) && *l != '#' && !memchr(l, '/', ln)) {
                snprintf(entry, sizeof(entry), "%.*s", (int)ln, l);
                if (!was_put(sv, entry))
                    sv->out_of_order++;
            }
            l += ln + (e ? 1 : 0);
        }
    }
    if (sv->nput < 256) {
        snprintf(sv->put[sv->nput], sizeof(sv->put[0]), "%s", base);
        __atomic_store_n(&sv->nput, sv->nput + 1, __ATOMIC_RELEASE);
    }
}

static void *server_main(void *arg)
{
    server_t *sv = arg;
    for (;;) {
        int c = accept(sv->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        size_t got = 0;
        char *end = NULL;
        while (!end && got < sizeof(buf) - 1) {
            ssize_t r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }
        if (end) {
            /* Read the body (Content-Length) before answering. */
            long len = 0;
            const char *cl = strstr(buf, "Content-Length: ");
            if (cl)
                len = strtol(cl + 16, NULL, 10);
            long have = (long)(got - (size_t)(end + 4 - buf));
            static char body[65536];
            size_t blen = (size_t)have < sizeof(body) - 1 ? (size_t)have : 0;
            memcpy(body, end + 4, blen);
            while (have < len) {
                char sink[4096];
                ssize_t r = recv(c, sink, sizeof(sink), 0);
                if (r <= 0)
                    break;
                if (blen + (size_t)r < sizeof(body) - 1) {
                    memcpy(body + blen, sink, (size_t)r);
                    blen += (size_t)r;
                }
                have += r;
            }
            body[blen] = '\0';
            *end = '\0';
            snprintf(sv->last, sizeof(sv->last), "%s", buf);
            sv->requests++;
            int st = sv->requests <= sv->fail_first ? 503 : sv->status;
            char path[512];
            if (sscanf(buf, "PUT %511s ", path) == 1 && st >= 200 && st < 300)
                note_put(sv, path, body);
            if (sv->delay_ms)
                usleep((useconds_t)sv->delay_ms * 1000);
            char ans[128];
            int n = snprintf(ans, sizeof(ans),
                             "HTTP/1.1 %d X\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n",
                             st);
            assert_true(send(c, ans, (size_t)n, 0) == n);
        }
        close(c);
    }
}

static void server_start(server_t *sv, int status)
{
    memset(sv, 0, sizeof(*sv));
    sv->status = status;
    sv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv->fd, 8), 0);
    assert_int_equal(getsockname(sv->fd, (struct sockaddr *)&a, &al), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void server_stop(server_t *sv)
{
    shutdown(sv->fd, SHUT_RDWR);
    close(sv->fd);
    pthread_join(sv->th, NULL);
}

static void test_origin_refusals_end_the_session(void **state)
{
    (void)state;
    server_t sv;
    char url[128];
    origin_policy_t p;
    origin_stats_t st;
    origin_policy_default(&p);
    p.fail_s = 1.0;

    /* Refused from the start: the session ends at the third PUT. */
    server_start(&sv, 403);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/b/x", sv.port);
    origin_t *o = origin_new("test", &p);
    assert_non_null(o);
    assert_true(origin_put(o, url, "x", 1) < 0);
    assert_true(origin_put(o, url, "x", 1) < 0);
    assert_int_equal(origin_fatal(o), 0);
    assert_true(origin_put(o, url, "x", 1) < 0);
    assert_int_equal(origin_fatal(o), -EIO);
    origin_stats(o, &st);
    assert_int_equal(st.put_failed, 3);
    assert_int_equal(st.puts, 0);
    origin_free(&o);
    assert_null(o);

    /* Accepted, then refused: going on until every PUT failed fail_s. */
    sv.status = 201;
    o = origin_new("test", &p);
    assert_int_equal(origin_put(o, url, "x", 1), 0);
    sv.status = 500;
    for (int i = 0; i < 5; i++)
        assert_true(origin_put(o, url, "x", 1) < 0);
    assert_int_equal(origin_fatal(o), 0);
    sv.status = 201; /* a recovery starts the clock again */
    assert_int_equal(origin_put(o, url, "x", 1), 0);
    sv.status = 500;
    /* The session ends at the first failed PUT that ends fail_s (1 s) or
     * more after the first failure, never before: a PUT every 100 ms until
     * it does (5 s at most), each checked against the clock, so a slow
     * machine cannot turn the window into a fixed sleep's guess. */
    int64_t first0 = av_gettime_relative();
    assert_true(origin_put(o, url, "x", 1) < 0);
    int64_t first1 = av_gettime_relative();
    int nfail = 1;
    bool fatal = false;
    while (!fatal && av_gettime_relative() - first0 < 5000000) {
        usleep(100000);
        int64_t t0 = av_gettime_relative();
        assert_true(origin_put(o, url, "x", 1) < 0);
        int64_t t1 = av_gettime_relative();
        nfail++;
        fatal = origin_fatal(o) == -EIO;
        if (fatal)
            assert_true(t1 - first0 >= 1000000); /* not before fail_s */
        else
            assert_true(t0 - first1 < 1000000); /* not after fail_s */
    }
    assert_true(fatal);
    assert_true(nfail >= 3);
    /* A refused DELETE is counted, never fatal by itself; 404 is done. */
    sv.status = 404;
    assert_int_equal(origin_delete(o, url), 0);
    origin_stats(o, &st);
    assert_int_equal(st.puts, 2);
    assert_int_equal(st.put_failed, 5 + nfail);
    assert_int_equal(st.deletes, 1);
    origin_free(&o);
    server_stop(&sv);
}

/* The worker's origin_token goes with every request to the origin: the
 * uploads and the playlist read back. */
static void test_origin_sends_bearer_token(void **state)
{
    (void)state;
    server_t sv;
    char url[128];
    origin_policy_t p;
    origin_policy_default(&p);
    p.access.bearer_token = "tok-1";
    server_start(&sv, 201);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/t/index.m3u8",
             sv.port);
    origin_t *o = origin_new("test", &p);
    assert_non_null(o);
    assert_int_equal(origin_put(o, url, "x", 1), 0);
    assert_non_null(strstr(sv.last, "\r\nAuthorization: Bearer tok-1"));
    origin_free(&o);
    sv.status = 200;
    char *text = origin_read_text(url, 64, &p.access);
    assert_non_null(text); /* the answer's empty body */
    free(text);
    assert_non_null(strstr(sv.last, "GET /live/t/index.m3u8 HTTP/1.1\r\n"));
    assert_non_null(strstr(sv.last, "\r\nAuthorization: Bearer tok-1"));
    sv.status = 404;
    assert_null(origin_read_text(url, 64, &p.access));
    /* None configured: no header. */
    origin_policy_default(&p);
    sv.status = 201;
    o = origin_new("test", &p);
    assert_int_equal(origin_put(o, url, "x", 1), 0);
    assert_null(strstr(sv.last, "Authorization"));
    origin_free(&o);
    server_stop(&sv);
}

/* An origin that takes 0.5 s per request must not stall a live session:
 * the uploads wait in their own thread, so a feed delivered at its own
 * pace loses no packet, and the uploads keep their order (a playlist after
 * the segments it lists; the master playlist last). */
static void test_slow_origin_keeps_live_pace(void **state)
{
    (void)state;
    server_t sv;
    ladder_profile_t p;
    transcode_stats_t st;
    assert_int_equal(ladder_profile_default(&p), 0);
    server_start(&sv, 201);
    sv.delay_ms = 500;
    transcode_opts_t o = opts("slow");
    snprintf(o.output, sizeof(o.output), "http://127.0.0.1:%d/live/slow",
             sv.port);
    o.segment_s = 1.0;
    o.queue_packets = 16; /* about half a second of this feed */
    o.origin.timeout_ms = 3000;
    transcode_session_t *s =
        transcode_session_new(wrap_open_url(small, true, true), &p, &o);
    assert_non_null(s);
    assert_int_equal(transcode_session_run(s), 0);
    transcode_session_stats(s, &st);
    transcode_session_free(&s);
    server_stop(&sv);
    print_message("slow origin: dropped_packets=%lld puts=%lld "
                  "put_failed=%lld requests=%d playlists=%d\n",
                  (long long)st.dropped_packets, (long long)st.origin.puts,
                  (long long)st.origin.put_failed, sv.requests, sv.playlists);
    assert_int_equal(st.dropped_packets, 0);
    assert_true(st.frames_decoded >= 70); /* 75 frames in the feed */
    assert_true(st.origin.puts > 0);
    assert_int_equal(st.origin.put_failed, 0);
    assert_true(sv.playlists > 0);
    assert_int_equal(sv.out_of_order, 0);
    /* Drained at the end: the final master playlist arrived last. */
    assert_true(sv.nput > 0);
    assert_string_equal(sv.put[sv.nput - 1], "master.m3u8");
}

/* The upload queue: files go out in order, a newer copy of a playlist
 * replaces the waiting one, and a full queue drops its oldest segment,
 * never a playlist, and counts it. */
static void test_origin_queue_order_and_bound(void **state)
{
    (void)state;
    server_t sv;
    char base[128], url[200];
    origin_policy_t p;
    origin_stats_t st;
    origin_policy_default(&p);
    p.queue_files = 3;
    server_start(&sv, 201);
    sv.delay_ms = 300;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/live/q", sv.port);
    origin_t *o = origin_new("test", &p);
    assert_non_null(o);
    snprintf(url, sizeof(url), "%s/s1.ts", base);
    assert_int_equal(origin_send(o, url, "1", 1), 0);
    for (int i = 0; i < 200 && __atomic_load_n(&sv.nput, __ATOMIC_ACQUIRE) < 1;
         i++)
        usleep(10000);
    /* s1 is in flight for 300 ms */
    assert_int_equal(__atomic_load_n(&sv.nput, __ATOMIC_ACQUIRE), 1);
    snprintf(url, sizeof(url), "%s/s2.ts", base);
    assert_int_equal(origin_send(o, url, "2", 1), 0);
    snprintf(url, sizeof(url), "%s/index.m3u8", base);
    assert_int_equal(origin_send(o, url, "s1.ts\ns2.ts\n", 12), 0);
    snprintf(url, sizeof(url), "%s/s3.ts", base);
    assert_int_equal(origin_send(o, url, "3", 1), 0);
    snprintf(url, sizeof(url), "%s/index.m3u8", base);
    assert_int_equal(origin_send(o, url, "s2.ts\ns3.ts\n", 12), 0);
    origin_stats(o, &st);
    assert_int_equal(st.queued, 4); /* s1 in flight; s2, s3, the playlist */
    assert_int_equal(st.dropped, 0);
    snprintf(url, sizeof(url), "%s/s4.ts", base);
    assert_int_equal(origin_send(o, url, "4", 1), 0); /* s2 goes */
    assert_int_equal(origin_drain(o), 0);
    origin_stats(o, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.puts, 4);
    assert_int_equal(st.queued, 0);
    origin_free(&o);
    server_stop(&sv);
    assert_int_equal(sv.nput, 4);
    assert_string_equal(sv.put[0], "s1.ts");
    assert_string_equal(sv.put[1], "s3.ts");
    assert_string_equal(sv.put[2], "index.m3u8");
    assert_string_equal(sv.put[3], "s4.ts");
    assert_int_equal(sv.playlists, 1);    /* the older copy never went */
    assert_int_equal(sv.out_of_order, 1); /* it lists the dropped s2 */

    /* The uploader feeds the failure policy: refused from the start, the
     * third queued PUT ends the session, and later files are refused. */
    server_start(&sv, 403);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/r/s.ts", sv.port);
    o = origin_new("test", &p);
    assert_non_null(o);
    for (int i = 0; i < 3; i++)
        assert_int_equal(origin_send(o, url, "x", 1), 0);
    assert_int_equal(origin_drain(o), 0);
    assert_int_equal(origin_fatal(o), -EIO);
    assert_int_equal(origin_send(o, url, "x", 1), -EIO);
    origin_stats(o, &st);
    assert_int_equal(st.put_failed, 3);
    origin_free(&o);
    server_stop(&sv);
    assert_int_equal(sv.requests, 3);
}

/* An origin that answers 503 (or not at all) gets the file again, and
 * the files behind it wait: the playlist never lists a segment the origin
 * has not taken. */
static void test_origin_retries_in_order(void **state)
{
    (void)state;
    server_t sv;
    char url[200];
    origin_policy_t p;
    origin_stats_t st;
    origin_policy_default(&p);
    p.first_tries = 10; /* three failures do not end it */
    server_start(&sv, 201);
    sv.fail_first = 3;
    origin_t *o = origin_new("test", &p);
    assert_non_null(o);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/r/s1.ts", sv.port);
    assert_int_equal(origin_send(o, url, "1", 1), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/r/index.m3u8",
             sv.port);
    assert_int_equal(origin_send(o, url, "s1.ts\n", 6), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/r/s2.ts", sv.port);
    assert_int_equal(origin_send(o, url, "2", 1), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/r/index.m3u8",
             sv.port);
    assert_int_equal(origin_send(o, url, "s1.ts\ns2.ts\n", 12), 0);
    assert_int_equal(origin_drain(o), 0);
    origin_stats(o, &st);
    assert_int_equal(origin_fatal(o), 0);
    origin_free(&o);
    server_stop(&sv);
    assert_int_equal(st.put_failed, 3);
    assert_int_equal(sv.out_of_order, 0);
    assert_int_equal(sv.nput, 3); /* the first playlist copy was replaced */
    assert_string_equal(sv.put[0], "s1.ts");
    assert_string_equal(sv.put[1], "s2.ts");
    assert_string_equal(sv.put[2], "index.m3u8");
}

/* The fence (fence.h): after a freeze nothing goes out until it is
 * lowered; a stream placed elsewhere meanwhile drops its queue unsent. */
static void test_origin_waits_for_the_fence(void **state)
{
    (void)state;
    server_t sv;
    char url[200];
    origin_policy_t p;
    fence_t f;
    fence_init(&f, 100);
    fence_beat(&f, clock_mono_ms());
    origin_policy_default(&p);
    p.fence = &f;
    server_start(&sv, 201);
    origin_t *o = origin_new("test", &p);
    assert_non_null(o);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/f/s1.ts", sv.port);
    assert_int_equal(origin_send(o, url, "1", 1), 0);
    assert_int_equal(origin_drain(o), 0);
    assert_int_equal(__atomic_load_n(&sv.nput, __ATOMIC_ACQUIRE), 1);
    usleep(200000); /* no beat for twice the limit: frozen */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/f/s2.ts", sv.port);
    assert_int_equal(origin_send(o, url, "2", 1), 0);
    fence_beat(&f, clock_mono_ms()); /* the loop runs again: still up */
    fence_set_limit(&f, 60000);      /* no beating thread in this test */
    usleep(300000);
    assert_true(fence_is_up(&f));
    assert_int_equal(__atomic_load_n(&sv.nput, __ATOMIC_ACQUIRE), 1);
    fence_lower(&f); /* the coordinator kept the stream here */
    assert_int_equal(origin_drain(o), 0);
    assert_int_equal(__atomic_load_n(&sv.nput, __ATOMIC_ACQUIRE), 2);

    fence_set_limit(&f, 100);
    usleep(200000); /* frozen again, and the stream went elsewhere */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/live/f/index.m3u8",
             sv.port);
    assert_int_equal(origin_send(o, url, "s2.ts\n", 6), 0);
    origin_discard(o);
    assert_int_equal(origin_send(o, url, "s3.ts\n", 6), -ECANCELED);
    fence_set_limit(&f, 60000);
    fence_lower(&f);
    assert_int_equal(origin_drain(o), 0);
    origin_free(&o);
    server_stop(&sv);
    assert_int_equal(sv.nput, 2);
    assert_int_equal(sv.playlists, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_source_file),
        cmocka_unit_test(test_live_overload_drops_and_counts),
        cmocka_unit_test(test_stop_ends_early),
        cmocka_unit_test(test_take_over_continues_playlists),
        cmocka_unit_test(test_moved_session_leaves_playlists_open),
        cmocka_unit_test(test_moved_session_yields_to_next),
        cmocka_unit_test(test_cut_at_nearest_keyframe),
        cmocka_unit_test(test_continuation_follows_on),
        cmocka_unit_test(test_continuation_rebases),
        cmocka_unit_test(test_reconnect_rebases_by_publish),
        cmocka_unit_test(test_long_gop_encoded_only_cuts_on_grid),
        cmocka_unit_test(test_source_failure_drops_only_it),
        cmocka_unit_test(test_encoder_failure_drops_only_it),
        cmocka_unit_test(test_every_rendition_failed_ends_the_session),
        cmocka_unit_test(test_decode_errors_end_the_session),
        cmocka_unit_test(test_pixel_format_change),
        cmocka_unit_test(test_bad_segment_is_refused),
        cmocka_unit_test(test_origin_refusals_end_the_session),
        cmocka_unit_test(test_origin_sends_bearer_token),
        cmocka_unit_test(test_origin_retries_in_order),
        cmocka_unit_test(test_origin_waits_for_the_fence),
        cmocka_unit_test(test_origin_queue_order_and_bound),
        cmocka_unit_test(test_slow_origin_keeps_live_pace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
