/* Tests of the stream hub: subscription with tokens, GOP cache first,
 * credit never exceeded, drop to the next key frame, counted drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "envelope.h"
#include "log.h"
#include "media_frame.h"
#include "pktbuf.h"
#include "sim_sub.h"
#include "stream_hub.h"
#include "zctx.h"
#include "zpair.h"
#include "zsock.h"

typedef struct {
    zpair_t z; /* router: the hub's; dealer: a worker */
    hub_t *hub;
    hub_stream_t *s;
} fx_t;

/* A hub whose GOP cache keeps HISTORY_MS of earlier key frames. */
static fx_t *fx_new_history(const char *ep, uint32_t gop_max,
                            int64_t history_ms)
{
    fx_t *f = calloc(1, sizeof(*f));
    zsock_opts_t ro, dopts;
    zsock_opts_default(&ro);
    ro.router_mandatory = true;
    ro.sndtimeo_ms = 0;
    zsock_opts_default(&dopts);
    assert_int_equal(zpair_open(&f->z, &ro, &dopts, ep, NULL), 0);
    hub_limits_t lim = {gop_max, 1 << 20, 4, 16, history_ms};
    f->hub = hub_new(f->z.router, "ingest-test", &lim);
    f->s = hub_stream_open(f->hub, "s1", "tok");
    assert_non_null(f->s);
    static const uint8_t avcc[] = {1, 0x64, 0, 0x1f};
    hub_track_info_t v = {PRISM__TRACK_KIND__TRACK_KIND_VIDEO,
                          PRISM__CODEC__CODEC_H264,
                          avcc,
                          sizeof(avcc),
                          320,
                          240,
                          0,
                          0,
                          1,
                          1000};
    hub_track_info_t a = {PRISM__TRACK_KIND__TRACK_KIND_AUDIO,
                          PRISM__CODEC__CODEC_AAC,
                          NULL,
                          0,
                          0,
                          0,
                          48000,
                          2,
                          1,
                          1000};
    assert_int_equal(hub_stream_set_track(f->hub, f->s, 0, &v), 0);
    assert_int_equal(hub_stream_set_track(f->hub, f->s, 1, &a), 0);
    return f;
}

static fx_t *fx_new(const char *ep, uint32_t gop_max)
{
    return fx_new_history(ep, gop_max, 0);
}

static void fx_free(fx_t **fp)
{
    fx_t *f = *fp;
    hub_free(&f->hub);
    zpair_close(&f->z);
    free(f);
    *fp = NULL;
}

/* Pushes a 100-byte packet whose payload is `tag` bytes, without the
 * end-of-turn flush. */
static void push_queued(fx_t *f, uint32_t track, int64_t dts, bool key,
                        uint8_t tag)
{
    pktbuf_t *b = pktbuf_new(110);
    memset(b->data, 0xee, 10); /* a header the payload skips */
    memset(b->data + 10, tag, 100);
    hub_pkt_t p = {b, 10, 100, track, dts, dts, 0, key, 0};
    assert_int_equal(hub_stream_packet(f->hub, f->s, &p), 0);
    pktbuf_unref(b); /* the hub keeps its own references */
}

/* Pushes one packet as a turn of the event loop does: then flushes. */
static void push(fx_t *f, uint32_t track, int64_t dts, bool key, uint8_t tag)
{
    push_queued(f, track, dts, key, tag);
    hub_flush(f->hub);
}

static void subscribe(fx_t *f, const char *token, uint64_t credit)
{
    assert_int_equal(
        sim_sub_send_subscribe(f->z.dealer, 0, "w", "s1", token, credit), 0);
}

static void credit(fx_t *f, uint64_t bytes)
{
    assert_int_equal(sim_sub_send_credit(f->z.dealer, 0, "w", "s1", bytes), 0);
}

/* Lets the hub read what the dealer sent (inproc is asynchronous). */
static void pump(fx_t *f)
{
    for (int i = 0; i < 20; i++) {
        zmq_pollitem_t pi = {f->z.router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 20) > 0)
            hub_handle_router(f->hub);
    }
}

typedef struct {
    int body;
    bool accepted;
    char reason[64];
    size_t ntracks;
    size_t xlen;
    uint64_t seq, dropped;
    uint32_t track;
    bool key, discont, newx;
    uint32_t width;
    int64_t dts, pts;
    size_t size;
    uint8_t tag;
} got_t;

