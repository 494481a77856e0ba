/* Low-Latency HLS parts: names, segment dates, when a part ends, and the
 * rendition reports. */
#include "hls_parts.h"

#include <inttypes.h>
#include <stdio.h>

#include <libavutil/random_seed.h>

void hls_parts_new_tag(transcode_session_t *s)
{
    snprintf(s->tag, sizeof(s->tag), "%08" PRIx32, av_get_random_seed());
}

void hls_parts_init_name(const transcode_session_t *s, char *out, size_t len)
{
    snprintf(out, len, "init_%s.mp4", s->tag);
}

void hls_parts_segment_name(const transcode_session_t *s, int64_t seq,
                            char *out, size_t len)
{
    if (hls_parts_on(s))
        snprintf(out, len, "seg_%05" PRId64 "_%s.m4s", seq, s->tag);
    else
        snprintf(out, len, "seg_%05" PRId64 ".%s", seq,
                 s->o.fmp4 ? "m4s" : "ts");
}

void hls_parts_part_name(const transcode_session_t *s, int64_t seq, int k,
                         char *out, size_t len)
{
    snprintf(out, len, "seg_%05" PRId64 "_%s.%d.m4s", seq, s->tag, k);
}

bool hls_parts_on(const transcode_session_t *s)
{
    return s->o.part_s > 0 && s->o.fmp4 && !s->o.vod;
}

bool hls_parts_due(int64_t start_us, int64_t out_us, int64_t dur_us,
                   int64_t target_us)
{
    return out_us > start_us && out_us + dur_us - start_us > target_us;
}

void hls_parts_note_date(transcode_session_t *s, int64_t out_us,
                         int64_t unix_us)
{
    if (unix_us <= 0)
        return;
    int i = s->ndates < DATES_MAX ? s->ndates++ : s->date_next;
    s->dates[i].out_us = out_us;
    s->dates[i].unix_us = unix_us;
    s->date_next = (i + 1) % DATES_MAX;
}

int64_t hls_parts_date(const transcode_session_t *s, int64_t out_us)
{
    int best = -1, after = -1;
    for (int i = 0; i < s->ndates; i++) {
        int64_t t = s->dates[i].out_us;
        if (t <= out_us && (best < 0 || t > s->dates[best].out_us))
            best = i;
        if (t > out_us && (after < 0 || t < s->dates[after].out_us))
            after = i;
    }
    int k = best >= 0 ? best : after;
    if (k < 0)
        return 0;
    return s->dates[k].unix_us + (out_us - s->dates[k].out_us);
}

int hls_parts_reports(const transcode_session_t *s, const rend_t *r,
                      hls_writer_report_t *out, int max)
{
    int n = 0;
    for (int i = 0; i < s->nrend && n < max; i++) {
        const rend_t *o = &s->rend[i];
        if (o == r || o->failed || !o->pl)
            continue;
        hls_writer_report_t *p = &out[n];
        hls_writer_last_part(o->pl, &p->last_msn, &p->last_part);
        if (p->last_msn < 0)
            continue; /* nothing listed yet */
        snprintf(p->uri, sizeof(p->uri), "../%s/index.m3u8", o->r.name);
        n++;
    }
    return n;
}
