/* Tests for shared/envelope: framing, versions, bad input, over real sockets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "envelope.h"
#include "log.h"
#include "zctx.h"
#include "zpair.h"
#include "zsock.h"

/* router: the "coordinator" side; dealer: the "worker" side, routing id
 * "worker-1". */
typedef zpair_t pair_t;

static int setup(void **state)
{
    static int n;
    char ep[64];
    zsock_opts_t o;
    pair_t *p = calloc(1, sizeof(*p));

    zsock_opts_default(&o);
    o.router_mandatory = true;
    o.sndtimeo_ms = 500;
    o.rcvtimeo_ms = 2000;
    snprintf(ep, sizeof(ep), "inproc://test-envelope-%d", n++);
    if (zpair_open(p, &o, &o, ep, "worker-1") < 0)
        return -1;
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pair_t *p = *state;
    zpair_close(p);
    free(p);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    zctx_term();
    return 0;
}

/* Sends env from the dealer, receives it at the router; returns it. */
static Prism__Envelope *to_router(pair_t *p, const Prism__Envelope *env,
                                  envelope_peer_t *from)
{
    Prism__Envelope *got = NULL;
    assert_int_equal(envelope_send(p->dealer, NULL, "worker-1", env, 0), 0);
    assert_int_equal(envelope_recv(p->router, 0, from, &got, NULL), 0);
    assert_non_null(got);
    assert_int_equal(got->version_major, PRISM_PROTO_MAJOR);
    assert_int_equal(got->version_minor, PRISM_PROTO_MINOR);
    assert_int_equal(from->rid_len, 8);
    assert_memory_equal(from->rid, "worker-1", 8);
    return got;
}

/* Sends env from the router to the dealer (by routing id); returns it. */
static Prism__Envelope *to_dealer(pair_t *p, const envelope_peer_t *to,
                                  const Prism__Envelope *env)
{
    Prism__Envelope *got = NULL;
    envelope_peer_t from;
    assert_int_equal(envelope_send(p->router, to, "coord-a", env, 0), 0);
    assert_int_equal(envelope_recv(p->dealer, 0, &from, &got, NULL), 0);
    assert_non_null(got);
    assert_int_equal(from.rid_len, 0);
    assert_string_equal(got->sender, "coord-a");
    return got;
}

static void test_register_with_devices(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got;
    Prism__Register reg = PRISM__REGISTER__INIT;
    Prism__Device d0 = PRISM__DEVICE__INIT, d1 = PRISM__DEVICE__INIT;
    Prism__Device *devs[] = {&d0, &d1};
    Prism__Codec enc[] = {PRISM__CODEC__CODEC_H264, PRISM__CODEC__CODEC_HEVC};
    envelope_peer_t from;

    d0.index = 0;
    d0.kind = PRISM__DEVICE_KIND__DEVICE_KIND_NVENC;
    d0.name = "NVIDIA L4";
    d0.path = "cuda:0";
    d0.n_encode_codecs = 2;
    d0.encode_codecs = enc;
    d0.hw_encode = true;
    d0.encode_budget = 1500000000ull;
    d1.index = 1;
    d1.kind = PRISM__DEVICE_KIND__DEVICE_KIND_CPU;
    d1.name = "cpu";
    d1.path = "cpu";
    reg.worker_id = "worker-1";
    reg.host = "gpu-host-7";
    reg.n_devices = 2;
    reg.devices = devs;
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;

    got = to_router(p, &env, &from);
    /* The caller's envelope is left as it was. */
    assert_int_equal(env.version_major, 0);
    assert_string_equal(got->sender, "worker-1");
    assert_int_equal(got->body_case, PRISM__ENVELOPE__BODY_REGISTER);
    assert_string_equal(envelope_body_name(got), "register");
    assert_string_equal(got->register_->host, "gpu-host-7");
    assert_int_equal(got->register_->n_devices, 2);
    assert_string_equal(got->register_->devices[0]->name, "NVIDIA L4");
    assert_int_equal(got->register_->devices[0]->n_encode_codecs, 2);
    assert_int_equal(got->register_->devices[0]->encode_codecs[1],
                     PRISM__CODEC__CODEC_HEVC);
    assert_int_equal(got->register_->devices[0]->encode_budget, 1500000000ull);
    assert_int_equal(got->register_->devices[1]->kind,
                     PRISM__DEVICE_KIND__DEVICE_KIND_CPU);
    envelope_free(&got);
    assert_null(got);
}

