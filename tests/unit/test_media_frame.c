/* Tests for shared/media_frame: two-frame media packets without copies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "clock.h"
#include "media_frame.h"
#include "zctx.h"
#include "zpair.h"
#include "zsock.h"

typedef struct {
    zpair_t z; /* router: the ingest side; dealer: the worker side */
    envelope_peer_t worker;
} pair_t;

static atomic_int freed;
static void *freed_ptr;

static void count_free(void *data, void *hint)
{
    assert_ptr_equal(hint, &freed);
    freed_ptr = data;
    free(data);
    atomic_fetch_add(&freed, 1);
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
}

/* Connects a DEALER to a ROUTER on endpoint and learns its routing id. */
static int setup_on(void **state, const char *endpoint)
{
    zsock_opts_t o;
    pair_t *p = calloc(1, sizeof(*p));
    Prism__Envelope env = PRISM__ENVELOPE__INIT, *got = NULL;
    Prism__Subscribe sub = PRISM__SUBSCRIBE__INIT;

    zsock_opts_default(&o);
    o.router_mandatory = true;
    o.rcvtimeo_ms = 5000;
    o.sndtimeo_ms = 5000;
    if (zpair_open(&p->z, &o, &o, endpoint, NULL) < 0)
        return -1;
    sub.stream_id = "s-1";
    env.body_case = PRISM__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &sub;
    if (envelope_send(p->z.dealer, NULL, "worker-1", &env, 0) ||
        envelope_recv(p->z.router, 0, &p->worker, &got, NULL))
        return -1;
    envelope_free(&got);
    atomic_store(&freed, 0);
    freed_ptr = NULL;
    *state = p;
    return 0;
}

static int setup_inproc(void **state)
{
    /* A fresh name per test: ZeroMQ releases an inproc name only when its
     * closed socket is reaped, which may come after the next setup. */
    static int n;
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "inproc://test-media-frame-%d", ++n);
    return setup_on(state, endpoint);
}

static int setup_tcp(void **state)
{
    return setup_on(state, "tcp://127.0.0.1:*");
}

static int teardown(void **state)
{
    pair_t *p = *state;
    zpair_close(&p->z);
    free(p);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    zctx_term();
    return 0;
}

static void make_header(Prism__MediaHeader *h)
{
    prism__media_header__init(h);
    h->stream_id = "s-1";
    h->track = 1;
    h->pts = 900000;
    h->dts = 897000;
    h->duration = 3000;
    h->keyframe = true;
    h->seq = 41;
    h->dropped = 2;
}

static void check_header(const Prism__Envelope *env)
{
    assert_int_equal(env->body_case, PRISM__ENVELOPE__BODY_MEDIA_HEADER);
    assert_string_equal(env->sender, "ingest-1");
    assert_string_equal(env->media_header->stream_id, "s-1");
    assert_int_equal(env->media_header->track, 1);
    assert_int_equal(env->media_header->pts, 900000);
    assert_int_equal(env->media_header->dts, 897000);
    assert_int_equal(env->media_header->duration, 3000);
    assert_true(env->media_header->keyframe);
    assert_int_equal(env->media_header->seq, 41);
    assert_int_equal(env->media_header->dropped, 2);
}

/* Over inproc the receiver gets the sender's very buffer: no copy at all. */
static void test_owned_large_payload_is_zero_copy(void **state)
{
    pair_t *p = *state;
    size_t len = 12u << 20;
    uint8_t *data = malloc(len), *expect = malloc(len);
    Prism__MediaHeader h;
    Prism__Envelope *env = NULL;
    zmq_msg_t payload;

    fill(data, len, 7);
    memcpy(expect, data, len);
    make_header(&h);
    assert_int_equal(media_frame_send_owned(p->z.router, &p->worker, "ingest-1",
                                            &h, data, len, count_free, &freed,
                                            0),
                     0);
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload), 0);
    check_header(env);
    assert_int_equal(zmq_msg_size(&payload), len);
    assert_ptr_equal(zmq_msg_data(&payload), data);
    assert_memory_equal(zmq_msg_data(&payload), expect, len);
    /* The buffer lives until the receiver is done with it. */
    assert_int_equal(atomic_load(&freed), 0);
    zmq_msg_close(&payload);
    assert_int_equal(atomic_load(&freed), 1);
    assert_ptr_equal(freed_ptr, data);
    envelope_free(&env);
    free(expect);
}

/* Over TCP: bytes identical, header intact, free callback called once. */
static void test_owned_large_payload_over_tcp(void **state)
{
    pair_t *p = *state;
    size_t len = 6u << 20;
    uint8_t *data = malloc(len), *expect = malloc(len);
    Prism__MediaHeader h;
    Prism__Envelope *env = NULL;
    zmq_msg_t payload;
    int64_t deadline;

    fill(data, len, 99);
    memcpy(expect, data, len);
    make_header(&h);
    assert_int_equal(media_frame_send_owned(p->z.router, &p->worker, "ingest-1",
                                            &h, data, len, count_free, &freed,
                                            0),
                     0);
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload), 0);
    check_header(env);
    assert_int_equal(zmq_msg_size(&payload), len);
    assert_memory_equal(zmq_msg_data(&payload), expect, len);
    zmq_msg_close(&payload);
    envelope_free(&env);
    /* The I/O thread frees the buffer once written to the wire. */
    deadline = clock_mono_ms() + 5000;
    while (atomic_load(&freed) == 0 && clock_mono_ms() < deadline)
        usleep(1000);
    assert_int_equal(atomic_load(&freed), 1);
    assert_ptr_equal(freed_ptr, data);
    free(expect);
}

