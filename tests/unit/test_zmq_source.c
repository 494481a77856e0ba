/* Tests for worker/zmq_source: a fake ingest media ROUTER on 127.0.0.1
 * speaks the real protocol (Subscribe, SubscribeReply, MediaHeader +
 * payload, Credit) to the packet source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "media_frame.h"
#include "test_main.h"
#include "zmq_source.h"
#include "zsock.h"

static const uint8_t AVCC[] = {1, 0x42, 0xc0, 0x1e, 0xff, 0xe1,
                               0, 4,    0x67, 0x42, 0xc0, 0x1e,
                               1, 0,    2,    0x68, 0xce};
static const uint8_t AVCC2[] = {1, 0x4d, 0x40, 0x1e, 0xff, 0xe1,
                                0, 4,    0x67, 0x4d, 0x40, 0x1e,
                                1, 0,    2,    0x68, 0xce};
static const uint8_t ASC[] = {0x11, 0x90};

typedef struct {
    void *router;
    char endpoint[64];
    const char *token;
    int unknown_first; /* answer "unknown stream" this many times */
    bool refuse;       /* wrong token: refuse */
    int npackets;
    bool end_after; /* a StreamEnd after the packets */
    atomic_int subscribes;
    atomic_llong credit_total; /* initial + Credit messages */
    atomic_bool stop;
    atomic_bool got_unsubscribe;
    pthread_t thread;
} ingest_t;

static void reply(ingest_t *g, const envelope_peer_t *to, bool ok,
                  const char *reason, const uint8_t *avcc, size_t avcc_len)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__SubscribeReply r = PRISM__SUBSCRIBE_REPLY__INIT;
    Prism__Track v = PRISM__TRACK__INIT, a = PRISM__TRACK__INIT;
    Prism__Track *tp[2] = {&v, &a};
    r.stream_id = (char *)"s1";
    r.accepted = ok;
    r.reason = (char *)reason;
    v.index = 0;
    v.kind = PRISM__TRACK_KIND__TRACK_KIND_VIDEO;
    v.codec = PRISM__CODEC__CODEC_H264;
    v.extradata.data = (uint8_t *)avcc;
    v.extradata.len = avcc_len;
    v.width = 640;
    v.height = 360;
    v.timebase_num = 1;
    v.timebase_den = 1000;
    a.index = 1;
    a.kind = PRISM__TRACK_KIND__TRACK_KIND_AUDIO;
    a.codec = PRISM__CODEC__CODEC_AAC;
    a.extradata.data = (uint8_t *)ASC;
    a.extradata.len = sizeof(ASC);
    a.sample_rate = 48000;
    a.channels = 2;
    a.timebase_num = 1;
    a.timebase_den = 1000;
    if (ok) {
        r.n_tracks = 2;
        r.tracks = tp;
    }
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY;
    env.subscribe_reply = &r;
    envelope_send(g->router, to, "ingest-test", &env, 0);
}

static void send_media(ingest_t *g, const envelope_peer_t *to, uint32_t track,
                       int64_t ts, bool key, size_t len, uint64_t seq)
{
    Prism__MediaHeader m = PRISM__MEDIA_HEADER__INIT;
    uint8_t buf[4096];
    memset(buf, (int)(seq & 0xff), sizeof(buf));
    m.stream_id = (char *)"s1";
    m.track = track;
    m.pts = ts + (track == 0 ? 40 : 0);
    m.dts = ts;
    m.duration = track == 0 ? 33 : 21;
    m.keyframe = key;
    m.seq = seq;
    m.dropped = seq >= 5 ? 2 : 0;
    media_frame_send_copy(g->router, to, "ingest-test", &m, buf, len, 0);
}

static void send_end(ingest_t *g, const envelope_peer_t *to)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__StreamEnd end = PRISM__STREAM_END__INIT;
    end.stream_id = (char *)"s1";
    end.reason = (char *)"publisher stopped";
    env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
    env.stream_end = &end;
    envelope_send(g->router, to, "ingest-test", &env, 0);
}

static void *ingest_main(void *arg)
{
    ingest_t *g = arg;
    bool sent = false;
    while (!atomic_load(&g->stop)) {
        zmq_pollitem_t pi = {g->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 20) <= 0)
            continue;
        envelope_peer_t from;
        Prism__Envelope *env = NULL;
        if (envelope_recv(g->router, ZMQ_DONTWAIT, &from, &env, NULL) < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE) {
            int n = atomic_fetch_add(&g->subscribes, 1);
            if (g->refuse) {
                reply(g, &from, false, "bad token", NULL, 0);
            } else if (n < g->unknown_first) {
                reply(g, &from, false, "unknown stream", NULL, 0);
            } else if (!sent) {
                assert_string_equal(env->subscribe->token, g->token);
                atomic_fetch_add(&g->credit_total,
                                 (long long)env->subscribe->credit_bytes);
                reply(g, &from, true, "", AVCC, sizeof(AVCC));
                for (int i = 0; i < g->npackets; i++) {
                    if (i == 6) /* extradata changes mid-stream */
                        reply(g, &from, true, "", AVCC2, sizeof(AVCC2));
                    send_media(g, &from, (uint32_t)(i % 2), i * 33, i % 4 == 0,
                               3000, (uint64_t)i);
                }
                if (g->end_after)
                    send_end(g, &from);
                sent = true;
            }
        } else if (env->body_case == PRISM__ENVELOPE__BODY_CREDIT) {
            atomic_fetch_add(&g->credit_total, (long long)env->credit->bytes);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_UNSUBSCRIBE) {
            atomic_store(&g->got_unsubscribe, true);
        }
        envelope_free(&env);
    }
    return NULL;
}

