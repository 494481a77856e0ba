/* A stream that changes session: the playlists and master the session
 * before wrote, read back and continued, and a moved session's yield. */
#include "hls_handover.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hls_master.h"
#include "log.h"
#include "output_files.h"

#define MOD "transcode"
/* The largest unfinished segment joined from its parts. */
#define JOIN_MAX (64 << 20)

/* Rendition r's playlist as the output has it now, parsed into a writer of
 * its own; NULL when it cannot be read or parsed. */
static hls_writer_t *read_back(transcode_session_t *s, const rend_t *r)
{
    char *text = output_files_read_playlist(s, r);
    hls_writer_t *w = text ? hls_writer_new(&s->wopts) : NULL;
    if (w && hls_writer_continue(w, text) < 0)
        hls_writer_free(&w);
    free(text);
    return w;
}

/* What the playlist W says was published, when it says: BANDWIDTH counts
 * the segments before too. */
static void take_rates(rend_t *r, const hls_writer_t *w)
{
    hls_rates_t rates = hls_writer_rates(w);
    if (rates.known) {
        r->peak_bps = rates.peak_bps;
        r->pub_bytes = rates.bytes;
        r->pub_s = rates.seconds;
    }
}

/*
 * A continued LL-HLS playlist whose last segment the session before did
 * not finish lists it complete, made of the parts it published: its file
 * is made here from theirs, for players that load whole segments. A part
 * that cannot be read leaves the file out (logged): those players skip
 * it, the others play its parts.
 */
static void join_unfinished(transcode_session_t *s, rend_t *r)
{
    int last = hls_writer_count(r->pl) - 1;
    const char *parts[HLS_WRITER_MAX_PARTS];
    int n = hls_writer_segment_parts(r->pl, last, parts, HLS_WRITER_MAX_PARTS);
    size_t len = 0, cap = 0;
    char *seg = NULL, rel[200];
    int k;
    for (k = 0; k < n; k++) {
        size_t got = 0;
        output_files_rend_rel(r, parts[k], rel, sizeof(rel));
        char *b = output_files_read_bytes(s, rel, JOIN_MAX, &got);
        if (!b || len + got > JOIN_MAX) {
            free(b);
            break;
        }
        if (len + got > cap) {
            char *grown = realloc(seg, cap = 2 * (len + got));
            if (!grown) {
                free(b);
                break;
            }
            seg = grown;
        }
        memcpy(seg + len, b, got);
        len += got;
        free(b);
    }
    const char *uri = hls_writer_uri(r->pl, last);
    if (k == n && len && uri) {
        output_files_rend_rel(r, uri, rel, sizeof(rel));
        output_files_put(s, rel, seg, len);
        log_info(MOD,
                 "The segment the session before left unfinished is "
                 "listed as it was; its file is made from its parts.",
                 "rendition=%s segment=%s parts=%d bytes=%zu", r->r.name, uri,
                 n, len);
    } else {
        log_warn(MOD,
                 "A part of the segment the session before left unfinished "
                 "cannot be read: players that load whole segments skip it.",
                 "rendition=%s segment=%s part=%d of=%d", r->r.name,
                 uri ? uri : "?", k, n);
    }
    free(seg);
}

/*
 * A take-over or restart: continues the rendition's playlist where the
 * output already has one (its segments stay listed, numbering and
 * discontinuity sequence go on, its timeline is the stream's).
 */
void hls_handover_continue(transcode_session_t *s, rend_t *r)
{
    char *text = output_files_read_playlist(s, r);
    if (!text)
        return;
    if (hls_writer_continue(r->pl, text) == 0) {
        r->continued = true;
        if (hls_writer_resumes_unfinished(r->pl))
            join_unfinished(s, r);
        hls_timeline_t tl = hls_writer_timeline(r->pl);
        take_rates(r, r->pl);
        if (tl.known) {
            r->resume_us = tl.end_us;
            if (!s->cont || tl.end_us < s->resume_us) {
                s->tl = tl;
                s->resume_us = tl.end_us;
            }
            s->cont = true;
        }
        log_info(MOD, "Continuing a playlist.",
                 "rendition=%s next_sequence=%lld timeline=%d end_us=%lld "
                 "offset_us=%lld",
                 r->r.name, (long long)hls_writer_next_sequence(r->pl),
                 tl.known, (long long)tl.end_us, (long long)tl.offset_us);
    }
    free(text);
}

/*
 * Before a continued rendition's first segment: reads its playlist again
 * and, when another session listed more segments since, continues from
 * that one instead (its numbers, its end as the resume point). *DONE says
 * whether the playlist read is the last one its writer makes
 * (#PRISM-WRITER-DONE). Returns whether it changed.
 */
bool hls_handover_recheck(transcode_session_t *s, rend_t *r, bool *done)
{
    hls_writer_t *w = read_back(s, r);
    bool moved = false;
    *done = w && hls_writer_previous_done(w);
    if (w && hls_writer_next_sequence(w) > hls_writer_next_sequence(r->pl)) {
        hls_timeline_t tl = hls_writer_timeline(w);
        take_rates(r, w);
        hls_writer_min_sequence(w, s->o.start_sequence);
        hls_writer_free(&r->pl);
        r->pl = w;
        w = NULL;
        if (tl.known && tl.end_us > r->resume_us)
            r->resume_us = tl.end_us;
        moved = true;
        log_info(MOD,
                 "Another session published more of the stream; this one "
                 "goes on after it.",
                 "rendition=%s next_sequence=%lld end_us=%lld", r->r.name,
                 (long long)hls_writer_next_sequence(r->pl),
                 (long long)r->resume_us);
    }
    hls_writer_free(&w);
    return moved;
}

/*
 * Whether a handed-over rendition (the stream moved: another session
 * continues its playlist) must write nothing more. A session that lags
 * (the slow one a move takes the stream from) may still have segments to
 * publish when the new one starts listing its own: before each segment it
 * would still write, it reads the playlist, and once another session has
 * listed past its own last segment the playlist is that session's. From
 * then on this one writes nothing of the rendition: its segment files
 * would replace the other's under the same numbers, and its playlist
 * would take the other's segments away from players.
 */
bool hls_handover_yielded(transcode_session_t *s, rend_t *r)
{
    if (r->yielded)
        return true;
    if (s->o.vod || !atomic_load(&s->handed_over))
        return false;
    hls_writer_t *w = read_back(s, r);
    if (w && hls_writer_next_sequence(w) > hls_writer_next_sequence(r->pl)) {
        r->yielded = true;
        log_info(MOD,
                 "Another session lists this rendition's segments now; this "
                 "one writes no more of it (the rest of its backlog is "
                 "dropped).",
                 "rendition=%s next_sequence=%lld theirs=%lld", r->r.name,
                 (long long)hls_writer_next_sequence(r->pl),
                 (long long)hls_writer_next_sequence(w));
    }
    hls_writer_free(&w);
    return r->yielded;
}

/* A continued stream: the video codec its master lists for each continued
 * rendition (what that rendition's earlier segments need). */
void hls_handover_master_codecs(transcode_session_t *s)
{
    char *text = output_files_read(s, "master.m3u8");
    for (int i = 0; text && i < s->nrend; i++) {
        rend_t *r = &s->rend[i];
        char uri[160];
        output_files_rend_rel(r, "index.m3u8", uri, sizeof(uri));
        if (r->continued && hls_master_video_codec(text, uri, r->prev_vcodec,
                                                   sizeof(r->prev_vcodec)) < 0)
            r->prev_vcodec[0] = '\0';
    }
    free(text);
}
