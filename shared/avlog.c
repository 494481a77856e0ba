/* libav's log (av_log) through log.h, levels mapped and rate limited. */
#include "avlog.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "clock.h"
#include "log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int burst_max = 20, window_len_ms = 10000;
static int64_t window_start;
static int in_window;
static uint64_t dropped_pending; /* in windows not yet reported */
static atomic_ullong dropped_total;
static _Thread_local char *cap_buf; /* this thread's capture, or NULL */
static _Thread_local size_t cap_len, cap_used;

static log_level_t map_level(int av_level)
{
    if (av_level <= AV_LOG_ERROR)
        return LOG_LEVEL_WARN;
    if (av_level <= AV_LOG_WARNING)
        return LOG_LEVEL_INFO;
    return LOG_LEVEL_DEBUG;
}

/* The name of the libav object that logs (a demuxer's, a codec's). */
static const char *component(void *avcl)
{
    if (!avcl)
        return "-";
    const AVClass *cls = *(const AVClass **)avcl;
    if (!cls)
        return "-";
    const char *name = cls->item_name ? cls->item_name(avcl) : NULL;
    return name && *name ? name : cls->class_name;
}

/* One libav message as a line without libav's prefix or its line end;
 * returns its length. */
static size_t format_line(void *avcl, int level, const char *fmt, va_list vl,
                          char *line, size_t len)
{
    int prefix = 0;
    av_log_format_line2(avcl, level, fmt, vl, line, (int)len, &prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    return n;
}

/* Appends one line to this thread's capture. */
static void capture(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[512];
    if (!format_line(avcl, level, fmt, vl, line, sizeof(line)) ||
        cap_used + 1 >= cap_len)
        return;
    int w = snprintf(cap_buf + cap_used, cap_len - cap_used, "%s%s",
                     cap_used ? "\n" : "", line);
    if (w > 0)
        cap_used +=
            (size_t)w < cap_len - cap_used ? (size_t)w : cap_len - cap_used - 1;
}

static void callback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (cap_buf && level <= AV_LOG_WARNING) {
        va_list copy;
        va_copy(copy, vl);
        capture(avcl, level, fmt, copy);
        va_end(copy);
    }
    if (level > av_log_get_level())
        return;
    log_level_t lvl = map_level(level);
    if ((int)lvl < (int)log_get_level())
        return;
    int64_t now = clock_mono_ms();
    uint64_t report = 0;
    pthread_mutex_lock(&mu);
    if (now - window_start >= window_len_ms) {
        window_start = now;
        in_window = 0;
    }
    bool emit = in_window < burst_max;
    if (emit) {
        in_window++;
        report = dropped_pending;
        dropped_pending = 0;
    } else {
        dropped_pending++;
        atomic_fetch_add(&dropped_total, 1);
    }
    pthread_mutex_unlock(&mu);
    if (!emit)
        return;
    char line[512];
    if (!format_line(avcl, level, fmt, vl, line, sizeof(line)))
        return;
    if (report)
        log_write(lvl, "lav", line, "comp=%s dropped=%llu", component(avcl),
                  (unsigned long long)report);
    else
        log_write(lvl, "lav", line, "comp=%s", component(avcl));
}

void avlog_route(int burst, int window_ms)
{
    pthread_mutex_lock(&mu);
    burst_max = burst > 0 ? burst : 1;
    window_len_ms = window_ms > 0 ? window_ms : 1;
    pthread_mutex_unlock(&mu);
    av_log_set_callback(callback);
}

void avlog_capture_begin(char *buf, size_t len)
{
    av_log_set_callback(callback); /* a plain store; the bridge's own */
    if (len)
        buf[0] = '\0';
    cap_buf = len ? buf : NULL;
    cap_len = len;
    cap_used = 0;
}

void avlog_capture_end(void)
{
    cap_buf = NULL;
    cap_len = cap_used = 0;
}

const char *avlog_capture_last(const char *buf)
{
    const char *nl = strrchr(buf, '\n');
    return nl ? nl + 1 : buf;
}

uint64_t avlog_dropped(void)
{
    return atomic_load(&dropped_total);
}
