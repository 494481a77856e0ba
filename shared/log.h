/* Logging: levels, key=value fields, one line per event on stderr. */
#ifndef PRISM_LOG_H
#define PRISM_LOG_H

#include <stdarg.h>
#include <stdio.h>

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
} log_level_t;

/*
 * A line looks like
 *   2026-11-27T20:12:15.123Z level=error mod=zap msg="..." key=value ...
 * The caller writes the fields after msg as a printf format, e.g.
 *   log_error("zap", "peer=%s err=\"%s\"", peer, zmq_strerror(errno));
 * Values with spaces are quoted by the caller. Safe from any thread: a line
 * is formatted whole and written with one write(2).
 */

/* Sets the lowest level written; lines below it cost one comparison. */
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* Parses "debug", "info", "warn" or "error"; returns 0 or -EINVAL. */
int log_level_parse(const char *name, log_level_t *out);
const char *log_level_name(log_level_t level);

/*
 * Redirects output to fd (default 2, stderr). Tests use a pipe or a file to
 * read back what was logged. The fd is borrowed.
 */
void log_set_fd(int fd);

/* Writes one line: msg is a plain sentence, fmt (may be NULL) the fields. */
void log_write(log_level_t level, const char *mod, const char *msg,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_vwrite(log_level_t level, const char *mod, const char *msg,
                const char *fmt, va_list ap);

#define log_debug(mod, msg, ...)                                               \
    log_write(LOG_LEVEL_DEBUG, mod, msg, __VA_ARGS__)
#define log_info(mod, msg, ...) log_write(LOG_LEVEL_INFO, mod, msg, __VA_ARGS__)
#define log_warn(mod, msg, ...) log_write(LOG_LEVEL_WARN, mod, msg, __VA_ARGS__)
#define log_error(mod, msg, ...)                                               \
    log_write(LOG_LEVEL_ERROR, mod, msg, __VA_ARGS__)

#endif
