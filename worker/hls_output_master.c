/* The master playlist of a transcode session's HLS output: its rates and
 * codecs, and when it is written. */
#include <stdio.h>
#include <string.h>

#include "hls_master.h"
#include "hls_output.h"
#include "output_files.h"

static double rend_nominal_bps(const transcode_session_t *s, const rend_t *r)
{
    double v = 0;
    if (!r->audio_only) {
        v = r->r.bitrate_kbps * 1000.0;
        if (v <= 0) /* Source of unknown rate: a rough guess until measured */
            v = r->r.width * r->r.height * ladder_rendition_fps(&r->r) * 0.1;
    }
    if (s->ai >= 0)
        v += s->acopy && s->src->streams[s->ai].par->bit_rate > 0
                 ? (double)s->src->streams[s->ai].par->bit_rate
                 : s->o.audio_kbps * 1000.0;
    return v * 1.08; /* container overhead */
}

int hls_output_write_master(transcode_session_t *s, bool final)
{
    hls_variant_t v[LADDER_MAX_RUNGS];
    char text[8192];
    int nv = 0;

    for (int k = 0; k < s->nrend; k++) {
        const rend_t *r = &s->rend[k];
        if (r->failed)
            continue; /* players must not pick a rendition that stopped */
        int i = nv++;
        memset(&v[i], 0, sizeof(v[i]));
        snprintf(v[i].name, sizeof(v[i].name), "%s", r->r.name);
        hls_rates_t m = {.peak_bps = r->peak_bps,
                         .bytes = r->pub_bytes,
                         .seconds = r->pub_s};
        hls_rates_advertise(&m, rend_nominal_bps(s, r), final, &v[i].average,
                            &v[i].bandwidth);
        s->rend[k].adv_bps = (double)v[i].bandwidth;
        if (!r->audio_only) {
            v[i].width = r->r.width;
            v[i].height = r->r.height;
            v[i].fps = ladder_rendition_fps(&r->r);
            if (strcmp(r->vcodec, "-"))
                snprintf(v[i].video_codec, sizeof(v[i].video_codec), "%s",
                         r->vcodec);
            /* The playlist still lists the other session's segments. */
            if (v[i].video_codec[0] && r->prev_vcodec[0])
                hls_codec_cover(v[i].video_codec, sizeof(v[i].video_codec),
                                r->prev_vcodec);
        }
        if (s->ai >= 0)
            snprintf(v[i].audio_codec, sizeof(v[i].audio_codec), "%s",
                     s->acodec);
    }
    int n = hls_master_format(v, nv, true, text, sizeof(text));
    if (n < 0)
        return n;
    s->master_written = true;
    return output_files_put(s, "master.m3u8", text, (size_t)n);
}

/*
 * Writes the master once every video rendition has its codec string and,
 * live, once every rendition lists a segment: a player sent to a playlist
 * without one gives up on it (hls.js: a 404, or "No Segments found in
 * Playlist" for one with parts only) instead of waiting.
 */
int hls_output_maybe_write_master(transcode_session_t *s)
{
    if (s->master_written)
        return 0;
    for (int i = 0; i < s->nrend; i++) {
        const rend_t *r = &s->rend[i];
        if (r->failed)
            continue;
        if (!r->audio_only && !r->vcodec[0])
            return 0;
        if (!s->o.vod && !hls_writer_count(r->pl))
            return 0;
    }
    return hls_output_write_master(s, false);
}