/* Receives one message; returns false when none arrives in 200 ms. */
static bool recv_one(fx_t *f, got_t *g)
{
    memset(g, 0, sizeof(*g));
    zmq_pollitem_t pi = {f->z.dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&pi, 1, 200) <= 0)
        return false;
    Prism__Envelope *env = NULL;
    zmq_msg_t pl;
    assert_int_equal(media_frame_recv(f->z.dealer, 0, NULL, &env, &pl), 0);
    g->body = env->body_case;
    if (env->body_case == PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY) {
        g->accepted = env->subscribe_reply->accepted;
        snprintf(g->reason, sizeof(g->reason), "%s",
                 env->subscribe_reply->reason);
        g->ntracks = env->subscribe_reply->n_tracks;
        if (g->ntracks) {
            g->xlen = env->subscribe_reply->tracks[0]->extradata.len;
            g->width = env->subscribe_reply->tracks[0]->width;
        }
    } else if (env->body_case == PRISM__ENVELOPE__BODY_STREAM_END) {
        snprintf(g->reason, sizeof(g->reason), "%s", env->stream_end->reason);
    } else if (env->body_case == PRISM__ENVELOPE__BODY_MEDIA_HEADER) {
        const Prism__MediaHeader *m = env->media_header;
        g->seq = m->seq;
        g->dropped = m->dropped;
        g->track = m->track;
        g->key = m->keyframe;
        g->discont = m->discontinuity;
        g->newx = m->new_extradata;
        g->dts = m->dts;
        g->pts = m->pts;
        g->size = zmq_msg_size(&pl);
        g->tag = g->size ? ((uint8_t *)zmq_msg_data(&pl))[0] : 0;
        for (size_t i = 0; i < g->size; i++)
            assert_int_equal(((uint8_t *)zmq_msg_data(&pl))[i], g->tag);
    }
    zmq_msg_close(&pl);
    envelope_free(&env);
    return true;
}

static void test_bad_token_refused(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-bad", 64);
    subscribe(f, "nope", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY);
    assert_false(g.accepted);
    assert_string_equal(g.reason, "bad token");
    push(f, 0, 0, true, 1);
    assert_false(recv_one(f, &g)); /* nothing sent to a refused peer */
    assert_int_equal(hub_refused(f->hub), 1);
    fx_free(&f);
}

static void test_gop_cache_first_then_live(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-gop", 64);
    push(f, 0, 0, true, 1);   /* seq 0: an old GOP */
    push(f, 0, 33, false, 2); /* seq 1 */
    push(f, 0, 66, true, 3);  /* seq 2: the cache starts here */
    push(f, 1, 70, true, 4);  /* seq 3 */
    push(f, 0, 100, false, 5);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_true(g.accepted);
    assert_int_equal(g.ntracks, 2);
    assert_int_equal(g.xlen, 4);
    uint8_t want[] = {3, 4, 5};
    for (int i = 0; i < 3; i++) {
        assert_true(recv_one(f, &g));
        assert_int_equal(g.body, PRISM__ENVELOPE__BODY_MEDIA_HEADER);
        assert_int_equal(g.tag, want[i]);
        assert_int_equal(g.seq, 2 + i);
        assert_int_equal(g.size, 100);
        assert_int_equal(g.discont, i == 0);
    }
    assert_true(g.dts == 100);
    push(f, 1, 110, true, 6); /* live */
    assert_true(recv_one(f, &g));
    assert_int_equal(g.tag, 6);
    assert_int_equal(g.seq, 5);
    assert_false(g.discont);
    assert_false(recv_one(f, &g));
    /* A repeated Subscribe is answered but replays nothing. */
    subscribe(f, "tok", 1 << 20);
    pump(f);
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY);
    assert_true(g.accepted);
    assert_false(recv_one(f, &g));
    assert_int_equal(hub_stream_stats(f->s)->subscribers, 1);
    fx_free(&f);
}

/* A worker taking a stream over asks for history: the cache from the
 * newest key frame at least that long before the newest packet. */
static void test_subscribe_with_history(void **state)
{
    (void)state;
    fx_t *f = fx_new_history("inproc://hub-history", 64, 3000);
    uint8_t tag = 1;
    for (int64_t ms = 0; ms <= 5000; ms += 500) /* key frames every 2 s */
        push(f, 0, ms, ms % 2000 == 0, tag++);
    /* Kept: from the key frame at 0 s (3 s before the one at 4 s on). */
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Subscribe sub = PRISM__SUBSCRIBE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &sub;
    sub.stream_id = "s1";
    sub.token = "tok";
    sub.credit_bytes = 1 << 20;
    sub.history_ms = 2500; /* the newest key frame by 2.5 s: the one at 2 s */
    assert_int_equal(envelope_send(f->z.dealer, NULL, "w", &env, 0), 0);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_true(g.accepted);
    for (int64_t ms = 2000; ms <= 5000; ms += 500) {
        assert_true(recv_one(f, &g));
        assert_int_equal(g.dts, ms);
        assert_int_equal(g.key, ms % 2000 == 0);
        assert_int_equal(g.discont, ms == 2000);
    }
    assert_false(recv_one(f, &g));
    fx_free(&f);
}

