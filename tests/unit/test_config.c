/* Tests for the option-table configuration: defaults, file, flags, help. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "test_main.h"

typedef struct {
    char pg_url[48];
    int64_t report_ms;
    double headroom;
    bool tls;
    char name[8];
} cfg_t;

static const config_option_t opts[] = {
    {"pg_url", 'p', CONFIG_STRING, "postgresql:///prism", 0, 0,
     offsetof(cfg_t, pg_url), sizeof(((cfg_t *)0)->pg_url),
     "PostgreSQL connection string."},
    {"report_ms", 'r', CONFIG_INT, "1000", 100, 60000,
     offsetof(cfg_t, report_ms), 0, "Load report interval in ms."},
    {"headroom", 0, CONFIG_DOUBLE, "0.25", 0, 1, offsetof(cfg_t, headroom), 0,
     "Fraction of capacity kept free."},
    {"tls", 't', CONFIG_BOOL, "false", 0, 0, offsetof(cfg_t, tls), 0,
     "Use TLS."},
    {"name", 0, CONFIG_STRING, NULL, 0, 0, offsetof(cfg_t, name),
     sizeof(((cfg_t *)0)->name), "Short node name."},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Asserts that the error text contains `want`, printing it if not. */
#define assert_err_has(err, want)                                              \
    do {                                                                       \
        if (!strstr((err), (want)))                                            \
            fail_msg("error \"%s\" does not mention \"%s\"", (err), (want));   \
    } while (0)

/* Writes `text` to a fresh file under /tmp; path receives its name. */
static void write_ini(char path[64], const char *text)
{
    strcpy(path, "/tmp/prism-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Runs config_parse on a NULL-terminated word list (argv[0] included). */
static int parse(cfg_t *cfg, config_args_t *args, char *err, size_t errlen,
                 char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(cfg, 0xAB, sizeof(*cfg));
    err[0] = '\0';
    return config_parse(opts, NOPTS, cfg, "prism-test [options] [FILE...]",
                        argc, argv, args, err, errlen);
}

static void test_defaults_applied(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), argv), 0);
    assert_string_equal(cfg.pg_url, "postgresql:///prism");
    assert_int_equal(cfg.report_ms, 1000);
    assert_true(cfg.headroom == 0.25);
    assert_false(cfg.tls);
    assert_string_equal(cfg.name, "");
    assert_false(args.help);
    assert_null(args.config_path);
    assert_int_equal(args.npositional, 0);
    config_args_free(&args);

    /* config_defaults alone does the same. */
    memset(&cfg, 0xAB, sizeof(cfg));
    assert_int_equal(config_defaults(opts, NOPTS, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.report_ms, 1000);
    assert_string_equal(cfg.name, "");
}

static void test_file_overrides_defaults(void **state)
{
    (void)state;
    char path[64];
    write_ini(path, "; Prism test configuration\n"
                    "[coordinator]\n"
                    "report_ms = 250\n"
                    "  tls = yes\n" /* indented: a key, not a continuation */
                    "# a comment\n"
                    "pg_url = postgresql://db.example/prism\n");
    cfg_t cfg;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test", "--config", path, NULL};
    int r = parse(&cfg, &args, err, sizeof(err), argv);
    unlink(path);
    if (r != 0)
        fail_msg("config_parse: %s", err);
    assert_string_equal(args.config_path, path);
    assert_int_equal(cfg.report_ms, 250);
    assert_true(cfg.tls);
    assert_string_equal(cfg.pg_url, "postgresql://db.example/prism");
    assert_true(cfg.headroom == 0.25); /* not in the file: default */
    config_args_free(&args);
}

static void test_flags_override_file(void **state)
{
    (void)state;
    char path[64];
    write_ini(path, "report_ms = 250\nheadroom = 0.5\ntls = on\n");
    cfg_t cfg;
    config_args_t args;
    char err[256];
    /* The flag comes before --config and still wins over the file. */
    char *argv[] = {"prism-test", "--report-ms", "500", "--config",
                    path,         "--no-tls",    NULL};
    int r = parse(&cfg, &args, err, sizeof(err), argv);
    unlink(path);
    if (r != 0)
        fail_msg("config_parse: %s", err);
    assert_int_equal(cfg.report_ms, 500);
    assert_false(cfg.tls);
    assert_true(cfg.headroom == 0.5); /* from the file */
    config_args_free(&args);
}

