/* The load control loop's decisions: smoothed use, effective load, slow. */
#include "load_ctl.h"

#include <math.h>

void load_ctl_smooth(const load_ctl_config_t *cfg, load_ctl_use_t *u,
                     double sample, int64_t now_ms)
{
    u->last = sample;
    if (sample < 0)
        return;
    if (sample > 1)
        sample = 1;
    if (!u->have || cfg->tau_ms <= 0) {
        u->use = sample;
    } else {
        double dt = (double)(now_ms - u->at_ms);
        double a = dt > 0 ? 1 - exp(-dt / (double)cfg->tau_ms) : 0;
        u->use += a * (sample - u->use);
    }
    u->have = true;
    u->at_ms = now_ms;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void load_ctl_effective(const load_ctl_use_t *u,
                        const placement_load_t *reported, uint64_t enc_budget,
                        uint64_t dec_budget, placement_load_t *out)
{
    *out = *reported;
    if (!u->have)
        return;
    out->encode_pixels = max_u64(reported->encode_pixels,
                                 (uint64_t)(u->use * (double)enc_budget));
    out->decode_pixels = max_u64(reported->decode_pixels,
                                 (uint64_t)(u->use * (double)dec_budget));
}

void load_ctl_stream_init(load_ctl_stream_t *st)
{
    st->slow_since_ms = 0;
    st->moved_ms = 0;
    st->left_worker = -1;
}

load_ctl_verdict_t load_ctl_session(const load_ctl_config_t *cfg,
                                    load_ctl_stream_t *st, int64_t now_ms,
                                    double speed_10s)
{
    if (speed_10s <= 0)
        return st->slow_since_ms ? LOAD_CTL_SLOW : LOAD_CTL_OK;
    if (speed_10s >= cfg->slow_speed) {
        st->slow_since_ms = 0;
        return LOAD_CTL_OK;
    }
    if (!st->slow_since_ms)
        st->slow_since_ms = now_ms;
    if (now_ms - st->slow_since_ms < cfg->slow_move_ms)
        return LOAD_CTL_SLOW;
    if (st->moved_ms && now_ms - st->moved_ms < cfg->move_cooldown_ms)
        return LOAD_CTL_SLOW;
    return LOAD_CTL_MOVE;
}

long load_ctl_avoid(const load_ctl_config_t *cfg, const load_ctl_stream_t *st,
                    int64_t now_ms)
{
    if (st->left_worker < 0 || !st->moved_ms ||
        now_ms - st->moved_ms >= cfg->avoid_ms)
        return -1;
    return st->left_worker;
}

void load_ctl_moved(load_ctl_stream_t *st, long from, int64_t now_ms)
{
    st->slow_since_ms = 0;
    st->moved_ms = now_ms;
    st->left_worker = from;
}

void load_ctl_stayed(load_ctl_stream_t *st, int64_t now_ms)
{
    st->slow_since_ms = now_ms;
}

bool load_ctl_worker_may_shed(const load_ctl_config_t *cfg, int64_t last_ms,
                              int64_t now_ms)
{
    return !last_ms || now_ms - last_ms >= cfg->slow_move_ms;
}
