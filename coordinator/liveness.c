/* Liveness: dead workers (missed reports), hung and slow sessions (pure). */
#include "liveness.h"

int64_t liveness_worker_deadline(const liveness_config_t *cfg,
                                 int64_t last_seen_ms)
{
    return last_seen_ms + cfg->report_ms * cfg->missed_reports;
}

bool liveness_worker_dead(const liveness_config_t *cfg, int64_t last_seen_ms,
                          int64_t now_ms)
{
    return now_ms > liveness_worker_deadline(cfg, last_seen_ms);
}

void liveness_session_init(liveness_session_t *s, int64_t now_ms)
{
    s->seen = false;
    s->out_pts_ms = 0;
    s->in_pts_ms = 0;
    s->out_changed_ms = now_ms;
    s->in_changed_ms = now_ms;
    s->slow_count = 0;
}

liveness_state_t liveness_session_report(const liveness_config_t *cfg,
                                         liveness_session_t *s, int64_t now_ms,
                                         int64_t out_pts_ms, int64_t in_pts_ms,
                                         double speed)
{
    if (!s->seen) {
        s->seen = true;
        s->out_pts_ms = out_pts_ms;
        s->in_pts_ms = in_pts_ms;
        s->out_changed_ms = now_ms;
        s->in_changed_ms = now_ms;
    } else {
        if (out_pts_ms > s->out_pts_ms) {
            s->out_pts_ms = out_pts_ms;
            s->out_changed_ms = now_ms;
        }
        if (in_pts_ms > s->in_pts_ms) {
            s->in_pts_ms = in_pts_ms;
            s->in_changed_ms = now_ms;
        }
    }
    if (now_ms - s->out_changed_ms >= cfg->hung_ms &&
        s->in_changed_ms > s->out_changed_ms)
        return LIVENESS_HUNG;
    if (speed < cfg->slow_speed)
        s->slow_count++;
    else
        s->slow_count = 0;
    if (cfg->slow_reports > 0 && s->slow_count >= cfg->slow_reports)
        return LIVENESS_SLOW;
    return LIVENESS_OK;
}
