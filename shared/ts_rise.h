/* Keeps a track's decode timestamps rising, as every muxer requires. */
#ifndef PRISM_TS_RISE_H
#define PRISM_TS_RISE_H

#include <stdbool.h>
#include <stdint.h>

/* TS_RISE_NO_PTS (INT64_MIN, FFmpeg's AV_NOPTS_VALUE): a packet without a
 * presentation (or decode) time; it stays without one. */
#define TS_RISE_NO_PTS INT64_MIN

/* One track's state; zero it to start. */
typedef struct {
    bool have;    /* last holds the previous packet's dts */
    int64_t last; /* that dts, after raising */
} ts_rise_t;

/*
 * FLV and RTMP carry one millisecond timeline for audio and video
 * together, and GStreamer's flvmux keeps it from going back by clamping a
 * late frame's timestamps to the last tag it wrote: after a stall of the
 * encoder a burst of frames carries one dts. Muxers refuse a dts that does
 * not increase, so a dts at most WINDOW ticks behind the last (WINDOW: the
 * track's ticks in the tolerated step back) becomes the last plus one tick,
 * and the pts (unless TS_RISE_NO_PTS) becomes at least that. A larger step
 * back is a break (an encoder restart) and passes unchanged for the session
 * to re-base; a dts of TS_RISE_NO_PTS passes unchanged and is not counted,
 * and any other value, however hostile, is compared without overflow.
 * Returns true when the packet was raised. Not thread-safe: one
 * state per track, used by the track's one thread.
 */
bool ts_rise(ts_rise_t *t, int64_t window, int64_t *pts, int64_t *dts);

#endif