static void test_flag_forms(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];

    char *a1[] = {"prism-test", "--report-ms=300",  "--pg-url",
                  "pg://a",     "--headroom=0.125", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a1), 0);
    assert_int_equal(cfg.report_ms, 300);
    assert_string_equal(cfg.pg_url, "pg://a");
    assert_true(cfg.headroom == 0.125);
    config_args_free(&args);

    char *a2[] = {"prism-test", "-r", "400", "-ppg://b", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a2), 0);
    assert_int_equal(cfg.report_ms, 400);
    assert_string_equal(cfg.pg_url, "pg://b");
    config_args_free(&args);

    /* The snake_case key also works as a flag; the last setting wins. */
    char *a3[] = {"prism-test", "--report_ms", "700", "-r", "800", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a3), 0);
    assert_int_equal(cfg.report_ms, 800);
    config_args_free(&args);

    /* A negative number is taken as the value, not as a flag. */
    char *a4[] = {"prism-test", "--report-ms", "-5", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a4), -EINVAL);
    assert_err_has(err, "--report-ms");
    assert_err_has(err, "out of range");

    char *a5[] = {"prism-test", "--report-ms", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a5), -EINVAL);
    assert_err_has(err, "--report-ms");
    assert_err_has(err, "needs a value");
}

static void test_bool_flags(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];

    char *a1[] = {"prism-test", "--tls", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a1), 0);
    assert_true(cfg.tls);
    config_args_free(&args);

    char *a2[] = {"prism-test", "-t", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a2), 0);
    assert_true(cfg.tls);
    config_args_free(&args);

    char *a3[] = {"prism-test", "--tls", "--no-tls", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a3), 0);
    assert_false(cfg.tls);
    config_args_free(&args);

    char *a4[] = {"prism-test", "--tls=yes", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a4), 0);
    assert_true(cfg.tls);
    config_args_free(&args);

    /* A switch alone does not swallow the next word. */
    char *a5[] = {"prism-test", "--tls", "input.flv", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a5), 0);
    assert_true(cfg.tls);
    assert_int_equal(args.npositional, 1);
    assert_string_equal(args.positional[0], "input.flv");
    config_args_free(&args);

    char *a6[] = {"prism-test", "--tls=maybe", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a6), -EINVAL);
    assert_err_has(err, "--tls");
    assert_err_has(err, "maybe");

    char *a7[] = {"prism-test", "--no-report-ms", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a7), -EINVAL);
    assert_err_has(err, "--no-report-ms");

    char *a8[] = {"prism-test", "--no-tls=1", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a8), -EINVAL);
    assert_err_has(err, "--no-tls");
}

static void test_file_unknown_key(void **state)
{
    (void)state;
    char path[64];
    write_ini(path, "report_ms = 200\n\nbogus_key = 1\n");
    cfg_t cfg;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test", "--config", path, NULL};
    int r = parse(&cfg, &args, err, sizeof(err), argv);
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, "bogus_key");
    assert_err_has(err, path);
    assert_err_has(err, ":3:");
}

static void test_file_syntax_error(void **state)
{
    (void)state;
    char path[64];
    write_ini(path, "[coordinator]\nreport_ms 200\n");
    cfg_t cfg;
    char err[256];
    memset(&cfg, 0, sizeof(cfg));
    int r = config_load_file(opts, NOPTS, &cfg, path, err, sizeof(err));
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, ":2:");
}

static void test_unknown_flag(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];

    char *a1[] = {"prism-test", "--bogus-flag=3", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a1), -EINVAL);
    assert_err_has(err, "--bogus-flag");
    assert_null(strstr(err, "=3")); /* names the flag, not the value */

    char *a2[] = {"prism-test", "-z", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a2), -EINVAL);
    assert_err_has(err, "-z");

    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "nope", "1", err, sizeof(err)), -EINVAL);
    assert_err_has(err, "nope");
}

static void test_out_of_range(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];

    char *a1[] = {"prism-test", "--report-ms", "99", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a1), -EINVAL);
    assert_err_has(err, "--report-ms");
    assert_err_has(err, "99");

    char *a2[] = {"prism-test", "--headroom=1.5", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a2), -EINVAL);
    assert_err_has(err, "--headroom");

    /* Bounds are inclusive. */
    char *a3[] = {"prism-test", "-r", "100", "--headroom", "1", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a3), 0);
    assert_int_equal(cfg.report_ms, 100);
    config_args_free(&args);
    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "report_ms", "60000", err, sizeof(err)),
        0);
    assert_int_equal(cfg.report_ms, 60000);

    /* A failed set leaves the field as it was. */
    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "report_ms", "60001", err, sizeof(err)),
        -EINVAL);
    assert_err_has(err, "report_ms");
    assert_int_equal(cfg.report_ms, 60000);
    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "headroom", "-0.01", err, sizeof(err)),
        -EINVAL);
    assert_err_has(err, "headroom");

    char path[64];
    write_ini(path, "[worker]\nreport_ms = 70000\n");
    char *a4[] = {"prism-test", "--config", path, NULL};
    int r = parse(&cfg, &args, err, sizeof(err), a4);
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, "report_ms");
    assert_err_has(err, ":2:");
}

