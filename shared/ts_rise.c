/* Keeps a track's decode timestamps rising, as every muxer requires. */
#include "ts_rise.h"

bool ts_rise(ts_rise_t *t, int64_t window, int64_t *pts, int64_t *dts)
{
    bool raised = false;
    if (t->have && *dts <= t->last && t->last - *dts <= window) {
        *dts = t->last + 1;
        if (*pts != TS_RISE_NO_PTS && *pts < *dts)
            *pts = *dts;
        raised = true;
    }
    t->have = true;
    t->last = *dts;
    return raised;
}
