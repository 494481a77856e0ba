/* Tests for the av_log bridge: libav's lines in log.h's format, levels
 * mapped, rate limited with the drops reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "avlog.h"
#include "log.h"
#include "test_main.h"

static char path[64];
static int fd = -1;

static int sink_open(void)
{
    strcpy(path, "/tmp/prism-test-avlog-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    log_set_fd(fd);
    return fd;
}

/* The log written so far, in a static buffer. */
static const char *sink_read(void)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void sink_close(void)
{
    log_set_fd(2);
    close(fd);
    unlink(path);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* An error from a demuxer becomes one warning line naming it; a warning
 * becomes info; the level filters of both libav and log.h apply. */
static void test_levels_and_component(void **state)
{
    (void)state;
    sink_open();
    log_set_level(LOG_LEVEL_INFO);
    av_log_set_level(AV_LOG_INFO);
    avlog_route(100, 10000);
    AVFormatContext *fmt = avformat_alloc_context();
    assert_non_null(fmt);
    fmt->iformat = av_find_input_format("mpegts");
    av_log(fmt, AV_LOG_ERROR, "Packet corrupt (stream = %d).\n", 3);
    av_log(NULL, AV_LOG_WARNING, "A \"quoted\" warning.\n");
    av_log(NULL, AV_LOG_INFO, "Only for debugging.\n");
    av_log(NULL, AV_LOG_DEBUG, "Below libav's level.\n");
    avformat_free_context(fmt);
    const char *out = sink_read();
    assert_non_null(strstr(out, "level=warn mod=lav msg=\"Packet corrupt "
                                "(stream = 3).\" comp=mpegts\n"));
    assert_non_null(
        strstr(out, "level=info mod=lav msg=\"A \\\"quoted\\\" warning.\""));
    assert_null(strstr(out, "Only for debugging"));
    assert_null(strstr(out, "Below libav"));
    assert_null(strstr(out, "[mpegts @")); /* no libav prefix */
    sink_close();
}

/* A flood is cut to `burst` lines per window; the next window's first line
 * reports the drops. */
static void test_rate_limit(void **state)
{
    (void)state;
    sink_open();
    log_set_level(LOG_LEVEL_INFO);
    av_log_set_level(AV_LOG_INFO);
    avlog_route(5, 300);
    usleep(350 * 1000); /* a fresh window */
    uint64_t before = avlog_dropped();
    for (int i = 0; i < 50; i++)
        av_log(NULL, AV_LOG_ERROR, "Flood %d.\n", i);
    assert_int_equal(count(sink_read(), "msg=\"Flood "), 5);
    assert_int_equal(avlog_dropped() - before, 45);
    usleep(350 * 1000);
    av_log(NULL, AV_LOG_ERROR, "After the flood.\n");
    assert_non_null(strstr(sink_read(), "msg=\"After the flood.\" comp=- "
                                        "dropped=45\n"));
    av_log_set_callback(av_log_default_callback);
    sink_close();
}

/* A capture keeps this thread's warnings and errors even where libav's
 * level lets nothing through to the log, and only while it runs. */
static void test_capture(void **state)
{
    (void)state;
    char buf[64];
    av_log_set_level(AV_LOG_QUIET);
    avlog_capture_begin(buf, sizeof(buf));
    av_log(NULL, AV_LOG_INFO, "Not a problem.\n");
    av_log(NULL, AV_LOG_ERROR, "OpenEncodeSessionEx failed: %s (%d)\n",
           "out of memory", 10);
    av_log(NULL, AV_LOG_WARNING, "Last words.\n");
    avlog_capture_end();
    av_log(NULL, AV_LOG_ERROR, "After the end.\n");
    assert_string_equal(
        buf, "OpenEncodeSessionEx failed: out of memory (10)\nLast words.");
    assert_string_equal(avlog_capture_last(buf), "Last words.");
    /* Truncated to the buffer, never past it. */
    char small[8];
    avlog_capture_begin(small, sizeof(small));
    av_log(NULL, AV_LOG_ERROR, "A long line that does not fit.\n");
    av_log(NULL, AV_LOG_ERROR, "More.\n");
    avlog_capture_end();
    assert_string_equal(small, "A long ");
}

TEST_MAIN(cmocka_unit_test(test_levels_and_component),
          cmocka_unit_test(test_rate_limit), cmocka_unit_test(test_capture))
