/* libav's log (av_log) through log.h, levels mapped and rate limited. */
#include "avlog.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

static void callback(void *avcl, int level, const char *fmt, va_list vl)
{
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
    int prefix = 0;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (n == 0)
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

uint64_t avlog_dropped(void)
{
    return atomic_load(&dropped_total);
}