static void test_load_report(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got;
    Prism__LoadReport lr = PRISM__LOAD_REPORT__INIT;
    Prism__DeviceLoad dl = PRISM__DEVICE_LOAD__INIT;
    Prism__SessionLoad sl = PRISM__SESSION_LOAD__INIT;
    Prism__DeviceLoad *dls[] = {&dl};
    Prism__SessionLoad *sls[] = {&sl};
    envelope_peer_t from;

    dl.sessions = 5;
    dl.encode_pixels = 331776000;
    dl.encoder_util = -1;
    sl.stream_id = "s-42";
    sl.speed = 1.25;
    sl.last_output_pts_ms = -7;
    lr.seq = 99;
    lr.n_devices = 1;
    lr.devices = dls;
    lr.n_sessions = 1;
    lr.sessions = sls;
    lr.draining = true;
    env.body_case = PRISM__ENVELOPE__BODY_LOAD_REPORT;
    env.load_report = &lr;

    got = to_router(p, &env, &from);
    assert_int_equal(got->body_case, PRISM__ENVELOPE__BODY_LOAD_REPORT);
    assert_int_equal(got->load_report->seq, 99);
    assert_true(got->load_report->draining);
    assert_int_equal(got->load_report->devices[0]->encode_pixels, 331776000);
    assert_int_equal(got->load_report->devices[0]->encoder_util, -1);
    assert_string_equal(got->load_report->sessions[0]->stream_id, "s-42");
    assert_true(got->load_report->sessions[0]->speed == 1.25);
    assert_int_equal(got->load_report->sessions[0]->last_output_pts_ms, -7);
    envelope_free(&got);
}

static void test_assign_with_renditions_to_dealer(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got;
    Prism__Hello hello = PRISM__HELLO__INIT;
    Prism__Assign as = PRISM__ASSIGN__INIT;
    Prism__Rendition r0 = PRISM__RENDITION__INIT, r1 = PRISM__RENDITION__INIT;
    Prism__Rendition *rs[] = {&r0, &r1};
    uint8_t key[32];
    envelope_peer_t from;

    /* The router learns the dealer's routing id from a first message. */
    hello.role = PRISM__NODE_ROLE__NODE_ROLE_WORKER;
    hello.node_id = "worker-1";
    env.body_case = PRISM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    got = to_router(p, &env, &from);
    assert_string_equal(got->hello->node_id, "worker-1");
    envelope_free(&got);

    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7);
    r0.name = "source";
    r0.remux = true;
    r1.name = "720p30";
    r1.width = 1280;
    r1.height = 720;
    r1.fps_num = 30;
    r1.fps_den = 1;
    r1.bitrate_kbps = 3000;
    r1.codec = PRISM__CODEC__CODEC_H264;
    as.stream_id = "s-1";
    as.generation = 3;
    as.ingest_endpoint = "tcp://10.0.0.5:5556";
    as.ingest_public_key.data = key;
    as.ingest_public_key.len = 32;
    as.n_renditions = 2;
    as.renditions = rs;
    as.segment_ms = 2000;
    env = (Prism__Envelope)PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_ASSIGN;
    env.assign = &as;

    got = to_dealer(p, &from, &env);
    assert_int_equal(got->body_case, PRISM__ENVELOPE__BODY_ASSIGN);
    assert_int_equal(got->assign->generation, 3);
    assert_int_equal(got->assign->ingest_public_key.len, 32);
    assert_memory_equal(got->assign->ingest_public_key.data, key, 32);
    assert_int_equal(got->assign->n_renditions, 2);
    assert_true(got->assign->renditions[0]->remux);
    assert_string_equal(got->assign->renditions[1]->name, "720p30");
    assert_int_equal(got->assign->renditions[1]->height, 720);
    assert_int_equal(got->assign->renditions[1]->bitrate_kbps, 3000);
    assert_int_equal(got->assign->segment_ms, 2000);
    envelope_free(&got);
}