static void test_non_numeric(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[256];
    assert_int_equal(config_defaults(opts, NOPTS, &cfg, err, sizeof(err)), 0);

    static const char *const bad_ints[] = {"abc",
                                           "12abc",
                                           "",
                                           " 500",
                                           "500 ",
                                           "1.5",
                                           "0x200",
                                           "99999999999999999999",
                                           "-99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        err[0] = '\0';
        int r = config_set(opts, NOPTS, &cfg, "report_ms", bad_ints[i], err,
                           sizeof(err));
        if (r != -EINVAL)
            fail_msg("report_ms '%s' accepted", bad_ints[i]);
        assert_err_has(err, "report_ms");
        assert_int_equal(cfg.report_ms, 1000);
    }

    static const char *const bad_doubles[] = {"x",   "0.5x", "",
                                              "nan", "inf",  "1e999"};
    for (size_t i = 0; i < sizeof(bad_doubles) / sizeof(bad_doubles[0]); i++) {
        err[0] = '\0';
        int r = config_set(opts, NOPTS, &cfg, "headroom", bad_doubles[i], err,
                           sizeof(err));
        if (r != -EINVAL)
            fail_msg("headroom '%s' accepted", bad_doubles[i]);
        assert_err_has(err, "headroom");
        assert_true(cfg.headroom == 0.25);
    }

    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "tls", "maybe", err, sizeof(err)),
        -EINVAL);
    assert_err_has(err, "tls");
    static const char *const trues[] = {"true", "YES", "on", "1"};
    static const char *const falses[] = {"false", "no", "OFF", "0"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            config_set(opts, NOPTS, &cfg, "tls", trues[i], err, sizeof(err)),
            0);
        assert_true(cfg.tls);
        assert_int_equal(
            config_set(opts, NOPTS, &cfg, "tls", falses[i], err, sizeof(err)),
            0);
        assert_false(cfg.tls);
    }

    /* A file value that does not parse names key, file and line. */
    char path[64];
    write_ini(path, "headroom = lots\n");
    int r = config_load_file(opts, NOPTS, &cfg, path, err, sizeof(err));
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, "headroom");
    assert_err_has(err, ":1:");
    assert_err_has(err, "lots");
}

static void test_string_too_long(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[256];
    assert_int_equal(config_defaults(opts, NOPTS, &cfg, err, sizeof(err)), 0);

    /* name has 8 bytes: 7 characters and the terminator fit. */
    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "name", "abcdefg", err, sizeof(err)), 0);
    assert_string_equal(cfg.name, "abcdefg");
    assert_int_equal(
        config_set(opts, NOPTS, &cfg, "name", "abcdefgh", err, sizeof(err)),
        -EINVAL);
    assert_err_has(err, "name");
    assert_string_equal(cfg.name, "abcdefg"); /* not truncated into place */

    config_args_t args;
    char *a1[] = {"prism-test", "--name", "far-too-long", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a1), -EINVAL);
    assert_err_has(err, "--name");

    char path[64];
    write_ini(path, "name = node\npg_url = "
                    "postgresql://a-very-long-host-name.example.com/prism\n");
    int r = config_load_file(opts, NOPTS, &cfg, path, err, sizeof(err));
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, "pg_url");
    assert_err_has(err, ":2:");

    /* A line longer than the INI reader's line buffer is refused too. */
    char text[600];
    memset(text, 'x', sizeof(text));
    memcpy(text, "pg_url = ", 9);
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    write_ini(path, text);
    r = config_load_file(opts, NOPTS, &cfg, path, err, sizeof(err));
    unlink(path);
    assert_int_equal(r, -EINVAL);
    assert_err_has(err, ":1:");
    assert_string_equal(cfg.pg_url, "postgresql:///prism");
}

static void test_missing_file(void **state)
{
    (void)state;
    const char *missing = "/tmp/prism-test-config-does-not-exist.ini";
    unlink(missing);
    cfg_t cfg;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test",
                    "--config=/tmp/prism-test-config-does-not-"
                    "exist.ini",
                    NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), argv), -ENOENT);
    assert_err_has(err, missing);
    assert_int_equal(
        config_load_file(opts, NOPTS, &cfg, missing, err, sizeof(err)),
        -ENOENT);

    char *a2[] = {"prism-test", "--config", NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), a2), -EINVAL);
    assert_err_has(err, "--config");
}

