/* Segment alignment: where segments are cut, which frames go on, jumps. */
#include "segment_align.h"

#include <limits.h>
#include <math.h>

void segment_align_init(segment_align_t *a, int64_t seg_ticks,
                        int64_t half_frame)
{
    *a = (segment_align_t){.seg_ticks = seg_ticks, .half_frame = half_frame};
}

bool segment_align_decide(segment_align_t *a, int64_t pts, bool key,
                          bool remuxing, bool first_ok)
{
    int64_t since = a->have_bnd ? pts - a->last_bnd : INT64_MAX;
    bool boundary;
    if (key) {
        if (a->have_key && pts > a->last_key)
            a->key_gap = pts - a->last_key;
        a->last_key = pts;
        a->have_key = true;
    }
    /* So a 59-frame GOP at 30 fps against a 2 s target cuts every
     * 1.967 s, not every other keyframe (3.93 s). */
    int64_t tol =
        a->key_gap / 2 > a->half_frame ? a->key_gap / 2 : a->half_frame;
    if (!a->have_bnd)
        boundary = key && first_ok;
    else if (!remuxing)
        /* On the grid, so no segment outgrows TARGETDURATION however long
         * or irregular the source's GOP is. */
        boundary = since >= a->seg_ticks - a->half_frame;
    else if (key)
        boundary = since >= a->seg_ticks - tol && since >= a->seg_ticks / 2;
    else
        boundary = since >= 2 * a->seg_ticks;
    if (boundary) {
        a->have_bnd = true;
        a->last_bnd = pts;
    }
    return boundary;
}

void segment_align_ring_push(segment_align_ring_t *g, int64_t pts,
                             int64_t read_us)
{
    if (g->head - g->tail == SEGMENT_ALIGN_RING)
        g->tail++; /* the oldest never completed (a rendition lost it) */
    segment_align_bnd_t *b = &g->b[g->head % SEGMENT_ALIGN_RING];
    b->pts = pts;
    b->read_us = read_us;
    b->reached = 0;
    g->head++;
}

bool segment_align_ring_has(const segment_align_ring_t *g, int64_t pts)
{
    for (int64_t k = g->tail; k < g->head; k++) {
        if (g->b[k % SEGMENT_ALIGN_RING].pts == pts)
            return true;
    }
    return false;
}

void segment_align_ring_reach(segment_align_ring_t *g, int rend, int64_t pts)
{
    for (int64_t k = g->tail; k < g->head; k++) {
        segment_align_bnd_t *b = &g->b[k % SEGMENT_ALIGN_RING];
        if (b->pts == pts)
            b->reached |= 1u << rend;
    }
}

bool segment_align_ring_pop(segment_align_ring_t *g, uint32_t all,
                            segment_align_bnd_t *out)
{
    if (g->tail >= g->head)
        return false;
    const segment_align_bnd_t *b = &g->b[g->tail % SEGMENT_ALIGN_RING];
    if ((b->reached & all) != all)
        return false;
    *out = *b;
    g->tail++;
    return true;
}

bool segment_align_select(segment_align_sel_t *sel, int frame_step, int fps_num,
                          int fps_den, int64_t pts_us, bool boundary,
                          int64_t *out_us)
{
    *out_us = pts_us;
    sel->fill = 0;
    if (fps_num <= 0 || fps_den <= 0)
        return true;
    if (boundary || !sel->any) {
        sel->phase_us = pts_us;
        sel->early_us = 0;
        sel->last_slot = 0;
        sel->any = true;
        return true;
    }
    double t = (pts_us - sel->phase_us) * fps_num / (1e6 * fps_den);
    int64_t slot;
    if (frame_step > 1) {
        slot = (int64_t)(t + 1e-3 >= 0 ? t + 1e-3 : t - 1);
        if (slot <= sel->last_slot)
            return false;
    } else {
        slot = sel->last_slot + 1;
        if (t - slot > SEGMENT_ALIGN_SLACK_SLOTS)
            slot = llround(t);
        else if (slot - t > SEGMENT_ALIGN_SLACK_SLOTS)
            return false;
    }
    int64_t empty = slot - sel->last_slot - 1;
    if (empty > 0 && empty * fps_den <= fps_num)
        sel->fill = empty;
    sel->last_slot = slot;
    int64_t grid_us = segment_align_slot_us(sel, fps_num, fps_den, slot);
    if (grid_us > pts_us) {
        sel->early_us -= grid_us - pts_us;
        grid_us = pts_us;
    }
    *out_us = grid_us;
    return true;
}

int64_t segment_align_slot_us(const segment_align_sel_t *sel, int fps_num,
                              int fps_den, int64_t slot)
{
    return sel->phase_us + sel->early_us +
           (int64_t)(slot * 1e6 * fps_den / fps_num);
}

bool segment_align_disc(segment_align_disc_t *d, int stream, int64_t us,
                        int64_t step_us, int64_t *jump_us)
{
    bool jumped = false;
    us += d->shift_us;
    if (d->have_last[stream] &&
        (us < d->last_us[stream] - SEGMENT_ALIGN_DISC_BACK_US ||
         us > d->last_us[stream] + SEGMENT_ALIGN_DISC_JUMP_US)) {
        int64_t shift = d->last_us[stream] + step_us - us;
        d->shift_us += shift;
        us += shift;
        *jump_us = shift;
        jumped = true;
    }
    d->last_us[stream] = us;
    d->have_last[stream] = true;
    return jumped;
}

segment_align_resume_t segment_align_resume(int64_t out_us, int64_t resume_us,
                                            int64_t tol_us, uint64_t was_id,
                                            uint64_t now_id)
{
    bool known = was_id && now_id, other = known && was_id != now_id;
    if (!other && out_us < resume_us - tol_us &&
        (known || out_us >= resume_us - SEGMENT_ALIGN_RESUME_BACK_US))
        return SEGMENT_ALIGN_PUBLISHED;
    if (other || out_us > resume_us + tol_us || out_us < resume_us - tol_us)
        return SEGMENT_ALIGN_REBASE;
    return SEGMENT_ALIGN_FOLLOWS;
}

bool segment_align_audio_cut(int64_t start_us, int64_t out_us, int64_t seg_us)
{
    return out_us >= start_us + seg_us - SEGMENT_ALIGN_AUDIO_SLACK_US;
}

bool segment_align_joins_tail(double dur_s, double seg_s)
{
    return dur_s < seg_s / 4;
}