static void test_publish_request_and_reply(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got;
    Prism__PublishRequest rq = PRISM__PUBLISH_REQUEST__INIT;
    Prism__PublishReply rp = PRISM__PUBLISH_REPLY__INIT;
    Prism__SourceInfo si = PRISM__SOURCE_INFO__INIT;
    envelope_peer_t from;

    si.width = 1920;
    si.height = 1080;
    si.fps_num = 60;
    si.fps_den = 1;
    rq.ingest_id = "ingest-1";
    rq.stream_key = "live_123_abc";
    rq.protocol = PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT;
    rq.remote_addr = "203.0.113.9:50000";
    rq.source = &si;
    rq.request_id = 77;
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
    env.publish_request = &rq;
    got = to_router(p, &env, &from);
    assert_string_equal(got->publish_request->stream_key, "live_123_abc");
    assert_int_equal(got->publish_request->protocol,
                     PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT);
    assert_int_equal(got->publish_request->source->height, 1080);
    assert_int_equal(got->publish_request->request_id, 77);
    envelope_free(&got);

    rp.request_id = 77;
    rp.accepted = false;
    rp.reason = "unknown stream key";
    env = (Prism__Envelope)PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REPLY;
    env.publish_reply = &rp;
    got = to_dealer(p, &from, &env);
    assert_int_equal(got->body_case, PRISM__ENVELOPE__BODY_PUBLISH_REPLY);
    assert_int_equal(got->publish_reply->request_id, 77);
    assert_false(got->publish_reply->accepted);
    assert_string_equal(got->publish_reply->reason, "unknown stream key");
    envelope_free(&got);
}

static void test_subscribe_and_credit(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got;
    Prism__Subscribe sub = PRISM__SUBSCRIBE__INIT;
    Prism__Credit cr = PRISM__CREDIT__INIT;
    envelope_peer_t from;

    sub.stream_id = "s-9";
    sub.token = "tok";
    sub.credit_bytes = 4u << 20;
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &sub;
    got = to_router(p, &env, &from);
    assert_string_equal(got->subscribe->token, "tok");
    assert_int_equal(got->subscribe->credit_bytes, 4u << 20);
    envelope_free(&got);

    cr.stream_id = "s-9";
    cr.bytes = 123456789012ull;
    env = (Prism__Envelope)PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_CREDIT;
    env.credit = &cr;
    got = to_router(p, &env, &from);
    assert_int_equal(got->body_case, PRISM__ENVELOPE__BODY_CREDIT);
    assert_int_equal(got->credit->bytes, 123456789012ull);
    envelope_free(&got);
}

/* Reads what the log wrote into the file behind fd. */
static void read_log(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

static void test_wrong_major_is_refused_then_next_is_received(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got = NULL;
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    envelope_peer_t from;
    uint8_t buf[256];
    size_t len;
    char path[] = "/tmp/prism-test-envelope-log-XXXXXX", text[4096];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    log_set_fd(fd);

    /* A peer of protocol 2.3 (packed by hand: envelope_send stamps ours). */
    hb.seq = 1;
    env.version_major = 2;
    env.version_minor = 3;
    env.sender = "future-node";
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    len = prism__envelope__pack(&env, buf);
    assert_int_equal(zmq_send(p->dealer, buf, len, 0), (int)len);
    /* Then a good message. */
    hb.seq = 2;
    env.version_major = 0;
    assert_int_equal(envelope_send(p->dealer, NULL, "worker-1", &env, 0), 0);

    assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL), -EPROTO);
    assert_null(got);
    assert_int_equal(from.rid_len, 8); /* the caller can answer with Error */
    assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL), 0);
    assert_non_null(got);
    assert_int_equal(got->heartbeat->seq, 2);
    envelope_free(&got);

    log_set_fd(2);
    read_log(fd, text, sizeof(text));
    close(fd);
    assert_non_null(strstr(text, "their_major=2"));
    assert_non_null(strstr(text, "our_version=1.0"));
    assert_non_null(strstr(text, "rid=776f726b65722d31")); /* "worker-1" */
    /* One line for the one refused message. */
    assert_null(strchr(strchr(text, '\n') + 1, '\n'));
}

