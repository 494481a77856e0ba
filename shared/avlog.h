/* libav's log (av_log) through log.h: one line each, levels mapped, rate
 * limited. */
#ifndef PRISM_AVLOG_H
#define PRISM_AVLOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Routes every av_log message of the process into log.h under module "lav",
 * with the libav component that logged it as comp= (mpegts, h264, ...).
 * FFmpeg's panic, fatal and error messages become warnings, its warnings
 * info, the rest debug; libav's own level (av_log_set_level) still filters
 * first. At most `burst` lines are written per `window_ms`; the others are
 * counted, and the first line of a later window reports how many were
 * dropped (dropped=N), so hostile input cannot flood the log. Call once at
 * start and again to change the limits; thread-safe, process-wide.
 */
void avlog_route(int burst, int window_ms);

/*
 * Keeps the lines libav logs on the calling thread at warning level or
 * worse, whatever av_log's level (which still decides what reaches the
 * log), in buf (len bytes, "\n"-separated, truncated), until
 * avlog_capture_end(): a failing call's own words (NVENC's
 * "OpenEncodeSessionEx failed: out of memory (10)") for the one error line
 * of the caller instead of being dropped at the default quiet level.
 * Installs the bridge's callback (with the default limits when
 * avlog_route was not called): the process's libav log goes through
 * log.h from then on. Calls do not nest.
 */
void avlog_capture_begin(char *buf, size_t len);
void avlog_capture_end(void);

/* The last line of a capture ("" when none), pointing into it. */
const char *avlog_capture_last(const char *buf);

/* Messages dropped by the rate limit since the process started. */
uint64_t avlog_dropped(void);

#endif
