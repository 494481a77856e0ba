/* Tests of the HOST:PORT parser, listener resolution and peer text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"
#include "test_main.h"

static void split_ok(const char *in, const char *host, int port)
{
    char h[NETADDR_HOST_MAX];
    int p = -1;
    const char *why = NULL;
    assert_int_equal(netaddr_split(in, h, sizeof(h), &p, &why), 0);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void split_bad(const char *in, const char *why_part)
{
    char h[NETADDR_HOST_MAX] = "untouched";
    int p = -1;
    const char *why = NULL;
    assert_int_equal(netaddr_split(in, h, sizeof(h), &p, &why), -EINVAL);
    assert_non_null(why);
    assert_non_null(strstr(why, why_part));
    assert_int_equal(p, -1);
}

static void test_split_forms(void **state)
{
    (void)state;
    split_ok("0.0.0.0:1935", "0.0.0.0", 1935);
    split_ok("127.0.0.1:0", "127.0.0.1", 0);
    split_ok("[::]:1935", "::", 1935);
    split_ok("[::1]:9000", "::1", 9000);
    split_ok("[fe80::1%lo]:65535", "fe80::1%lo", 65535);
    split_ok("ingest.example.org:1935", "ingest.example.org", 1935);
    split_ok("localhost:00080", "localhost", 80);
}

static void test_split_errors(void **state)
{
    (void)state;
    split_bad(NULL, "empty");
    split_bad("", "empty");
    split_bad("127.0.0.1", "missing port");
    split_bad("127.0.0.1:", "missing port");
    split_bad("[::1]", "missing port");
    split_bad("[::1]:", "missing port");
    split_bad(":1935", "missing host");
    split_bad("[]:1935", "missing host");
    split_bad("host:65536", "port");
    split_bad("host:-1", "port");
    split_bad("host:19x5", "port");
    split_bad("host:123456", "port");
    split_bad("host: 80", "port");
    split_bad("[::1:1935", "without ']'");
    split_bad("::1]:1935", "unbalanced");
    split_bad("[[::1]:1935", "unbalanced");
    split_bad("[::1]]:1935", "unbalanced");
    split_bad("[::1]1935", "':' expected");
    split_bad("::1:1935", "brackets");
    char small[4];
    int p;
    assert_int_equal(netaddr_split("abcd:1", small, sizeof(small), &p, NULL),
                     -EINVAL);
    assert_int_equal(netaddr_split("abc:1", small, sizeof(small), &p, NULL), 0);
    assert_string_equal(small, "abc");
}

static void test_resolve(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    char err[128] = "";
    char txt[64];

    assert_int_equal(netaddr_resolve("127.0.0.1:1935", SOCK_STREAM, &ss, &sl,
                                     err, sizeof(err)),
                     0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(sl, sizeof(struct sockaddr_in));
    assert_int_equal(netaddr_port((struct sockaddr *)&ss), 1935);
    netaddr_str((struct sockaddr *)&ss, txt, sizeof(txt));
    assert_string_equal(txt, "127.0.0.1");

    assert_int_equal(
        netaddr_resolve("[::]:9000", SOCK_DGRAM, &ss, &sl, err, sizeof(err)),
        0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(sl, sizeof(struct sockaddr_in6));
    assert_int_equal(netaddr_port((struct sockaddr *)&ss), 9000);
    assert_true(
        IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr));

    assert_int_equal(
        netaddr_resolve("[::1]:0", SOCK_STREAM, &ss, &sl, err, sizeof(err)), 0);
    netaddr_str((struct sockaddr *)&ss, txt, sizeof(txt));
    assert_string_equal(txt, "::1");

    /* A name: localhost is in every /etc/hosts, as 127.0.0.1 or ::1. */
    assert_int_equal(netaddr_resolve("localhost:1935", SOCK_STREAM, &ss, &sl,
                                     err, sizeof(err)),
                     0);
    netaddr_str((struct sockaddr *)&ss, txt, sizeof(txt));
    assert_true(strcmp(txt, "127.0.0.1") == 0 || strcmp(txt, "::1") == 0);
    assert_int_equal(netaddr_port((struct sockaddr *)&ss), 1935);

    /* Brackets hold a numeric IPv6 address only. */
    assert_int_equal(netaddr_resolve("[127.0.0.1]:1", SOCK_STREAM, &ss, &sl,
                                     err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not an IPv6 address"));
    assert_int_equal(netaddr_resolve("[localhost]:1", SOCK_STREAM, &ss, &sl,
                                     err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        netaddr_resolve("1.2.3:x", SOCK_STREAM, &ss, &sl, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "port"));
    /* A name that cannot resolve (.invalid is reserved, RFC 2606). */
    assert_int_equal(netaddr_resolve("no-such-host.invalid:1", SOCK_STREAM, &ss,
                                     &sl, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "cannot resolve the host: "));
}

static void test_peer_text(void **state)
{
    (void)state;
    char txt[64];
    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(4242);
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr), 1);
    netaddr_str((struct sockaddr *)&s6, txt, sizeof(txt));
    assert_string_equal(txt, "192.0.2.7"); /* mapped: as IPv4 */
    assert_int_equal(netaddr_port((struct sockaddr *)&s6), 4242);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::42", &s6.sin6_addr), 1);
    netaddr_str((struct sockaddr *)&s6, txt, sizeof(txt));
    assert_string_equal(txt, "2001:db8::42");
    struct sockaddr other = {.sa_family = AF_UNIX};
    strcpy(txt, "x");
    netaddr_str(&other, txt, sizeof(txt));
    assert_string_equal(txt, "");
    assert_int_equal(netaddr_port(&other), -1);
}

TEST_MAIN(cmocka_unit_test(test_split_forms),
          cmocka_unit_test(test_split_errors), cmocka_unit_test(test_resolve),
          cmocka_unit_test(test_peer_text))