/* Reads a whole small file into a malloc'd string. */
static char *slurp(FILE *f)
{
    fflush(f);
    long len = ftell(f);
    assert_true(len > 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    return text;
}

static void test_help_mentions_every_option(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    config_print_help(opts, NOPTS, "prism-test [options]", f);
    char *text = slurp(f);
    fclose(f);

    static const char *const want[] = {
        "Usage: prism-test [options]",
        "--help",
        "--config FILE",
        "-p, --pg-url",
        "PostgreSQL connection string.",
        "\"postgresql:///prism\"",
        "-r, --report-ms INT",
        "Load report interval in ms.",
        "1000",
        "100..60000",
        "--headroom NUM",
        "0.25",
        "0..1",
        "-t, --[no-]tls",
        "Use TLS.",
        "--name TEXT",
        "Short node name.",
        "at most 7 bytes",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("help lacks \"%s\":\n%s", want[i], text);
    free(text);
}

static void test_help_flag(void **state)
{
    (void)state;
    /* --help prints to stdout: capture it in a temporary file. */
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), STDOUT_FILENO) >= 0);

    cfg_t cfg;
    config_args_t args;
    char err[256];
    /* Help wins over a bad value that follows it. */
    char *argv[] = {"prism-test", "-r", "200", "-h", "--report-ms=1", NULL};
    int r = parse(&cfg, &args, err, sizeof(err), argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);

    assert_int_equal(r, 0);
    assert_true(args.help);
    config_args_free(&args);
    fseek(f, 0, SEEK_END);
    char *text = slurp(f);
    fclose(f);
    assert_non_null(strstr(text, "--report-ms"));
    assert_non_null(strstr(text, "--pg-url"));
    free(text);
}

static void test_positional_collected(void **state)
{
    (void)state;
    cfg_t cfg;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test", "first",       "--tls", "-", "second",
                    "--",         "--report-ms", "-x",    NULL};
    assert_int_equal(parse(&cfg, &args, err, sizeof(err), argv), 0);
    assert_true(cfg.tls);
    assert_int_equal(cfg.report_ms, 1000); /* after "--": not an option */
    assert_int_equal(args.npositional, 5);
    assert_string_equal(args.positional[0], "first");
    assert_string_equal(args.positional[1], "-");
    assert_string_equal(args.positional[2], "second");
    assert_string_equal(args.positional[3], "--report-ms");
    assert_string_equal(args.positional[4], "-x");
    assert_ptr_equal(args.positional[0], argv[1]); /* points into argv */
    config_args_free(&args);
    assert_null(args.positional);
    assert_int_equal(args.npositional, 0);
}

static void test_bad_table_refused(void **state)
{
    (void)state;
    typedef struct {
        int64_t a, b;
    } two_t;
    const config_option_t dup[] = {
        {"a", 0, CONFIG_INT, "1", 0, 0, offsetof(two_t, a), 0, "A."},
        {"a", 0, CONFIG_INT, "2", 0, 0, offsetof(two_t, b), 0, "B."},
    };
    const config_option_t bad_default[] = {
        {"a", 0, CONFIG_INT, "7", 0, 5, offsetof(two_t, a), 0, "A."},
    };
    two_t t;
    config_args_t args;
    char err[256];
    char *argv[] = {"prism-test", NULL};
    assert_int_equal(
        config_parse(dup, 2, &t, NULL, 1, argv, &args, err, sizeof(err)),
        -EINVAL);
    assert_int_equal(config_parse(bad_default, 1, &t, NULL, 1, argv, &args, err,
                                  sizeof(err)),
                     -EINVAL);
    assert_err_has(err, "a");
    assert_err_has(err, "out of range");
}

TEST_MAIN(cmocka_unit_test(test_defaults_applied),
          cmocka_unit_test(test_file_overrides_defaults),
          cmocka_unit_test(test_flags_override_file),
          cmocka_unit_test(test_flag_forms), cmocka_unit_test(test_bool_flags),
          cmocka_unit_test(test_file_unknown_key),
          cmocka_unit_test(test_file_syntax_error),
          cmocka_unit_test(test_unknown_flag),
          cmocka_unit_test(test_out_of_range),
          cmocka_unit_test(test_non_numeric),
          cmocka_unit_test(test_string_too_long),
          cmocka_unit_test(test_missing_file),
          cmocka_unit_test(test_help_mentions_every_option),
          cmocka_unit_test(test_help_flag),
          cmocka_unit_test(test_positional_collected),
          cmocka_unit_test(test_bad_table_refused))
