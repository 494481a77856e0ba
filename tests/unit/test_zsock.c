/* Tests for shared/zsock's endpoint lists: a node connected to a leader
 * and a standby over real TCP sends only to the one that is bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "fixture.h"
#include "zctx.h"
#include "zsock.h"

#define MESSAGES 6
#define WAIT_MS  3000 /* for the connection and all the messages */

static void *socks[4];
static int nsocks;

static void *track(void *sock)
{
    assert_non_null(sock);
    assert_true(nsocks < 4);
    socks[nsocks++] = sock;
    return sock;
}

static int teardown(void **state)
{
    (void)state;
    while (nsocks > 0)
        zsock_close(&socks[--nsocks]);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    zctx_term();
    return 0;
}

/* A ROUTER bound to an ephemeral loopback port; its endpoint in ep. */
static void *bound_router(char *ep, size_t len)
{
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.rcvtimeo_ms = 100;
    void *r = track(zsock_new(ZMQ_ROUTER, &o));
    assert_int_equal(zsock_bind(r, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zsock_last_endpoint(r, ep, len), 0);
    return r;
}

/* The standby binds nothing: a port taken and given back by a plain socket
 * that never listened. (A closed ZMQ listener lets its port go later, from
 * its I/O thread, and the kernel completes handshakes on it meanwhile: a
 * peer that connects in that window loses what it sent.) */
static void vacant_endpoint(char *ep, size_t len)
{
    int fd;
    int port = fixture_loopback_port(false, &fd);
    assert_true(port > 0);
    snprintf(ep, len, "tcp://127.0.0.1:%d", port);
}

/* Counts the messages the ROUTER takes within WAIT_MS (identity + body). */
static int count_arrivals(void *router)
{
    int got = 0;
    for (int waited = 0; waited < WAIT_MS && got < MESSAGES; waited += 100) {
        char id[64], body[16];
        if (zmq_recv(router, id, sizeof(id), 0) < 0)
            continue;
        assert_true(zmq_recv(router, body, sizeof(body), 0) > 0);
        got++;
    }
    return got;
}

static void test_list_sends_only_to_the_bound_peer(void **state)
{
    (void)state;
    char leader[128], standby[128], list[300];
    vacant_endpoint(standby, sizeof(standby));
    void *router = bound_router(leader, sizeof(leader));
    snprintf(list, sizeof(list), "%s, %s", standby, leader);
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    void *dealer = track(zsock_new(ZMQ_DEALER, &o));
    assert_int_equal(zsock_connect_list(dealer, list), 2);
    int sent = 0;
    for (int waited = 0; waited < WAIT_MS && sent < MESSAGES; waited += 10) {
        if (zmq_send(dealer, "hello", 5, ZMQ_DONTWAIT) == 5)
            sent++; /* EAGAIN until the leader's connection is up */
        else
            zmq_poll(NULL, 0, 10);
    }
    assert_int_equal(sent, MESSAGES);
    /* Without ZMQ_IMMEDIATE every other message would wait in the pipe to
     * the standby, which never binds. */
    assert_int_equal(count_arrivals(router), MESSAGES);
}

static void test_one_endpoint_queues_until_it_binds(void **state)
{
    (void)state;
    char ep[128];
    vacant_endpoint(ep, sizeof(ep));
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    void *dealer = track(zsock_new(ZMQ_DEALER, &o));
    assert_int_equal(zsock_connect_list(dealer, ep), 1);
    /* A lone coordinator that restarts gets what was sent meanwhile. */
    for (int i = 0; i < MESSAGES; i++)
        assert_int_equal(zmq_send(dealer, "hello", 5, ZMQ_DONTWAIT), 5);
    zsock_opts_default(&o);
    o.rcvtimeo_ms = 100;
    void *router = track(zsock_new(ZMQ_ROUTER, &o));
    assert_int_equal(zmq_bind(router, ep), 0);
    assert_int_equal(count_arrivals(router), MESSAGES);
}

static void test_bad_lists_are_refused(void **state)
{
    (void)state;
    zsock_opts_t o;
    zsock_opts_default(&o);
    void *dealer = track(zsock_new(ZMQ_DEALER, &o));
    assert_int_equal(zsock_connect_list(dealer, ""), -EINVAL);
    assert_int_equal(zsock_connect_list(dealer, " , ,"), -EINVAL);
    assert_int_equal(zsock_connect_list(dealer, NULL), -EINVAL);
    char many[1024] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many),
                 "tcp://127.0.0.1:%d,", 7000 + i);
    assert_int_equal(zsock_connect_list(dealer, many), -EINVAL);
    assert_true(zsock_connect_list(dealer, "tcp://127.0.0.1:7000, nonsense") <
                0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_list_sends_only_to_the_bound_peer,
                                  teardown),
        cmocka_unit_test_teardown(test_one_endpoint_queues_until_it_binds,
                                  teardown),
        cmocka_unit_test_teardown(test_bad_lists_are_refused, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
