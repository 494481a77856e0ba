/* Tests for worker/pkt_queue: bounds, keyframe drop runs, blocking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "pkt_queue.h"
#include "test_main.h"

static int put(pkt_queue_t *q, int stream, bool key, int tag)
{
    AVPacket *p = av_packet_alloc();
    assert_non_null(p);
    p->stream_index = stream;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    p->pts = tag;
    int ret = pkt_queue_put(
        q, p, (pkt_times_t){.read_us = tag, .arrival_unix_us = 10 * tag});
    av_packet_free(&p);
    return ret;
}

static int get(pkt_queue_t *q)
{
    AVPacket *p = av_packet_alloc();
    pkt_times_t times = {-1, -1};
    assert_non_null(p);
    int ret = pkt_queue_get(q, p, &times);
    int tag = ret < 0 ? ret : (int)p->pts;
    if (ret == 0) {
        assert_int_equal(times.read_us, p->pts);
        assert_int_equal(times.arrival_unix_us, 10 * p->pts);
    }
    av_packet_free(&p);
    return tag;
}

static void test_live_drops_to_next_keyframe(void **state)
{
    (void)state;
    pkt_queue_t *q = pkt_queue_new(2, true, 0);
    assert_non_null(q);
    assert_int_equal(put(q, 0, true, 1), 0);
    assert_int_equal(put(q, 0, false, 2), 0);
    assert_int_equal(put(q, 0, false, 3), 1); /* full: dropped */
    assert_int_equal(get(q), 1);
    /* Room now, but video stays dropped until a keyframe... */
    assert_int_equal(put(q, 0, false, 4), 1);
    /* ...while audio goes in. */
    assert_int_equal(put(q, 1, false, 5), 0);
    assert_int_equal(get(q), 2);
    assert_int_equal(put(q, 0, true, 6), 0);
    assert_int_equal(pkt_queue_dropped(q), 2);
    assert_int_equal(get(q), 5);
    assert_int_equal(get(q), 6);
    pkt_queue_finish(q);
    assert_int_equal(get(q), AVERROR_EOF);
    pkt_queue_free(&q);
    assert_null(q);
}

static void *consumer(void *arg)
{
    pkt_queue_t *q = arg;
    usleep(100000);
    get(q);
    return NULL;
}

static void test_file_blocks_instead_of_dropping(void **state)
{
    (void)state;
    pkt_queue_t *q = pkt_queue_new(1, false, 0);
    pthread_t t;
    assert_int_equal(put(q, 0, true, 1), 0);
    assert_int_equal(pthread_create(&t, NULL, consumer, q), 0);
    /* Blocks until the consumer takes packet 1, then goes in. */
    assert_int_equal(put(q, 0, false, 2), 0);
    pthread_join(t, NULL);
    assert_int_equal(pkt_queue_dropped(q), 0);
    assert_int_equal(get(q), 2);
    pkt_queue_close(q);
    assert_int_equal(put(q, 0, false, 3), AVERROR_EXIT);
    assert_int_equal(get(q), AVERROR_EXIT);
    pkt_queue_free(&q);
}

TEST_MAIN(cmocka_unit_test(test_live_drops_to_next_keyframe),
          cmocka_unit_test(test_file_blocks_instead_of_dropping))