static void test_malformed_bytes_are_ebadmsg(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got = NULL;
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    envelope_peer_t from;
    /* Not protobuf at all: a key with wire type 7. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x07, 0x01};
    /* Version 1, then a Hello (field 10) whose content is a broken varint. */
    static const uint8_t bad_body[] = {0x08, 0x01, 0x52, 0x02, 0x08, 0xff};
    /* Version 1, then a length that runs past the end. */
    static const uint8_t truncated[] = {0x08, 0x01, 0x1a, 0x40, 'a'};

    assert_int_equal(zmq_send(p->dealer, junk, sizeof(junk), 0),
                     (int)sizeof(junk));
    assert_int_equal(zmq_send(p->dealer, bad_body, sizeof(bad_body), 0),
                     (int)sizeof(bad_body));
    assert_int_equal(zmq_send(p->dealer, truncated, sizeof(truncated), 0),
                     (int)sizeof(truncated));
    /* Extra frames after a malformed envelope are consumed with it. */
    assert_int_equal(zmq_send(p->dealer, junk, sizeof(junk), ZMQ_SNDMORE),
                     (int)sizeof(junk));
    assert_int_equal(zmq_send(p->dealer, "tail", 4, 0), 4);
    hb.seq = 5;
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    assert_int_equal(envelope_send(p->dealer, NULL, NULL, &env, 0), 0);

    for (int i = 0; i < 4; i++) {
        assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL),
                         -EBADMSG);
        assert_null(got);
    }
    assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL), 0);
    assert_int_equal(got->heartbeat->seq, 5);
    envelope_free(&got);
}

static void test_size_bound_both_ways(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got = NULL;
    Prism__Error er = PRISM__ERROR__INIT;
    envelope_peer_t from;
    size_t big = ENVELOPE_MAX_BYTES + 16;
    char *msg = malloc(big + 1);

    memset(msg, 'x', big);
    msg[big] = '\0';
    er.message = msg;
    env.body_case = PRISM__ENVELOPE__BODY_ERROR;
    env.error = &er;
    assert_int_equal(envelope_send(p->dealer, NULL, NULL, &env, 0), -EMSGSIZE);

    /* A raw oversized frame is refused by the receiver. */
    assert_int_equal(zmq_send(p->dealer, msg, big, 0), (int)big);
    er.message = "small";
    assert_int_equal(envelope_send(p->dealer, NULL, NULL, &env, 0), 0);
    assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL), -EMSGSIZE);
    assert_int_equal(envelope_recv(p->router, 0, &from, &got, NULL), 0);
    assert_string_equal(got->error->message, "small");
    envelope_free(&got);
    free(msg);
}

static void test_dontwait_and_unroutable(void **state)
{
    pair_t *p = *state;
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got = NULL;
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    envelope_peer_t nobody = {.rid = "ghost", .rid_len = 5};

    assert_int_equal(envelope_recv(p->router, ZMQ_DONTWAIT, NULL, &got, NULL),
                     -EAGAIN);
    assert_null(got);
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    /* ROUTER_MANDATORY: an unknown peer is an error, not silence. */
    assert_int_equal(
        envelope_send(p->router, &nobody, NULL, &env, ZMQ_DONTWAIT),
        -EHOSTUNREACH);
}

/* Ladder codecs survive the wire both ways; UNSPECIFIED reads as H.264
 * and a codec the ladder does not know is refused. */
