/* Tests for shared/zap with shared/zsock: CURVE allowlist over real TCP. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "log.h"
#include "zap.h"
#include "zctx.h"
#include "zsock.h"

#define DOMAIN   "prism"
#define WAIT_OK  5000 /* ms a good handshake may take on a slow machine */
#define WAIT_BAD 1000 /* ms we wait to be sure nothing arrives */

static char tmpdir[256], allowdir[300];
static curve_keypair_t *server_kp, *listed_kp, *stranger_kp;

/* What a test opened, closed by teardown even when an assertion fails. */
static void *socks[8];
static int nsocks;
static zap_t *zap;

static void *track(void *sock)
{
    assert_non_null(sock);
    assert_true(nsocks < 8);
    socks[nsocks++] = sock;
    return sock;
}

/*
 * libzmq releases the handler's inproc endpoint when its reaper thread has
 * finished with the closed socket, a little after zap_free; a test starting
 * the next handler waits for that.
 */
static zap_t *start_zap(void)
{
    int64_t deadline = clock_mono_ms() + 3000;
    zap_t *z;
    while (!(z = zap_new(allowdir, DOMAIN)) && clock_mono_ms() < deadline)
        usleep(20000);
    return z;
}

static int teardown(void **state)
{
    (void)state;
    while (nsocks > 0)
        zsock_close(&socks[--nsocks]);
    zap_free(&zap);
    log_set_fd(2);
    return 0;
}

static void write_pub(const char *name, const char *key)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pub", allowdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# test key\npublic_key = %s\n", key);
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/prism-test-zap-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(allowdir, sizeof(allowdir), "%s/allow", tmpdir);
    if (mkdir(allowdir, 0755) != 0)
        return -1;
    server_kp = curve_keypair_generate();
    listed_kp = curve_keypair_generate();
    stranger_kp = curve_keypair_generate();
    if (!server_kp || !listed_kp || !stranger_kp)
        return -1;
    /* A full key file in the directory must not count: only *.pub do. */
    char pub[400];
    if (curve_keys_write(stranger_kp, allowdir, "not-a-pub", false, NULL, pub,
                         sizeof(pub)) ||
        unlink(pub) != 0)
        return -1;
    write_pub("worker-a", listed_kp->public_z85);
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[300];
    (void)state;
    curve_keypair_free(&server_kp);
    curve_keypair_free(&listed_kp);
    curve_keypair_free(&stranger_kp);
    zctx_term();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A ROUTER on an ephemeral loopback port; CURVE server unless plain. */
static void *make_server(bool curve, const char *domain, char *ep, size_t n)
{
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.rcvtimeo_ms = 100;
    void *s = track(zsock_new(ZMQ_ROUTER, &o));
    if (curve)
        assert_int_equal(zsock_curve_server(s, server_kp, domain), 0);
    else if (domain)
        assert_int_equal(
            zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)), 0);
    assert_int_equal(zsock_bind(s, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zsock_last_endpoint(s, ep, n), 0);
    assert_non_null(strstr(ep, "tcp://127.0.0.1:"));
    return s;
}

/* A DEALER (connect it yourself); CURVE client with kp unless kp is NULL. */
static void *make_client(const curve_keypair_t *kp)
{
    zsock_opts_t o;
    int ivl = 50;
    zsock_opts_default(&o);
    o.rcvtimeo_ms = WAIT_OK;
    void *c = track(zsock_new(ZMQ_DEALER, &o));
    assert_int_equal(zmq_setsockopt(c, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)),
                     0);
    if (kp)
        assert_int_equal(zsock_curve_client(c, kp, server_kp->public_z85), 0);
    return c;
}

static void *monitor(void *sock, int events)
{
    static int n;
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://test-zap-mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(sock, ep, events), 0);
    void *m = track(zsock_new(ZMQ_PAIR, NULL));
    assert_int_equal(zsock_connect(m, ep), 0);
    return m;
}

/* Waits for an event in `want`; returns it (value in *value) or 0. */
static int wait_event(void *mon, int want, int timeout_ms, uint32_t *value)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (clock_mono_ms() < deadline) {
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        uint8_t ev[6];
        char addr[256];
        if (zmq_recv(mon, ev, sizeof(ev), 0) != 6)
            continue;
        zmq_recv(mon, addr, sizeof(addr), 0);
        uint16_t id;
        memcpy(&id, ev, 2);
        memcpy(value, ev + 2, 4);
        if (id & want)
            return id;
    }
    return 0;
}

