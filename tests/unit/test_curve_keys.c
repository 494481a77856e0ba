/* Tests for shared/curve_keys: generation, files, modes, validation. */
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

#include "curve_keys.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/prism-test-keys-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t n, const char *file)
{
    snprintf(buf, n, "%s/%s", tmpdir, file);
}

static void test_generate_gives_matching_valid_keys(void **state)
{
    curve_keypair_t *a = curve_keypair_generate();
    curve_keypair_t *b = curve_keypair_generate();
    char derived[CURVE_KEY_Z85_SIZE];
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    assert_true(curve_key_valid(a->public_z85));
    assert_true(curve_key_valid(a->secret_z85));
    assert_string_not_equal(a->public_z85, b->public_z85);
    assert_string_not_equal(a->public_z85, a->secret_z85);
    assert_int_equal(zmq_curve_public(derived, a->secret_z85), 0);
    assert_string_equal(derived, a->public_z85);
    curve_keypair_free(&a);
    assert_null(a);
    curve_keypair_free(&b);
    curve_keypair_free(&b); /* NULL-safe */
}

static void test_key_validation(void **state)
{
    (void)state;
    assert_false(curve_key_valid(NULL));
    assert_false(curve_key_valid(""));
    /* 40 characters of the alphabet, then the same with one too many/few. */
    assert_true(curve_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    assert_false(curve_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));
    assert_false(curve_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7x"));
    /* A space and a quote are not Z85. */
    assert_false(curve_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y 7"));
    assert_false(curve_key_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y\"7"));
}

static void test_write_load_round_trip_and_modes(void **state)
{
    curve_keypair_t *kp = curve_keypair_generate(), *back = NULL;
    char kpath[512], ppath[512], pub[CURVE_KEY_Z85_SIZE], kp2[512], pp2[512];
    struct stat st;
    mode_t old = umask(0); /* modes must not depend on the umask */
    (void)state;

    assert_non_null(kp);
    assert_int_equal(
        curve_keys_write(kp, tmpdir, "worker-1", false, kp2, pp2, sizeof(kp2)),
        0);
    umask(old);
    path_of(kpath, sizeof(kpath), "worker-1.key");
    path_of(ppath, sizeof(ppath), "worker-1.pub");
    assert_string_equal(kp2, kpath);
    assert_string_equal(pp2, ppath);

    assert_int_equal(stat(kpath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(ppath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    assert_int_equal(curve_keys_load_secret(kpath, &back), 0);
    assert_non_null(back);
    assert_string_equal(back->public_z85, kp->public_z85);
    assert_string_equal(back->secret_z85, kp->secret_z85);
    curve_keypair_free(&back);

    assert_int_equal(curve_keys_load_public(ppath, pub), 0);
    assert_string_equal(pub, kp->public_z85);
    assert_int_equal(curve_keys_load_public(kpath, pub), 0);
    assert_string_equal(pub, kp->public_z85);

    /* The public file must not carry the secret. */
    FILE *f = fopen(ppath, "r");
    char text[1024] = "";
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_null(strstr(text, kp->secret_z85));
    curve_keypair_free(&kp);
}

static void test_refuses_overwrite_unless_forced(void **state)
{
    curve_keypair_t *a = curve_keypair_generate();
    curve_keypair_t *b = curve_keypair_generate(), *back = NULL;
    char kpath[512];
    (void)state;

    path_of(kpath, sizeof(kpath), "node.key");
    assert_int_equal(curve_keys_write(a, tmpdir, "node", false, NULL, NULL, 0),
                     0);
    assert_int_equal(curve_keys_write(b, tmpdir, "node", false, NULL, NULL, 0),
                     -EEXIST);
    assert_int_equal(curve_keys_load_secret(kpath, &back), 0);
    assert_string_equal(back->secret_z85, a->secret_z85);
    curve_keypair_free(&back);

    assert_int_equal(curve_keys_write(b, tmpdir, "node", true, NULL, NULL, 0),
                     0);
    assert_int_equal(curve_keys_load_secret(kpath, &back), 0);
    assert_string_equal(back->secret_z85, b->secret_z85);
    curve_keypair_free(&back);

    /* Names that would escape the directory are refused. */
    assert_int_equal(
        curve_keys_write(a, tmpdir, "../evil", false, NULL, NULL, 0), -EINVAL);
    assert_int_equal(
        curve_keys_write(a, tmpdir, ".hidden", false, NULL, NULL, 0), -EINVAL);
    curve_keypair_free(&a);
    curve_keypair_free(&b);
}

static void test_load_refuses_bad_files(void **state)
{
    curve_keypair_t *a = curve_keypair_generate(), *b, *back = NULL;
    char kpath[512], bad[512], text[512], pub[CURVE_KEY_Z85_SIZE];
    FILE *f;
    (void)state;

    b = curve_keypair_generate();
    assert_int_equal(curve_keys_write(a, tmpdir, "m", false, NULL, NULL, 0), 0);
    path_of(kpath, sizeof(kpath), "m.key");

    /* A secret file others may read is refused. */
    assert_int_equal(chmod(kpath, 0644), 0);
    assert_int_equal(curve_keys_load_secret(kpath, &back), -EPERM);
    assert_null(back);
    assert_int_equal(chmod(kpath, 0600), 0);

    /* A public key that does not belong to the secret is refused. */
    path_of(bad, sizeof(bad), "mismatch.key");
    snprintf(text, sizeof(text), "public_key = %s\nsecret_key = %s\n",
             b->public_z85, a->secret_z85);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(bad, 0600), 0);
    assert_int_equal(curve_keys_load_secret(bad, &back), -EINVAL);
    assert_null(back);

    /* A truncated key is refused. */
    path_of(bad, sizeof(bad), "short.pub");
    f = fopen(bad, "w");
    assert_non_null(f);
    fprintf(f, "public_key = %.39s\n", a->public_z85);
    fclose(f);
    assert_int_equal(curve_keys_load_public(bad, pub), -EINVAL);

    /* A quoted key (zcert style) is accepted. */
    path_of(bad, sizeof(bad), "quoted.pub");
    f = fopen(bad, "w");
    assert_non_null(f);
    fprintf(f, "# comment\n  public_key = \"%s\"\n", a->public_z85);
    fclose(f);
    assert_int_equal(curve_keys_load_public(bad, pub), 0);
    assert_string_equal(pub, a->public_z85);

    path_of(bad, sizeof(bad), "missing.key");
    assert_int_equal(curve_keys_load_secret(bad, &back), -ENOENT);
    curve_keypair_free(&a);
    curve_keypair_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_gives_matching_valid_keys),
        cmocka_unit_test(test_key_validation),
        cmocka_unit_test(test_write_load_round_trip_and_modes),
        cmocka_unit_test(test_refuses_overwrite_unless_forced),
        cmocka_unit_test(test_load_refuses_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
