/* Tests for coordinator/publish_hook: reading the platform's answers, a
 * hook that is down (refused connection, no answer in time) and the bound
 * on waiting publishes. (Allowed, refused and cached answers from a real
 * hook, through a farm: tests/e2e/farm_publish_hook.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "publish_hook.h"
#include "test_main.h"

static publish_hook_req_t parsed(int status, const char *body)
{
    publish_hook_req_t r;
    memset(&r, 0, sizeof(r));
    publish_hook_parse(status, body, &r);
    return r;
}

static void test_answers(void **state)
{
    (void)state;
    publish_hook_req_t r =
        parsed(200, "{\"allow\": true, \"channel\": \"dana\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_ALLOW);
    assert_string_equal(r.channel, "dana");
    assert_string_equal(r.profile, "");
    assert_int_equal(r.priority, -1);
    r = parsed(201, "{\"allow\": true, \"channel\": \"erin\", \"profile\": "
                    "\"small\", \"priority\": 80}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_ALLOW);
    assert_string_equal(r.profile, "small");
    assert_int_equal(r.priority, 80);
    r = parsed(200, "{\"allow\": false, \"reason\": \"banned for spam\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_REFUSE);
    assert_string_equal(r.reason, "banned for spam");
    r = parsed(403, "");
    assert_int_equal(r.verdict, PUBLISH_HOOK_REFUSE);
    assert_string_equal(r.reason, "refused by the platform");
    r = parsed(403, "{\"reason\": \"suspended\"}");
    assert_string_equal(r.reason, "suspended");
    /* Anything else is a hook that is down: the policy decides. */
    r = parsed(500, "{\"allow\": true, \"channel\": \"dana\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    assert_non_null(strstr(r.reason, "500"));
    r = parsed(200, "ok");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    r = parsed(200, "{\"allow\": \"yes\", \"channel\": \"dana\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    r = parsed(200, "{\"allow\": true}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    assert_non_null(strstr(r.reason, "channel"));
    r = parsed(200, "{\"allow\": true, \"channel\": \"-dana\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    r = parsed(200, "{\"allow\": true, \"channel\": \"da na\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    r = parsed(200, "{\"allow\": true, \"channel\": \"d\", \"priority\": 101}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
    r = parsed(200, "{\"allow\": true, \"channel\": \"d\", \"profile\": \"\"}");
    assert_int_equal(r.verdict, PUBLISH_HOOK_DOWN);
}

/* A loopback port: listening without accepting (a hook that never
 * answers) when LISTEN, else vacant (connections refused). */
static int port_of(bool listen_on, int *fd_out)
{
    int port = fixture_loopback_port(listen_on, fd_out);
    assert_true(port > 0);
    return port;
}

static publish_hook_t *start(const char *url, int timeout_ms, int queue_max)
{
    publish_hook_config_t cfg = {url, "", timeout_ms, 10000, 1, queue_max};
    bool failed = true;
    publish_hook_t *h = publish_hook_start(&cfg, &failed);
    assert_false(failed);
    assert_non_null(h);
    return h;
}

/* The next finished request, waiting up to 5 s on the hook's fd. */
static publish_hook_req_t *next_done(publish_hook_t *h)
{
    struct pollfd p = {publish_hook_fd(h), POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    publish_hook_req_t *r = publish_hook_take(h);
    assert_non_null(r);
    return r;
}

static publish_hook_req_t *request(const char *key)
{
    publish_hook_req_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->protocol, sizeof(r->protocol), "rtmp");
    return r;
}

static void test_refused_connection_is_down(void **state)
{
    (void)state;
    int fd;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/admit",
             port_of(false, &fd));
    publish_hook_t *h = start(url, 2000, 4);
    publish_hook_req_t *r = request("k1");
    assert_int_equal(publish_hook_ask(h, r), 0);
    publish_hook_req_t *d = next_done(h);
    assert_ptr_equal(d, r);
    assert_int_equal(d->verdict, PUBLISH_HOOK_DOWN);
    assert_non_null(strstr(d->reason, "did not answer"));
    free(d);
    /* A down answer is not cached: the next publish asks again. */
    r = request("k1");
    assert_int_equal(publish_hook_ask(h, r), 0);
    free(next_done(h));
    publish_hook_stats_t st;
    publish_hook_get_stats(h, &st);
    assert_int_equal(st.asked, 2);
    assert_int_equal(st.down, 2);
    assert_int_equal(st.cached, 0);
    publish_hook_stop(&h);
}

/* A hook that never answers: down after the timeout; meanwhile the one
 * waiting place is taken and a second publish is answered at once. */
static void test_timeout_and_bound(void **state)
{
    (void)state;
    int fd;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/admit", port_of(true, &fd));
    publish_hook_t *h = start(url, 300, 1);
    publish_hook_req_t *r1 = request("k1"), *r2 = request("k2");
    assert_int_equal(publish_hook_ask(h, r1), 0);
    assert_int_equal(publish_hook_ask(h, r2), -EAGAIN);
    assert_int_equal(r2->verdict, PUBLISH_HOOK_DOWN);
    assert_non_null(strstr(r2->reason, "too many"));
    free(r2);
    publish_hook_req_t *d = next_done(h);
    assert_ptr_equal(d, r1);
    assert_int_equal(d->verdict, PUBLISH_HOOK_DOWN);
    assert_null(publish_hook_take(h));
    free(d);
    /* With it answered, there is room again; the one left waiting at the
     * stop is freed there (ASan would see a leak). */
    assert_int_equal(publish_hook_ask(h, request("k3")), 0);
    publish_hook_stop(&h);
    close(fd);
}

static void test_config_check(void **state)
{
    (void)state;
    char err[128];
    publish_hook_config_t c = {"", "", 1000, 0, 4, 16};
    assert_int_equal(publish_hook_config_check(&c, err, sizeof(err)), 0);
    c.url = "https://platform.example/admit";
    assert_int_equal(publish_hook_config_check(&c, err, sizeof(err)), 0);
    c.url = "platform.example/admit";
    assert_int_equal(publish_hook_config_check(&c, err, sizeof(err)), -EINVAL);
    c.url = "http://x/";
    c.threads = 0;
    assert_int_equal(publish_hook_config_check(&c, err, sizeof(err)), -EINVAL);
    bool failed = true;
    c.url = "";
    assert_null(publish_hook_start(&c, &failed));
    assert_false(failed);
}

TEST_MAIN(cmocka_unit_test(test_answers),
          cmocka_unit_test(test_refused_connection_is_down),
          cmocka_unit_test(test_timeout_and_bound),
          cmocka_unit_test(test_config_check))