/* The copying variant leaves the caller free to reuse its buffer at once. */
static void test_copy_send_lets_caller_reuse_buffer(void **state)
{
    pair_t *p = *state;
    uint8_t buf[4000], expect[4000];
    Prism__MediaHeader h;
    Prism__Envelope *env = NULL;
    zmq_msg_t payload;

    fill(buf, sizeof(buf), 3);
    memcpy(expect, buf, sizeof(buf));
    make_header(&h);
    assert_int_equal(media_frame_send_copy(p->z.router, &p->worker, "ingest-1",
                                           &h, buf, sizeof(buf), 0),
                     0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload), 0);
    check_header(env);
    assert_int_equal(zmq_msg_size(&payload), sizeof(buf));
    assert_memory_equal(zmq_msg_data(&payload), expect, sizeof(expect));
    zmq_msg_close(&payload);
    envelope_free(&env);
}

static void test_oversized_payload_refused_both_ways(void **state)
{
    pair_t *p = *state;
    size_t big = MEDIA_FRAME_MAX_PAYLOAD + 1;
    uint8_t *data = malloc(big);
    Prism__MediaHeader h;
    Prism__Envelope henv = PRISM__ENVELOPE__INIT, *env = NULL;
    zmq_msg_t payload;

    make_header(&h);
    /* Sending: refused, and the taken buffer is freed exactly once. */
    assert_int_equal(media_frame_send_owned(p->z.router, &p->worker, "ingest-1",
                                            &h, data, big, count_free, &freed,
                                            0),
                     -EMSGSIZE);
    assert_int_equal(atomic_load(&freed), 1);
    data = calloc(1, big);
    assert_int_equal(media_frame_send_copy(p->z.router, &p->worker, "ingest-1",
                                           &h, data, big, 0),
                     -EMSGSIZE);

    /* Receiving: a peer that skips our check is refused too... */
    henv.body_case = PRISM__ENVELOPE__BODY_MEDIA_HEADER;
    henv.media_header = &h;
    assert_int_equal(
        envelope_send(p->z.router, &p->worker, "ingest-1", &henv, ZMQ_SNDMORE),
        0);
    assert_int_equal(zmq_send(p->z.router, data, big, 0), (int)big);
    /* ...and the next packet still arrives. */
    assert_int_equal(media_frame_send_copy(p->z.router, &p->worker, "ingest-1",
                                           &h, "abc", 3, 0),
                     0);
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload),
                     -EMSGSIZE);
    assert_null(env);
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload), 0);
    assert_int_equal(zmq_msg_size(&payload), 3);
    assert_memory_equal(zmq_msg_data(&payload), "abc", 3);
    zmq_msg_close(&payload);
    envelope_free(&env);
    free(data);
}

static void test_header_without_payload_and_other_bodies(void **state)
{
    pair_t *p = *state;
    Prism__MediaHeader h;
    Prism__Envelope henv = PRISM__ENVELOPE__INIT, *env = NULL;
    Prism__Credit cr = PRISM__CREDIT__INIT;
    zmq_msg_t payload;

    make_header(&h);
    henv.body_case = PRISM__ENVELOPE__BODY_MEDIA_HEADER;
    henv.media_header = &h;
    assert_int_equal(
        envelope_send(p->z.router, &p->worker, "ingest-1", &henv, 0), 0);
    assert_int_equal(media_frame_recv(p->z.dealer, 0, NULL, &env, &payload),
                     -EBADMSG);
    assert_null(env);

    /* A control message on the media socket comes with an empty payload. */
    cr.stream_id = "s-1";
    cr.bytes = 1000;
    henv.body_case = PRISM__ENVELOPE__BODY_CREDIT;
    henv.credit = &cr;
    assert_int_equal(envelope_send(p->z.dealer, NULL, "worker-1", &henv, 0), 0);
    assert_int_equal(
        media_frame_recv(p->z.router, 0, &p->worker, &env, &payload), 0);
    assert_int_equal(env->body_case, PRISM__ENVELOPE__BODY_CREDIT);
    assert_int_equal(env->credit->bytes, 1000);
    assert_int_equal(zmq_msg_size(&payload), 0);
    zmq_msg_close(&payload);
    envelope_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_owned_large_payload_is_zero_copy,
                                        setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_owned_large_payload_over_tcp,
                                        setup_tcp, teardown),
        cmocka_unit_test_setup_teardown(test_copy_send_lets_caller_reuse_buffer,
                                        setup_tcp, teardown),
        cmocka_unit_test_setup_teardown(
            test_oversized_payload_refused_both_ways, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(
            test_header_without_payload_and_other_bodies, setup_inproc,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
