/* Tests for the logging module: levels, line format, one line per call. */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Each test logs into a fresh temporary file and reads it back. */
typedef struct {
    int fd;
    char path[64];
} sink_t;

static int sink_setup(void **state)
{
    sink_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    strcpy(s->path, "/tmp/prism-test-log-XXXXXX");
    s->fd = mkstemp(s->path);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    log_set_fd(s->fd);
    log_set_level(LOG_LEVEL_INFO);
    *state = s;
    return 0;
}

static int sink_teardown(void **state)
{
    sink_t *s = *state;
    log_set_fd(2);
    log_set_level(LOG_LEVEL_INFO);
    close(s->fd);
    unlink(s->path);
    free(s);
    return 0;
}

/* Returns everything logged so far (malloc'd, NUL-terminated). */
static char *logged(const sink_t *s)
{
    off_t len = lseek(s->fd, 0, SEEK_END);
    assert_true(len >= 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(pread(s->fd, text, (size_t)len, 0), (ssize_t)len);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

static void test_level_filtering(void **state)
{
    sink_t *s = *state;
    log_set_level(LOG_LEVEL_INFO);
    assert_int_equal(log_get_level(), LOG_LEVEL_INFO);
    log_debug("t", "Hidden debug.", "n=%d", 1);
    log_info("t", "Shown info.", "n=%d", 2);
    log_warn("t", "Shown warn.", "n=%d", 3);

    log_set_level(LOG_LEVEL_ERROR);
    log_warn("t", "Hidden warn.", "n=%d", 4);
    log_error("t", "Shown error.", "n=%d", 5);

    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("t", "Shown debug.", "n=%d", 6);

    char *text = logged(s);
    assert_int_equal(count_lines(text), 4);
    assert_null(strstr(text, "Hidden"));
    assert_non_null(strstr(text, "level=info mod=t msg=\"Shown info.\" n=2"));
    assert_non_null(strstr(text, "level=warn mod=t msg=\"Shown warn.\" n=3"));
    assert_non_null(strstr(text, "level=error mod=t msg=\"Shown error.\" n=5"));
    assert_non_null(strstr(text, "level=debug mod=t msg=\"Shown debug.\" n=6"));
    free(text);
}

static void test_level_names(void **state)
{
    (void)state;
    const log_level_t levels[] = {LOG_LEVEL_DEBUG, LOG_LEVEL_INFO,
                                  LOG_LEVEL_WARN, LOG_LEVEL_ERROR};
    const char *const names[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(log_level_name(levels[i]), names[i]);
        log_level_t got = (log_level_t)-1;
        assert_int_equal(log_level_parse(log_level_name(levels[i]), &got), 0);
        assert_int_equal(got, levels[i]);
    }
    static const char *const bad[] = {"", "verbose", "warning", "inf", "info "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        log_level_t got = LOG_LEVEL_WARN;
        if (log_level_parse(bad[i], &got) != -EINVAL)
            fail_msg("level name '%s' accepted", bad[i]);
        assert_int_equal(got, LOG_LEVEL_WARN); /* untouched */
    }
    assert_string_equal(log_level_name((log_level_t)42), "unknown");
}

static void test_line_format(void **state)
{
    sink_t *s = *state;
    /* The clock the log reads: time() is the kernel's coarse clock, which
     * can still say the last second when CLOCK_REALTIME has moved on. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t before = ts.tv_sec;
    log_info("zap", "Peer said \"hi\" via C:\\path.", "peer=%s n=%d",
             "10.0.0.7:5555", 42);
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    char *text = logged(s);

    regex_t re;
    const char *pattern =
        "^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
        "\\.[0-9]{3}Z level=info mod=zap "
        "msg=\"Peer said \\\\\"hi\\\\\" via C:\\\\\\\\path\\.\" "
        "peer=10\\.0\\.0\\.7:5555 n=42\n$";
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
    regmatch_t m[7];
    if (regexec(&re, text, 7, m, 0) != 0)
        fail_msg("line does not match the format: %s", text);
    regfree(&re);

    /* The timestamp is the current UTC time. */
    int f[6];
    for (int i = 0; i < 6; i++)
        f[i] = atoi(text + m[i + 1].rm_so);
    struct tm tm = {.tm_year = f[0] - 1900,
                    .tm_mon = f[1] - 1,
                    .tm_mday = f[2],
                    .tm_hour = f[3],
                    .tm_min = f[4],
                    .tm_sec = f[5]};
    time_t stamp = timegm(&tm);
    assert_true(stamp >= before && stamp <= after);
    free(text);
}

static void test_no_fields(void **state)
{
    sink_t *s = *state;
    log_warn("ingest", "Stream ended.", NULL);
    log_warn(NULL, "No module.", NULL);
    char *text = logged(s);
    const char *l1 =
        strstr(text, "level=warn mod=ingest msg=\"Stream ended.\"\n");
    const char *l2 = strstr(text, "level=warn mod=- msg=\"No module.\"\n");
    if (!l1 || !l2)
        fail_msg("unexpected lines: %s", text);
    free(text);
}

static void test_one_line_per_call(void **state)
{
    sink_t *s = *state;
    log_info("t", "First.", "i=%d", 1);
    log_info("t", "Second\nwith a newline\r\tand controls.", "i=%d", 2);
    char big[8192];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_info("t", big, "i=%d", 3);
    log_info("t", "Big fields.", "v=%s", big);
    char *text = logged(s);
    assert_int_equal(count_lines(text), 4);
    assert_non_null(
        strstr(text, "msg=\"Second with a newline  and controls.\" i=2\n"));
    /* Each line ends in a newline and none exceeds the line limit. */
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(nl - p < 4096);
        assert_true(strncmp(p + 24, " level=info", 11) == 0);
        p = nl + 1;
    }
    assert_int_equal(*p, '\0');
    free(text);
}

#define THREADS          4
#define LINES_PER_THREAD 200

static void *log_many(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_info("thr", "Concurrent line.", "thread=%d i=%d pad=%s", id, i,
                 "abcdefghijklmnopqrstuvwxyz0123456789");
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    sink_t *s = *state;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(
            pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);

    char *text = logged(s);
    assert_int_equal(count_lines(text), THREADS * LINES_PER_THREAD);
    int seen[THREADS] = {0};
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int id = -1, i = -1;
        const char *f = strstr(line, "msg=\"Concurrent line.\" thread=");
        if (!f ||
            sscanf(f, "msg=\"Concurrent line.\" thread=%d i=%d", &id, &i) != 2)
            fail_msg("mangled line: %s", line);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(i, seen[id]); /* in order within a thread */
        seen[id]++;
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(seen[t], LINES_PER_THREAD);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_level_filtering, sink_setup,
                                        sink_teardown),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test_setup_teardown(test_line_format, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_no_fields, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_one_line_per_call, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_threads_do_not_interleave,
                                        sink_setup, sink_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