static void send_hello(void *client, const char *node)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__Hello hello = PRISM__HELLO__INIT;
    hello.node_id = (char *)node;
    env.body_case = PRISM__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    /* Queued until the handshake completes (or dropped with the socket). */
    envelope_send(client, NULL, node, &env, ZMQ_DONTWAIT);
}

/* True if the server receives anything within ms. */
static bool anything_arrives(void *server, int ms)
{
    zmq_pollitem_t it = {server, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, ms) > 0;
}

static Prism__Envelope *recv_within(void *server, int ms, envelope_peer_t *from)
{
    Prism__Envelope *env = NULL;
    if (!anything_arrives(server, ms))
        return NULL;
    assert_int_equal(envelope_recv(server, ZMQ_DONTWAIT, from, &env, NULL), 0);
    return env;
}

static void test_listed_key_connects_and_is_named(void **state)
{
    zap = start_zap();
    char ep[128];
    envelope_peer_t from;
    Prism__Envelope *env, *reply = NULL;
    (void)state;

    assert_non_null(zap);
    assert_int_equal(zap_key_count(zap), 1);
    void *server = make_server(true, DOMAIN, ep, sizeof(ep));
    void *client = make_client(listed_kp);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "worker-a");

    env = recv_within(server, WAIT_OK, &from);
    assert_non_null(env);
    assert_string_equal(env->hello->node_id, "worker-a");
    /* The application learns who connected from the ZAP user id. */
    assert_string_equal(from.user_id, "worker-a");
    assert_string_equal(from.address, "127.0.0.1");
    envelope_free(&env);

    /* And the encrypted link works both ways. */
    Prism__Envelope ack = PRISM__ENVELOPE__INIT;
    Prism__RegisterAck ra = PRISM__REGISTER_ACK__INIT;
    ra.accepted = true;
    ack.body_case = PRISM__ENVELOPE__BODY_REGISTER_ACK;
    ack.register_ack = &ra;
    assert_int_equal(envelope_send(server, &from, "coord", &ack, 0), 0);
    assert_int_equal(envelope_recv(client, 0, NULL, &reply, NULL), 0);
    assert_true(reply->register_ack->accepted);
    envelope_free(&reply);
    assert_true(zap_admitted(zap) >= 1);
    assert_int_equal(zap_denied(zap), 0);

    zap_free(&zap);
    assert_null(zap);
}

static void test_unlisted_key_is_denied_and_logged_once(void **state)
{
    zap = start_zap();
    char ep[128], path[] = "/tmp/prism-test-zap-log-XXXXXX", text[8192];
    uint32_t value = 0;
    int fd = mkstemp(path);
    (void)state;

    assert_non_null(zap);
    assert_true(fd >= 0);
    unlink(path);
    log_set_fd(fd);
    void *server = make_server(true, DOMAIN, ep, sizeof(ep));
    void *client = make_client(stranger_kp);
    void *mon = monitor(client, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "stranger");

    /* The client is told why: ZAP status 400. */
    assert_int_equal(wait_event(mon,
                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                    ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
                                WAIT_OK, &value),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(value, 400);
    assert_false(anything_arrives(server, WAIT_BAD));

    /* A second socket with the same key retries; still one log line. */
    void *again = make_client(stranger_kp);
    assert_int_equal(zsock_connect(again, ep), 0);
    send_hello(again, "stranger");
    int64_t deadline = clock_mono_ms() + WAIT_OK;
    while (zap_denied(zap) < 2 && clock_mono_ms() < deadline)
        usleep(10000);
    assert_true(zap_denied(zap) >= 2);
    assert_false(anything_arrives(server, 200));
    assert_int_equal(zap_admitted(zap), 0);

    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    log_set_fd(2);
    close(fd);
    char *hit = strstr(text, "Denied a client.");
    assert_non_null(hit);
    assert_null(strstr(hit + 1, "Denied a client."));
    assert_non_null(strstr(text, stranger_kp->public_z85));
    assert_non_null(strstr(text, "peer=127.0.0.1"));
    assert_null(strstr(text, stranger_kp->secret_z85));
}

static void test_plain_client_gets_nothing_through(void **state)
{
    zap = start_zap();
    char ep[128];
    uint32_t value;
    (void)state;

    assert_non_null(zap);
    void *server = make_server(true, DOMAIN, ep, sizeof(ep));
    void *mon = monitor(server, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    void *client = make_client(NULL);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "plain");
    assert_int_equal(wait_event(mon,
                                ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL,
                                WAIT_OK, &value),
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_false(anything_arrives(server, WAIT_BAD));
}

/* The handler itself refuses the NULL mechanism on a socket that asks it. */
static void test_handler_denies_null_mechanism(void **state)
{
    zap = start_zap();
    char ep[128];
    (void)state;

    assert_non_null(zap);
    void *server = make_server(false, DOMAIN, ep, sizeof(ep));
    void *client = make_client(NULL);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "plain");
    int64_t deadline = clock_mono_ms() + WAIT_OK;
    while (zap_denied(zap) < 1 && clock_mono_ms() < deadline)
        usleep(10000);
    assert_true(zap_denied(zap) >= 1);
    assert_false(anything_arrives(server, WAIT_BAD));
}

static void test_other_domain_is_denied(void **state)
{
    zap = start_zap();
    char ep[128];
    (void)state;

    assert_non_null(zap);
    void *server = make_server(true, "elsewhere", ep, sizeof(ep));
    void *client = make_client(listed_kp);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "worker-a");
    assert_false(anything_arrives(server, WAIT_BAD));
    assert_true(zap_denied(zap) >= 1);
}