/* Timestamps at the ends of the int64 range (a hostile publisher) keep
 * the cache's arithmetic in range (UBSan checks it) and the newest key
 * frame is still where a subscriber begins. */
static void test_hostile_timestamps(void **state)
{
    (void)state;
    fx_t *f = fx_new_history("inproc://hub-hostile", 64, 3000);
    push(f, 0, INT64_MIN, true, 1);
    push(f, 0, INT64_MIN + 1, false, 2);
    push(f, 0, INT64_MAX - 1, true, 3);
    push(f, 1, INT64_MAX, true, 4);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_true(g.accepted);
    assert_true(recv_one(f, &g));
    assert_int_equal(g.tag, 3);
    fx_free(&f);
}

/* Packets leave at hub_flush, in order, before anything the router
 * brings in after them; a full outbox flushes itself. */
static void test_outbox_bursts_in_order(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-outbox", 4096);
    push(f, 0, 0, true, 1);
    subscribe(f, "tok", 1 << 30);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g)); /* reply */
    assert_true(recv_one(f, &g)); /* cached key frame */
    push_queued(f, 0, 33, false, 2);
    push_queued(f, 1, 40, true, 3);
    assert_false(recv_one(f, &g)); /* held for the burst */
    subscribe(f, "tok", 1 << 30);  /* the router's turn flushes first */
    pump(f);
    uint8_t want[] = {2, 3};
    for (int i = 0; i < 2; i++) {
        assert_true(recv_one(f, &g));
        assert_int_equal(g.body, PRISM__ENVELOPE__BODY_MEDIA_HEADER);
        assert_int_equal(g.tag, want[i]);
    }
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY);
    /* 600 packets without a flush: the outbox sends when full. */
    for (int i = 0; i < 600; i++)
        push_queued(f, 1, 100 + i, true, (uint8_t)(10 + i % 200));
    int got = 0;
    while (recv_one(f, &g))
        assert_int_equal(g.tag, (uint8_t)(10 + got++ % 200));
    assert_true(got > 0 && got < 600);
    hub_flush(f->hub);
    while (recv_one(f, &g))
        assert_int_equal(g.tag, (uint8_t)(10 + got++ % 200));
    assert_int_equal(got, 600);
    fx_free(&f);
}

static void test_credit_drops_to_next_keyframe(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-credit", 64);
    push(f, 0, 0, true, 1);
    subscribe(f, "tok", 250); /* room for two packets */
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g)); /* reply */
    assert_true(recv_one(f, &g)); /* cached key frame, 150 left */
    assert_int_equal(g.tag, 1);
    push(f, 1, 10, true, 2); /* 50 left */
    assert_true(recv_one(f, &g));
    assert_int_equal(g.tag, 2);
    push(f, 0, 33, false, 3); /* over credit: dropped */
    assert_false(recv_one(f, &g));
    credit(f, 100000);
    pump(f);
    push(f, 1, 40, true, 4);  /* credit again, but waits for a key frame */
    push(f, 0, 66, false, 5); /* still waiting */
    assert_false(recv_one(f, &g));
    push(f, 0, 100, true, 6); /* the next key frame resumes */
    assert_true(recv_one(f, &g));
    assert_int_equal(g.tag, 6);
    assert_true(g.key);
    assert_true(g.discont);
    assert_int_equal(g.dropped, 3);
    assert_int_equal(g.seq, 5); /* the gap in seq shows the drops */
    assert_int_equal(hub_stream_stats(f->s)->dropped, 3);
    push(f, 1, 110, true, 7);
    assert_true(recv_one(f, &g));
    assert_false(g.discont);
    fx_free(&f);
}

static void test_gop_overflow_waits_for_keyframe(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-overflow", 16);
    push(f, 0, 0, true, 1);
    for (int i = 0; i < 20; i++)
        push(f, 0, 33 * (i + 1), false, 2);
    assert_int_equal(hub_stream_stats(f->s)->gop_overflows, 1);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_true(g.accepted);
    push(f, 0, 1000, false, 3); /* no cache: wait for a key frame */
    assert_false(recv_one(f, &g));
    push(f, 0, 1033, true, 4);
    assert_true(recv_one(f, &g));
    assert_int_equal(g.tag, 4);
    fx_free(&f);
}

