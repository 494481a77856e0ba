/* A session's rates over the last 10 s: speed, frames in and out a second. */
#include "rate_window.h"

#include <string.h>

void rate_window_push(rate_window_t *w, const rate_window_sample_t *x)
{
    if (w->n > 0 && x->wall_us - w->s[w->head].wall_us < RATE_WINDOW_STEP_US)
        return;
    w->head = w->n > 0 ? (w->head + 1) % RATE_WINDOW_SLOTS : 0;
    w->s[w->head] = *x;
    if (w->n < RATE_WINDOW_SLOTS)
        w->n++;
}

void rate_window_rates(const rate_window_t *w, rate_window_rates_t *out)
{
    memset(out, 0, sizeof(*out));
    if (w->n < 2)
        return;
    const rate_window_sample_t *a = &w->s[w->head], *b = NULL;
    for (int k = w->n - 1; k >= 1 && !b; k--) {
        const rate_window_sample_t *o =
            &w->s[(w->head - k + RATE_WINDOW_SLOTS) % RATE_WINDOW_SLOTS];
        if (a->wall_us - o->wall_us <= RATE_WINDOW_US)
            b = o;
    }
    if (!b || a->wall_us <= b->wall_us)
        return;
    double span = (double)(a->wall_us - b->wall_us) / 1e6;
    out->span_s = span;
    out->speed = (double)(a->media_us - b->media_us) / 1e6 / span;
    out->fps_in = (double)(a->frames_in - b->frames_in) / span;
    out->fps_out = (double)(a->frames_out - b->frames_out) / span;
}
