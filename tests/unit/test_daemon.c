/* Tests for the start-up helpers: log level from its name, stop signals. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "log.h"
#include "test_main.h"

/* Runs daemon_log_level with stderr in a temporary file; returns its text. */
static int level_with_stderr(const char *name, char *text, size_t len)
{
    char path[] = "/tmp/prism-test-daemon-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    int ret = daemon_log_level("prism-test", name);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    ssize_t n = pread(fd, text, len - 1, 0);
    assert_true(n >= 0);
    text[n] = '\0';
    close(fd);
    return ret;
}

static void test_level_names(void **state)
{
    (void)state;
    char text[256];
    assert_int_equal(level_with_stderr("debug", text, sizeof(text)), 0);
    assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
    assert_int_equal(level_with_stderr("warn", text, sizeof(text)), 0);
    assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
    assert_int_equal(level_with_stderr("ERROR", text, sizeof(text)), 0);
    assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
    assert_int_equal(level_with_stderr("info", text, sizeof(text)), 0);
    assert_int_equal(log_get_level(), LOG_LEVEL_INFO);
    assert_string_equal(text, "");
}

/* An unknown name is refused with a line that names it and the choices. */
static void test_level_unknown(void **state)
{
    (void)state;
    char text[256];
    log_set_level(LOG_LEVEL_WARN);
    assert_int_equal(level_with_stderr("verbose", text, sizeof(text)), -EINVAL);
    assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
    assert_string_equal(text, "prism-test: unknown log_level 'verbose' "
                              "(debug, info, warn or error)\n");
    assert_int_equal(level_with_stderr(NULL, text, sizeof(text)), -EINVAL);
    assert_int_equal(level_with_stderr("", text, sizeof(text)), -EINVAL);
    assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
    log_set_level(LOG_LEVEL_INFO);
}

static volatile sig_atomic_t stops, reloads, last_sig;

static void on_stop(int sig)
{
    stops++;
    last_sig = sig;
}

static void on_reload(int sig)
{
    reloads++;
    last_sig = sig;
}

static void restore_defaults(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
}

/* SIGINT and SIGTERM stop, SIGHUP reloads, SIGPIPE is ignored. */
static void test_signals_delivered(void **state)
{
    (void)state;
    stops = reloads = 0;
    daemon_signals(on_stop, on_reload);
    raise(SIGTERM);
    assert_int_equal(stops, 1);
    assert_int_equal(last_sig, SIGTERM);
    raise(SIGINT);
    assert_int_equal(stops, 2);
    assert_int_equal(last_sig, SIGINT);
    raise(SIGHUP);
    assert_int_equal(reloads, 1);
    assert_int_equal(stops, 2);
    raise(SIGPIPE); /* the default action would end the test here */
    assert_int_equal(stops + reloads, 3);

    /* No SA_RESTART: a blocking call is interrupted, the loop sees it. */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, on_stop);
    assert_false(sa.sa_flags & SA_RESTART);
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_IGN);
    restore_defaults();
}

/* Without a reload handler SIGHUP keeps its disposition. */
static void test_signals_no_reload(void **state)
{
    (void)state;
    restore_defaults();
    daemon_signals(on_stop, NULL);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGHUP, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
    assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, on_stop);
    restore_defaults();
}

TEST_MAIN(cmocka_unit_test(test_level_names),
          cmocka_unit_test(test_level_unknown),
          cmocka_unit_test(test_signals_delivered),
          cmocka_unit_test(test_signals_no_reload))
