/* Helpers the transcode session's files share: time, errors, counters. */
#include "transcode_int.h"

#include <libavutil/time.h>

#include "log.h"

#define MOD "transcode"

int64_t transcode_us_of(int64_t ts, AVRational tb)
{
    return av_rescale_q(ts, tb, AV_TIME_BASE_Q);
}

const char *transcode_err_text(int err, char *buf, size_t len)
{
    av_strerror(err, buf, len);
    return buf;
}

void transcode_stats_add(transcode_session_t *s, int64_t *field, int64_t n)
{
    pthread_mutex_lock(&s->stats_lock);
    *field += n;
    pthread_mutex_unlock(&s->stats_lock);
}

void transcode_count_corrupt(transcode_session_t *s, const char *what, int err)
{
    pthread_mutex_lock(&s->stats_lock);
    int64_t n = ++s->st.corrupt;
    pthread_mutex_unlock(&s->stats_lock);
    s->skip_to_key = true;
    if (n <= 10)
        log_warn(MOD, "Corrupt input; skipping to the next keyframe.",
                 "what=%s err=\"%s\" corrupt=%lld", what, ERRSTR(err),
                 (long long)n);
}

void transcode_media_time(transcode_session_t *s, int64_t us)
{
    pthread_mutex_lock(&s->stats_lock);
    if (!s->have_media) {
        s->first_media_us = us;
        s->media_wall_us = av_gettime_relative();
        s->have_media = true;
    }
    if (us > s->last_media_us)
        s->last_media_us = us;
    pthread_mutex_unlock(&s->stats_lock);
}

bool transcode_remuxing(const transcode_session_t *s)
{
    for (int i = 0; i < s->nrend; i++)
        if (s->rend[i].r.remux && !s->rend[i].failed)
            return true;
    return false;
}
