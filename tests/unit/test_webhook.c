/* Tests for coordinator/webhook's parts: the public event names, the
 * configuration's checks and the signature. (Delivery itself, with a real
 * coordinator, PostgreSQL and receiver: tests/e2e/farm_webhooks.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test_main.h"
#include "webhook.h"

static void test_public_names(void **state)
{
    (void)state;
    assert_string_equal(webhook_public_kind("stream.started"),
                        "stream.started");
    assert_string_equal(webhook_public_kind("stream.replaced"), "stream.moved");
    assert_string_equal(webhook_public_kind("stream.rendition_failed"),
                        "stream.partial");
    assert_string_equal(webhook_public_kind("stream.partial"),
                        "stream.partial");
    assert_null(webhook_public_kind("stream.placed"));
    assert_null(webhook_public_kind("worker.dead"));
    assert_null(webhook_public_kind(""));
}

/* The internal kinds a list of public names selects, as the SQL array. */
static void test_kinds_array(void **state)
{
    (void)state;
    char out[512], err[256];
    assert_int_equal(webhook_kinds_array("stream.moved , stream.ended", out,
                                         sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "{stream.replaced,stream.ended}");
    assert_int_equal(webhook_kinds_array("stream.partial", out, sizeof(out),
                                         err, sizeof(err)),
                     0);
    assert_string_equal(out, "{stream.partial,stream.rendition_failed}");
    assert_int_equal(
        webhook_kinds_array("", out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "{stream.started,stream.live,stream.replaced,"
                             "stream.partial,stream.rendition_failed,"
                             "stream.upgraded,stream.failed,stream.ended}");
    assert_int_equal(webhook_kinds_array("stream.started,stream.replaced", out,
                                         sizeof(out), err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "'stream.replaced'"));
    char small[16];
    assert_int_equal(
        webhook_kinds_array("", small, sizeof(small), err, sizeof(err)),
        -EINVAL);
}

static webhook_config_t config(const char *urls, const char *secret,
                               const char *events)
{
    return (webhook_config_t){.urls = urls,
                              .secret = secret,
                              .events = events,
                              .pg_url = "postgresql:///prism",
                              .coordinator_id = "c",
                              .timeout_ms = 1000,
                              .retry_min_ms = 100,
                              .retry_max_ms = 1000,
                              .poll_ms = 100};
}

static void test_config_check(void **state)
{
    (void)state;
    char err[256];
    const char *secret = "0123456789abcdef";
    webhook_config_t c = config("", "", "");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), 0);
    c = config("http://a/x, https://b/y", secret, "stream.live");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), 0);
    c = config("http://a/x", "short", "");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "webhook_secret"));
    c = config("ftp://a/x", secret, "");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), -EINVAL);
    c = config("http://a/x\"y", secret, "");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), -EINVAL);
    c = config("http://a/1,http://a/2,http://a/3,http://a/4,http://a/5,"
               "http://a/6,http://a/7,http://a/8,http://a/9",
               secret, "");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "at most 8"));
    c = config("http://a/x", secret, "stream.nonsense");
    assert_int_equal(webhook_config_check(&c, err, sizeof(err)), -EINVAL);
}

/* HMAC-SHA256 over "T." and the body, as a receiver recomputes it (the
 * expected value from Python's hmac module). */
static void test_signature(void **state)
{
    (void)state;
    char sig[160];
    const char *body = "{\"id\":7}";
    webhook_sign("0123456789abcdef-secret", 1700000000, body, strlen(body), sig,
                 sizeof(sig));
    assert_string_equal(sig, "t=1700000000,v1=0cc5619ff489f8dddf13f063a161a64b"
                             "d558fda54f2b417d82ea039c361e2524");
    webhook_sign("0123456789abcdef-secreT", 1700000000, body, strlen(body), sig,
                 sizeof(sig));
    assert_null(strstr(sig, "0cc5619ff489"));
}

TEST_MAIN(cmocka_unit_test(test_public_names),
          cmocka_unit_test(test_kinds_array),
          cmocka_unit_test(test_config_check), cmocka_unit_test(test_signature))