static void ingest_start(ingest_t *g)
{
    zsock_opts_t o;
    zsock_opts_default(&o);
    g->router = zsock_new(ZMQ_ROUTER, &o);
    assert_non_null(g->router);
    assert_int_equal(zsock_bind(g->router, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(
        zsock_last_endpoint(g->router, g->endpoint, sizeof(g->endpoint)), 0);
    assert_int_equal(pthread_create(&g->thread, NULL, ingest_main, g), 0);
}

static void ingest_stop(ingest_t *g)
{
    atomic_store(&g->stop, true);
    pthread_join(g->thread, NULL);
    zsock_close(&g->router);
}

static zmq_source_opts_t opts(ingest_t *g, int timeout_ms, int idle_ms)
{
    zmq_source_opts_t o = {0};
    o.endpoint = g->endpoint;
    o.stream_id = "s1";
    o.token = "tok-123";
    o.credit_bytes = 16000;
    o.timeout_ms = timeout_ms;
    o.idle_ms = idle_ms;
    o.fps_num = 30;
    o.fps_den = 1;
    return o;
}

static void test_tracks_packets_credit(void **state)
{
    (void)state;
    ingest_t g = {.token = "tok-123", .unknown_first = 2, .npackets = 12};
    ingest_start(&g);
    zmq_source_opts_t o = opts(&g, 5000, 400);
    packet_source_t *src = zmq_source_open(&o);
    assert_non_null(src);
    /* "unknown stream" twice (the publish not admitted yet): retried. */
    assert_true(atomic_load(&g.subscribes) >= 3);
    assert_true(src->live);
    assert_int_equal(src->nb_streams, 2);
    const packet_source_stream_t *v = &src->streams[0], *a = &src->streams[1];
    assert_int_equal(v->type, AVMEDIA_TYPE_VIDEO);
    assert_int_equal(v->par->codec_id, AV_CODEC_ID_H264);
    assert_int_equal(v->par->width, 640);
    assert_int_equal(v->par->height, 360);
    assert_int_equal(v->par->extradata_size, (int)sizeof(AVCC));
    assert_memory_equal(v->par->extradata, AVCC, sizeof(AVCC));
    assert_int_equal(v->par->profile, 0x42); /* avcC's profile_idc */
    assert_int_equal(v->time_base.den, 1000);
    assert_int_equal(v->frame_rate.num, 30);
    assert_int_equal(a->type, AVMEDIA_TYPE_AUDIO);
    assert_int_equal(a->par->codec_id, AV_CODEC_ID_AAC);
    assert_int_equal(a->par->sample_rate, 48000);
    assert_int_equal(a->par->ch_layout.nb_channels, 2);
    assert_int_equal(a->par->extradata_size, (int)sizeof(ASC));

    AVPacket *pkt = av_packet_alloc();
    bool saw_new_extra = false;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(packet_source_read(src, pkt), 0);
        assert_int_equal(pkt->stream_index, i % 2);
        assert_int_equal(pkt->dts, i * 33);
        assert_int_equal(pkt->pts, i * 33 + (i % 2 == 0 ? 40 : 0));
        assert_int_equal(pkt->size, 3000);
        assert_int_equal(pkt->data[0], i);
        assert_int_equal(!!(pkt->flags & AV_PKT_FLAG_KEY), i % 4 == 0);
        size_t sz = 0;
        uint8_t *x =
            av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &sz);
        if (x) {
            /* The first video packet after the new SubscribeReply. */
            assert_int_equal(i, 6);
            assert_int_equal(sz, sizeof(AVCC2));
            assert_memory_equal(x, AVCC2, sizeof(AVCC2));
            saw_new_extra = true;
        }
        av_packet_unref(pkt);
    }
    assert_true(saw_new_extra);
    zmq_source_stats_t st;
    zmq_source_stats(src, &st);
    assert_int_equal(st.packets, 12);
    assert_int_equal(st.bytes, 36000);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.last_input_ms, 11 * 33);
    /* 36000 bytes consumed, credit 16000: topped up in quarters. */
    int64_t end = clock_mono_ms() + 2000;
    while (atomic_load(&g.credit_total) < 16000 + 32000 &&
           clock_mono_ms() < end)
        usleep(10000);
    assert_true(atomic_load(&g.credit_total) >= 16000 + 32000);
    /* No more media: end of input after idle_ms. */
    int64_t t0 = clock_mono_ms();
    assert_int_equal(packet_source_read(src, pkt), AVERROR_EOF);
    assert_true(clock_mono_ms() - t0 >= 350);
    av_packet_free(&pkt);
    packet_source_free(&src);
    assert_null(src);
    end = clock_mono_ms() + 2000;
    while (!atomic_load(&g.got_unsubscribe) && clock_mono_ms() < end)
        usleep(10000);
    assert_true(atomic_load(&g.got_unsubscribe));
    ingest_stop(&g);
}

