/* Tests of the per-address limits: connections and refused keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>

#include "addr_limit.h"
#include "test_main.h"

static void test_connections_per_address(void **state)
{
    (void)state;
    addr_limit_t *a = addr_limit_new(4, 2, 3, 1000);
    assert_int_equal(addr_limit_open(a, "10.0.0.1", 0), 0);
    assert_int_equal(addr_limit_open(a, "10.0.0.1", 0), 0);
    assert_int_equal(addr_limit_open(a, "10.0.0.1", 0), -EMFILE);
    assert_int_equal(addr_limit_open(a, "10.0.0.2", 0), 0); /* others fine */
    addr_limit_close(a, "10.0.0.1");
    assert_int_equal(addr_limit_open(a, "10.0.0.1", 0), 0);
    /* A full table refuses new addresses, and makes room once idle ones
     * can go. */
    assert_int_equal(addr_limit_open(a, "10.0.0.3", 0), 0);
    assert_int_equal(addr_limit_open(a, "10.0.0.4", 0), 0);
    assert_int_equal(addr_limit_open(a, "10.0.0.5", 0), -ENOSPC);
    addr_limit_close(a, "10.0.0.4");
    assert_int_equal(addr_limit_open(a, "10.0.0.5", 0), 0);
    addr_limit_free(&a);
    assert_null(a);
}

static void test_refused_keys_window(void **state)
{
    (void)state;
    addr_limit_t *a = addr_limit_new(8, 10, 3, 1000);
    for (int i = 0; i < 2; i++)
        addr_limit_bad_key(a, "192.0.2.7", 100);
    assert_false(addr_limit_blocked(a, "192.0.2.7", 100));
    addr_limit_bad_key(a, "192.0.2.7", 200);
    assert_true(addr_limit_blocked(a, "192.0.2.7", 300));
    assert_false(addr_limit_blocked(a, "192.0.2.8", 300));
    /* The window ends 1000 ms after its first refusal. */
    assert_true(addr_limit_blocked(a, "192.0.2.7", 1099));
    assert_false(addr_limit_blocked(a, "192.0.2.7", 1100));
    addr_limit_bad_key(a, "192.0.2.7", 1200); /* a new window starts */
    assert_false(addr_limit_blocked(a, "192.0.2.7", 1200));
    addr_limit_free(&a);
}

/* IPv6 clients count per /64 network, IPv4-mapped ones as IPv4. */
static void test_ipv6_per_network(void **state)
{
    (void)state;
    addr_limit_t *a = addr_limit_new(4, 2, 2, 1000);
    assert_int_equal(addr_limit_open(a, "2001:db8:1:2::a", 0), 0);
    assert_int_equal(addr_limit_open(a, "2001:db8:1:2:ffff:ffff:ffff:ffff", 0),
                     0);
    assert_int_equal(addr_limit_open(a, "2001:db8:1:2::b", 0), -EMFILE);
    assert_int_equal(addr_limit_open(a, "2001:db8:1:3::a", 0), 0);
    addr_limit_close(a, "2001:db8:1:2::a");
    assert_int_equal(addr_limit_open(a, "2001:db8:1:2::c", 0), 0);
    /* Many addresses of one /64 take one entry, not the whole table. */
    assert_int_equal(addr_limit_open(a, "::1", 0), 0);
    assert_int_equal(addr_limit_open(a, "192.0.2.7", 0), 0);
    assert_int_equal(addr_limit_open(a, "::ffff:192.0.2.7", 0), 0);
    assert_int_equal(addr_limit_open(a, "192.0.2.7", 0), -EMFILE);
    assert_int_equal(addr_limit_open(a, "::ffff:192.0.2.7", 0), -EMFILE);
    addr_limit_close(a, "192.0.2.7");
    assert_int_equal(addr_limit_open(a, "::ffff:192.0.2.7", 0), 0);
    addr_limit_free(&a);

    a = addr_limit_new(8, 10, 2, 1000);
    addr_limit_bad_key(a, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", 0);
    assert_false(addr_limit_blocked(a, "2001:db8:aaaa:bbbb::2", 0));
    addr_limit_bad_key(a, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:3", 0);
    assert_true(addr_limit_blocked(a, "2001:db8:aaaa:bbbb::2", 0));
    assert_false(addr_limit_blocked(a, "2001:db8:aaaa:bbbc::2", 0));
    assert_false(addr_limit_blocked(a, "::1", 0));
    addr_limit_free(&a);
}

/* The coordinator's use: no connection limit, only refused keys, and a full
 * table refuses to count a new address rather than evict a counted one. */
static void test_no_connection_limit(void **state)
{
    (void)state;
    addr_limit_t *a = addr_limit_new(2, 0, 2, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(addr_limit_open(a, "10.0.0.1", 0), 0);
    addr_limit_close(a, "10.0.0.1");

    assert_int_equal(addr_limit_bad_key(a, "2001:db8:7:8::1", 0), 0);
    assert_int_equal(addr_limit_bad_key(a, "2001:db8:7:8::2", 0), 0);
    assert_true(addr_limit_blocked(a, "2001:db8:7:8::3", 0));
    /* Both entries are taken (open connections, keys in the window). */
    assert_int_equal(addr_limit_bad_key(a, "192.0.2.1", 10), -ENOSPC);
    assert_false(addr_limit_blocked(a, "192.0.2.1", 10));
    assert_true(addr_limit_blocked(a, "2001:db8:7:8::4", 10));
    /* The window ends: the /64's entry is free for another address. */
    assert_int_equal(addr_limit_bad_key(a, "192.0.2.1", 1000), 0);
    assert_false(addr_limit_blocked(a, "2001:db8:7:8::4", 1000));
    addr_limit_free(&a);
}

TEST_MAIN(cmocka_unit_test(test_connections_per_address),
          cmocka_unit_test(test_refused_keys_window),
          cmocka_unit_test(test_ipv6_per_network),
          cmocka_unit_test(test_no_connection_limit))
