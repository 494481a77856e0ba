/* Tests for coordinator/streamkey: format, hashing, verification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "streamkey.h"
#include "test_main.h"

static void test_new_parse_verify(void **state)
{
    (void)state;
    char key[STREAMKEY_MAX], salt[STREAMKEY_SALT_HEX + 1],
        hash[STREAMKEY_HASH_HEX + 1];
    assert_int_equal(streamkey_new(42, key, salt, hash), 0);
    assert_true(strncmp(key, "live_42_", 8) == 0);
    assert_int_equal(strlen(key), 8 + STREAMKEY_SECRET_HEX);
    assert_int_equal(strlen(salt), STREAMKEY_SALT_HEX);
    int64_t id = 0;
    const char *secret = NULL;
    assert_int_equal(streamkey_parse(key, &id, &secret), 0);
    assert_int_equal(id, 42);
    assert_true(streamkey_verify(salt, key, hash));
    /* The hash is not the secret and a changed secret fails. */
    assert_true(strstr(key, hash) == NULL);
    char bad[STREAMKEY_MAX];
    strcpy(bad, key);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_int_equal(streamkey_parse(bad, &id, &secret), 0);
    assert_false(streamkey_verify(salt, bad, hash));
    /* Another salt gives another hash. */
    char other[STREAMKEY_SALT_HEX + 1];
    memcpy(other, salt, sizeof(other));
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_false(streamkey_verify(other, key, hash));
    /* Two keys differ. */
    char key2[STREAMKEY_MAX], salt2[STREAMKEY_SALT_HEX + 1],
        hash2[STREAMKEY_HASH_HEX + 1];
    assert_int_equal(streamkey_new(42, key2, salt2, hash2), 0);
    assert_string_not_equal(key, key2);
    assert_string_not_equal(hash, hash2);
}

static void test_known_hash(void **state)
{
    (void)state;
    char h[STREAMKEY_HASH_HEX + 1];
    /* sha256("abc"): salt byte 0x61 ('a') then the key "bc". */
    assert_int_equal(streamkey_hash("61", "bc", h), 0);
    assert_string_equal(
        h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_bad_salt(void **state)
{
    (void)state;
    char h[STREAMKEY_HASH_HEX + 1];
    assert_int_equal(streamkey_hash("6", "bc", h), -EINVAL);
    assert_int_equal(streamkey_hash("zz", "bc", h), -EINVAL);
    assert_false(streamkey_verify("zz", "bc", "00"));
}

static void test_parse_rejects(void **state)
{
    (void)state;
    int64_t id;
    const char *s;
    const char *bad[] = {
        "",
        "live_",
        "live_x_00",
        "live_0_" /* id 0 */,
        "live_5_abc",
        "stream_5_00",
        "live_5_ZZ00000000000000000000000000000000000000000000000000000000000"
        "0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(streamkey_parse(bad[i], &id, &s), -EINVAL);
}

TEST_MAIN(cmocka_unit_test(test_new_parse_verify),
          cmocka_unit_test(test_known_hash), cmocka_unit_test(test_bad_salt),
          cmocka_unit_test(test_parse_rejects))