/* A move at the next keyframe: the input ends there, the keyframe is not
 * delivered. */
static void test_end_at_keyframe(void **state)
{
    (void)state;
    ingest_t g = {.token = "tok-123", .npackets = 12};
    ingest_start(&g);
    zmq_source_opts_t o = opts(&g, 5000, 5000);
    packet_source_t *src = zmq_source_open(&o);
    assert_non_null(src);
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(packet_source_read(src, pkt), 0);
        av_packet_unref(pkt);
    }
    zmq_source_end_at_keyframe(src);
    /* Packets 2 and 3 (no video keyframe) still come; 4 is one. */
    for (int i = 2; i < 4; i++) {
        assert_int_equal(packet_source_read(src, pkt), 0);
        assert_int_equal(pkt->dts, i * 33);
        av_packet_unref(pkt);
    }
    int64_t t0 = clock_mono_ms();
    assert_int_equal(packet_source_read(src, pkt), AVERROR_EOF);
    assert_true(clock_mono_ms() - t0 < 1000); /* not the idle timeout */
    av_packet_free(&pkt);
    packet_source_free(&src);
    ingest_stop(&g);
}

/* The publisher left: every packet is read, then the input ends at once
 * (not after idle_ms of silence). */
static void test_stream_end_ends_input(void **state)
{
    (void)state;
    ingest_t g = {.token = "tok-123", .npackets = 6, .end_after = true};
    ingest_start(&g);
    zmq_source_opts_t o = opts(&g, 5000, 10000);
    packet_source_t *src = zmq_source_open(&o);
    assert_non_null(src);
    AVPacket *pkt = av_packet_alloc();
    for (int i = 0; i < 6; i++) {
        assert_int_equal(packet_source_read(src, pkt), 0);
        assert_int_equal(pkt->dts, i * 33);
        av_packet_unref(pkt);
    }
    int64_t t0 = clock_mono_ms();
    assert_int_equal(packet_source_read(src, pkt), AVERROR_EOF);
    assert_true(clock_mono_ms() - t0 < 5000); /* not the idle timeout */
    av_packet_free(&pkt);
    packet_source_free(&src);
    ingest_stop(&g);
}

static void *interrupt_later(void *arg)
{
    usleep(200000);
    packet_source_interrupt(arg);
    return NULL;
}

static void test_interrupt_wakes_read(void **state)
{
    (void)state;
    ingest_t g = {.token = "tok-123", .npackets = 0};
    ingest_start(&g);
    zmq_source_opts_t o = opts(&g, 5000, 60000);
    packet_source_t *src = zmq_source_open(&o);
    assert_non_null(src);
    pthread_t t;
    pthread_create(&t, NULL, interrupt_later, src);
    AVPacket *pkt = av_packet_alloc();
    int64_t t0 = clock_mono_ms();
    assert_int_equal(packet_source_read(src, pkt), AVERROR_EXIT);
    assert_true(clock_mono_ms() - t0 < 2000);
    pthread_join(t, NULL);
    av_packet_free(&pkt);
    packet_source_free(&src);
    ingest_stop(&g);
}

static void test_refused_and_timeout(void **state)
{
    (void)state;
    ingest_t g = {.token = "tok-123", .refuse = true};
    ingest_start(&g);
    zmq_source_opts_t o = opts(&g, 3000, 1000);
    int64_t t0 = clock_mono_ms();
    assert_null(zmq_source_open(&o));
    assert_true(clock_mono_ms() - t0 < 2000); /* refused: no waiting */
    ingest_stop(&g);

    /* Nobody answers: gives up after timeout_ms. */
    ingest_t quiet = {.token = "tok-123", .unknown_first = 1000000};
    ingest_start(&quiet);
    o = opts(&quiet, 500, 1000);
    t0 = clock_mono_ms();
    assert_null(zmq_source_open(&o));
    int64_t took = clock_mono_ms() - t0;
    assert_true(took >= 450 && took < 3000);
    ingest_stop(&quiet);
}

TEST_MAIN(cmocka_unit_test(test_tracks_packets_credit),
          cmocka_unit_test(test_end_at_keyframe),
          cmocka_unit_test(test_stream_end_ends_input),
          cmocka_unit_test(test_interrupt_wakes_read),
          cmocka_unit_test(test_refused_and_timeout))