static void test_no_buffer_leaks(void **state)
{
    (void)state;
    long before = pktbuf_live();
    fx_t *f = fx_new("inproc://hub-leak", 64);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    for (int i = 0; i < 10; i++)
        push(f, 0, i * 33, i % 5 == 0, 9);
    for (int i = 0; i < 10; i++)
        assert_true(recv_one(f, &g));
    hub_stream_close(f->hub, &f->s, "publisher stopped");
    fx_free(&f);
    assert_int_equal(pktbuf_live(), before);
}

/* The last packets go out first, then the subscriber hears the end (a
 * worker then ends its input at once, not after seconds of silence). */
static void test_close_tells_subscribers(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-end", 64);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    push_queued(f, 0, 0, true, 5); /* in the outbox, not yet sent */
    hub_stream_close(f->hub, &f->s, "publisher stopped");
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_MEDIA_HEADER);
    assert_int_equal(g.tag, 5);
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_STREAM_END);
    assert_string_equal(g.reason, "publisher stopped");
    assert_false(recv_one(f, &g));
    fx_free(&f);
}

static void test_track_change_resends_tracks(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-track", 64);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_int_equal(g.width, 320);
    /* A new size keeping the extradata the hub holds (as onMetaData after
     * the sequence header does). */
    hub_track_info_t v = *hub_stream_track(f->s, 0);
    v.width = 640;
    assert_int_equal(hub_stream_set_track(f->hub, f->s, 0, &v), 0);
    assert_true(recv_one(f, &g));
    assert_int_equal(g.body, PRISM__ENVELOPE__BODY_SUBSCRIBE_REPLY);
    assert_int_equal(g.width, 640);
    assert_int_equal(g.xlen, 4); /* the extradata survived */
    push(f, 0, 0, true, 2);      /* video key frame: flagged */
    assert_true(recv_one(f, &g));
    assert_true(g.newx);
    push(f, 1, 0, true, 1); /* audio: unchanged track */
    assert_true(recv_one(f, &g));
    assert_false(g.newx);
    push(f, 0, 33, false, 3);
    assert_true(recv_one(f, &g));
    assert_false(g.newx);
    /* Setting the same values again sends nothing. */
    v = *hub_stream_track(f->s, 0);
    assert_int_equal(hub_stream_set_track(f->hub, f->s, 0, &v), 0);
    assert_false(recv_one(f, &g));
    fx_free(&f);
}

/* A burst of packets with one timestamp (what GStreamer's flvmux writes
 * after an encoder stall) leaves with rising dts, one tick apart, and pts
 * no lower; a step back of more than a second is a break and passes. */
static void test_equal_dts_raised(void **state)
{
    (void)state;
    fx_t *f = fx_new("inproc://hub-dts", 64);
    subscribe(f, "tok", 1 << 20);
    pump(f);
    got_t g;
    assert_true(recv_one(f, &g));
    assert_true(g.accepted);
    static const struct {
        uint32_t track;
        int64_t in, out;
    } seq[] = {{0, 0, 0},   {1, 0, 0},         {0, 33, 33},      {0, 33, 34},
               {0, 33, 35}, {1, 30, 30},       {1, 30, 31},      {0, 40, 40},
               {0, 38, 41}, {0, -2000, -2000}, {0, -1967, -1967}};
    size_t n = sizeof(seq) / sizeof(seq[0]);
    for (size_t i = 0; i < n; i++)
        push(f, seq[i].track, seq[i].in, i == 0, (uint8_t)(i + 1));
    for (size_t i = 0; i < n; i++) {
        assert_true(recv_one(f, &g));
        assert_int_equal(g.body, PRISM__ENVELOPE__BODY_MEDIA_HEADER);
        assert_int_equal(g.tag, (uint8_t)(i + 1));
        assert_int_equal(g.track, seq[i].track);
        assert_int_equal(g.dts, seq[i].out);
        assert_int_equal(g.pts, seq[i].out);
    }
    assert_int_equal(hub_stream_stats(f->s)->ts_raised, 4);
    fx_free(&f);
}

int main(void)
{
    log_set_level(LOG_LEVEL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_token_refused),
        cmocka_unit_test(test_gop_cache_first_then_live),
        cmocka_unit_test(test_subscribe_with_history),
        cmocka_unit_test(test_hostile_timestamps),
        cmocka_unit_test(test_outbox_bursts_in_order),
        cmocka_unit_test(test_credit_drops_to_next_keyframe),
        cmocka_unit_test(test_gop_overflow_waits_for_keyframe),
        cmocka_unit_test(test_no_buffer_leaks),
        cmocka_unit_test(test_close_tells_subscribers),
        cmocka_unit_test(test_track_change_resends_tracks),
        cmocka_unit_test(test_equal_dts_raised),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc != 0)
        _exit(1);
    zctx_term();
    pktbuf_pool_drain();
    return rc;
}
