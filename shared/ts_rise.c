/* Keeps a track's decode timestamps rising, as every muxer requires. */
#include "ts_rise.h"

bool ts_rise(ts_rise_t *t, int64_t window, int64_t *pts, int64_t *dts)
{
    if (*dts == TS_RISE_NO_PTS)
        return false; /* no time to keep rising: left as it is */
    bool raised = false;
    int64_t back; /* how far behind the last; hostile input may overflow */
    if (__builtin_sub_overflow(t->last, *dts, &back))
        back = INT64_MAX;
    if (t->have && back >= 0 && back <= window && t->last < INT64_MAX) {
        *dts = t->last + 1;
        if (*pts != TS_RISE_NO_PTS && *pts < *dts)
            *pts = *dts;
        raised = true;
    }
    t->have = true;
    t->last = *dts;
    return raised;
}
