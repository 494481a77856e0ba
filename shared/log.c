/* Logging: levels, key=value fields, one line per event on stderr. */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static atomic_int current_level = LOG_LEVEL_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t level)
{
    atomic_store(&current_level, (int)level);
}

log_level_t log_get_level(void)
{
    return (log_level_t)atomic_load(&current_level);
}

int log_level_parse(const char *name, log_level_t *out)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *log_level_name(log_level_t level)
{
    if ((int)level < 0 || level > LOG_LEVEL_ERROR)
        return "unknown";
    return level_names[level];
}

void log_set_fd(int fd)
{
    atomic_store(&out_fd, fd);
}

/*
 * Appends s in quotes: quotes and backslashes are escaped, control
 * characters become spaces so a message can never split a line.
 */
static size_t put_quoted(char *buf, size_t pos, size_t cap, const char *s)
{
    if (pos < cap)
        buf[pos++] = '"';
    for (; *s && pos + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20) {
            buf[pos++] = ' ';
        } else {
            buf[pos++] = (char)c;
        }
    }
    if (pos < cap)
        buf[pos++] = '"';
    return pos;
}

void log_vwrite(log_level_t level, const char *mod, const char *msg,
                const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&current_level))
        return;

    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    size_t cap = sizeof(line) - 1; /* room for the newline */
    size_t pos = strftime(line, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line + pos, cap - pos,
                     ".%03ldZ level=%s mod=%s msg=", ts.tv_nsec / 1000000,
                     log_level_name(level), mod ? mod : "-");
    if (n > 0)
        pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    pos = put_quoted(line, pos, cap, msg ? msg : "");
    if (fmt && *fmt && pos + 1 < cap) {
        line[pos++] = ' ';
        n = vsnprintf(line + pos, cap - pos, fmt, ap);
        if (n > 0)
            pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    }
    line[pos++] = '\n';

    int fd = atomic_load(&out_fd);
    const char *p = line;
    while (pos > 0) {
        ssize_t w = write(fd, p, pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        pos -= (size_t)w;
    }
}

void log_write(log_level_t level, const char *mod, const char *msg,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, mod, msg, fmt, ap);
    va_end(ap);
}
