/* libav's log (av_log) through log.h: one line each, levels mapped, rate
 * limited. */
#ifndef PRISM_AVLOG_H
#define PRISM_AVLOG_H

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

/* Messages dropped by the rate limit since the process started. */
uint64_t avlog_dropped(void);

#endif