static void test_reload_admits_a_new_key(void **state)
{
    zap = start_zap();
    char ep[128], node[] = "worker-b";
    envelope_peer_t from;
    Prism__Envelope *env;
    (void)state;

    assert_non_null(zap);
    void *server = make_server(true, DOMAIN, ep, sizeof(ep));
    write_pub(node, stranger_kp->public_z85);
    assert_int_equal(zap_reload(zap), 2);
    assert_int_equal(zap_key_count(zap), 2);
    void *client = make_client(stranger_kp);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, node);
    env = recv_within(server, WAIT_OK, &from);
    assert_non_null(env);
    assert_string_equal(from.user_id, "worker-b");
    envelope_free(&env);

    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pub", allowdir, node);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zap_reload(zap), 1);
}

/* A key file added to or removed from the directory is picked up by
 * zap_reload_if_changed, which reads nothing when nothing changed. */
static void test_reload_if_changed_follows_the_directory(void **state)
{
    char node[] = "worker-c", path[512];
    (void)state;

    zap = start_zap();
    assert_non_null(zap);
    assert_int_equal(zap_key_count(zap), 1);
    sleep(1); /* the first read is no longer racy: mtime is trusted */
    assert_int_equal(zap_reload_if_changed(zap), 0);
    assert_int_equal(zap_reload_if_changed(zap), 0);
    write_pub(node, stranger_kp->public_z85);
    assert_int_equal(zap_reload_if_changed(zap), 1);
    assert_int_equal(zap_key_count(zap), 2);
    snprintf(path, sizeof(path), "%s/%s.pub", allowdir, node);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zap_reload_if_changed(zap), 1);
    assert_int_equal(zap_key_count(zap), 1);
}

/* Without a handler, a CURVE server admits nobody (domain enforced). */
static void test_no_handler_admits_nobody(void **state)
{
    char ep[128];
    (void)state;

    void *server = make_server(true, DOMAIN, ep, sizeof(ep));
    void *client = make_client(listed_kp);
    assert_int_equal(zsock_connect(client, ep), 0);
    send_hello(client, "worker-a");
    assert_false(anything_arrives(server, WAIT_BAD));
}

static void test_second_handler_and_bad_dir_fail(void **state)
{
    char missing[400];
    (void)state;

    snprintf(missing, sizeof(missing), "%s/none", tmpdir);
    assert_null(zap_new(missing, DOMAIN));
    zap = start_zap();
    assert_non_null(zap);
    assert_null(zap_new(allowdir, DOMAIN)); /* endpoint already bound */
    zap_free(&zap);
    zap_free(&zap); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_listed_key_connects_and_is_named,
                                  teardown),
        cmocka_unit_test_teardown(test_unlisted_key_is_denied_and_logged_once,
                                  teardown),
        cmocka_unit_test_teardown(test_plain_client_gets_nothing_through,
                                  teardown),
        cmocka_unit_test_teardown(test_handler_denies_null_mechanism, teardown),
        cmocka_unit_test_teardown(test_other_domain_is_denied, teardown),
        cmocka_unit_test_teardown(test_reload_admits_a_new_key, teardown),
        cmocka_unit_test_teardown(test_reload_if_changed_follows_the_directory,
                                  teardown),
        cmocka_unit_test_teardown(test_no_handler_admits_nobody, teardown),
        cmocka_unit_test_teardown(test_second_handler_and_bad_dir_fail,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