static void test_codec_conversion(void **state)
{
    (void)state;
    ladder_codec_t c,
        all[] = {LADDER_CODEC_H264, LADDER_CODEC_HEVC, LADDER_CODEC_AV1};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(
            envelope_codec_from_proto(envelope_codec_to_proto(all[i]), &c), 0);
        assert_int_equal(c, all[i]);
    }
    assert_int_equal(envelope_codec_to_proto(LADDER_CODEC_HEVC),
                     PRISM__CODEC__CODEC_HEVC);
    assert_int_equal(
        envelope_codec_from_proto(PRISM__CODEC__CODEC_UNSPECIFIED, &c), 0);
    assert_int_equal(c, LADDER_CODEC_H264);
    assert_int_equal(envelope_codec_from_proto((Prism__Codec)999, &c), -EINVAL);
}

/* The names the database and the API keep codecs and device kinds under,
 * both ways, and a source's wire form as the ladder sees it. */
static void test_names_and_source(void **state)
{
    (void)state;
    static const struct {
        Prism__Codec codec;
        const char *name;
    } codecs[] = {
        {PRISM__CODEC__CODEC_H264, "h264"}, {PRISM__CODEC__CODEC_HEVC, "hevc"},
        {PRISM__CODEC__CODEC_AV1, "av1"},   {PRISM__CODEC__CODEC_AAC, "aac"},
        {PRISM__CODEC__CODEC_OPUS, "opus"}, {PRISM__CODEC__CODEC_MP3, "mp3"}};
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        assert_string_equal(envelope_codec_name(codecs[i].codec),
                            codecs[i].name);
        assert_int_equal(envelope_codec_parse(codecs[i].name), codecs[i].codec);
    }
    assert_string_equal(envelope_codec_name(PRISM__CODEC__CODEC_UNSPECIFIED),
                        "");
    assert_string_equal(envelope_codec_name((Prism__Codec)99), "");
    assert_int_equal(envelope_codec_parse("vp9"),
                     PRISM__CODEC__CODEC_UNSPECIFIED);
    assert_int_equal(envelope_codec_parse(""), PRISM__CODEC__CODEC_UNSPECIFIED);
    assert_int_equal(envelope_codec_parse(NULL),
                     PRISM__CODEC__CODEC_UNSPECIFIED);

    assert_string_equal(
        envelope_device_kind_name(PRISM__DEVICE_KIND__DEVICE_KIND_NVENC),
        "nvenc");
    assert_string_equal(
        envelope_device_kind_name(PRISM__DEVICE_KIND__DEVICE_KIND_VAAPI),
        "vaapi");
    assert_string_equal(
        envelope_device_kind_name(PRISM__DEVICE_KIND__DEVICE_KIND_QSV), "qsv");
    assert_string_equal(
        envelope_device_kind_name(PRISM__DEVICE_KIND__DEVICE_KIND_CPU), "cpu");
    assert_string_equal(
        envelope_device_kind_name(PRISM__DEVICE_KIND__DEVICE_KIND_UNSPECIFIED),
        "cpu");
    assert_string_equal(envelope_device_kind_name((Prism__DeviceKind)42),
                        "cpu");

    Prism__SourceInfo in = PRISM__SOURCE_INFO__INIT;
    in.width = 1280;
    in.height = 720;
    in.fps_num = 60000;
    in.fps_den = 1001;
    in.video_kbps = 6000;
    in.audio_kbps = 160;
    ladder_source_t out;
    memset(&out, 0xff, sizeof(out));
    envelope_source_to_ladder(&in, &out);
    assert_int_equal(out.width, 1280);
    assert_int_equal(out.height, 720);
    assert_int_equal(out.fps_num, 60000);
    assert_int_equal(out.fps_den, 1001);
    assert_int_equal(out.bitrate_kbps, 6000);
    assert_int_equal(out.sar_num, 0); /* the rest zeroed: square pixels */
    assert_int_equal(out.sar_den, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_conversion),
        cmocka_unit_test(test_names_and_source),
        cmocka_unit_test_setup_teardown(test_register_with_devices, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assign_with_renditions_to_dealer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_request_and_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_and_credit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_major_is_refused_then_next_is_received, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_bytes_are_ebadmsg, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_size_bound_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dontwait_and_unroutable, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
