/* Low-Latency HLS: rules over several playlists (snapshots, deltas,
 * rendition reports). */
#include "hls_check_ll.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define add hls_report_add
#define EPS 1e-6 /* durations printed with at most six decimals */

/* Where a playlist ends: the MSN of its last segment, complete, or of
 * the incomplete one with the Part Index of its last part. */
typedef struct {
    long long msn, part;
    bool complete;
} position_t;

static position_t last_position(const hls_media_t *m)
{
    position_t at = {hls_ll_first_msn(m) + m->nseg - 1, -1, true};
    const hls_part_t *p;
    int n = hls_ll_parts(m, m->nseg, &p);
    if (n)
        at = (position_t){at.msn + 1, p[n - 1].index, false};
    return at;
}

static const char *pos_text(position_t at, char *buf, size_t len)
{
    if (at.complete)
        snprintf(buf, len, "segment %lld (complete)", at.msn);
    else
        snprintf(buf, len, "segment %lld part %lld", at.msn, at.part);
    return buf;
}

static bool before(position_t x, position_t y)
{
    return x.msn < y.msn ||
           (x.msn == y.msn && !x.complete && (y.complete || x.part < y.part));
}

/* The segment index of msn in m (m->nseg: the incomplete one), or -1. */
static int seg_of(const hls_media_t *m, long long msn)
{
    long long i = msn - hls_ll_first_msn(m);
    return i >= 0 && i <= m->nseg ? (int)i : -1;
}

static bool disc_at(const hls_media_t *m, int s)
{
    return s == m->nseg ? m->ll.tail_discontinuity : m->seg[s].discontinuity;
}

/* Compares the parts of segment msn in prev and cur (6.2.1: only parts
 * no longer at the live edge may go, from the front). */
static void compare_parts(const hls_media_t *prev, const hls_media_t *cur,
                          long long msn, hls_report_t *r)
{
    int ps = seg_of(prev, msn), cs = seg_of(cur, msn);
    const hls_part_t *a, *b;
    int na = ps < 0 ? 0 : hls_ll_parts(prev, ps, &a);
    int nb = cs < 0 ? 0 : hls_ll_parts(cur, cs, &b);
    bool tail = ps == prev->nseg; /* incomplete in prev */
    if (!na || cs < 0)
        return;
    /* A take-over starts the incomplete segment anew after a
     * discontinuity: its parts may vanish or change. */
    if (tail && disc_at(cur, cs) && !disc_at(prev, ps))
        return;
    for (int i = 0; i < na; i++) {
        const hls_part_t *q = NULL;
        for (int j = 0; j < nb && !q; j++)
            if (!strcmp(a[i].uri, b[j].uri))
                q = &b[j];
        if (q && (fabs(q->duration - a[i].duration) > EPS ||
                  q->independent != a[i].independent || q->gap != a[i].gap)) {
            add(r, "part-changed", q->line,
                "part %s of segment %lld was %.5f s%s, now %.5f s%s", a[i].uri,
                msn, a[i].duration, a[i].independent ? " INDEPENDENT" : "",
                q->duration, q->independent ? " INDEPENDENT" : "");
            return;
        }
        bool whole =
            hls_ll_parts_whole(prev, ps) && hls_ll_parts_whole(cur, cs);
        if (!q && whole && i < nb) {
            add(r, "part-changed", b[i].line,
                "part %d of segment %lld was %s, now %s", i, msn, a[i].uri,
                b[i].uri);
            return;
        }
        /* Until its segment is complete a part stays (6.2.2 removes only
         * parts no longer at the live edge). */
        if (!q && (cs == cur->nseg || (whole && nb))) {
            add(r, "part-dropped", 0,
                "part %s of segment %lld, listed before, is gone while %s",
                a[i].uri, msn,
                cs == cur->nseg ? "the segment is incomplete"
                                : "the segment lists its other parts");
            return;
        }
    }
}

int hls_check_ll_update(const hls_media_t *prev, const hls_media_t *cur,
                        hls_report_t *r)
{
    int n0 = r->n + r->dropped;
    position_t a = last_position(prev), b = last_position(cur);
    if (!prev->ll.npart && !cur->ll.npart)
        return 0;
    /* A take-over: the segment incomplete in prev starts anew in cur
     * after a discontinuity, so cur may end before prev's last part. */
    int cs = seg_of(cur, a.msn);
    bool takeover = !a.complete && cs >= 0 && disc_at(cur, cs) &&
                    !prev->ll.tail_discontinuity;
    char ta[64], tb[64];
    if (before(b, a) && !(takeover && b.msn == a.msn))
        add(r, "part-back", 0, "the playlist ended at %s, now at %s",
            pos_text(a, ta, sizeof(ta)), pos_text(b, tb, sizeof(tb)));
    long long from = hls_ll_first_msn(prev);
    for (long long msn = from; msn <= from + prev->nseg; msn++)
        compare_parts(prev, cur, msn, r);
    return r->n + r->dropped - n0;
}

/* Whether two segments (with their parts) are the same. */
static bool same_segment(const hls_media_t *ma, int sa, const hls_media_t *mb,
                         int sb)
{
    const hls_part_t *a, *b;
    int na = hls_ll_parts(ma, sa, &a), nb = hls_ll_parts(mb, sb, &b);
    if (sa < ma->nseg && sb < mb->nseg) {
        const hls_segment_t *x = &ma->seg[sa], *y = &mb->seg[sb];
        if (strcmp(x->uri, y->uri) || fabs(x->duration - y->duration) > EPS ||
            x->discontinuity != y->discontinuity)
            return false;
    }
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].uri, b[i].uri) ||
            fabs(a[i].duration - b[i].duration) > EPS ||
            a[i].independent != b[i].independent)
            return false;
    return true;
}

/* The segment the delta lists at index i of the merged playlist: from
 * base for the skipped ones, else from delta. */
static bool merged_segment(const hls_media_t *base, const hls_media_t *delta,
                           int i, const hls_media_t **m, int *s)
{
    long long skipped = delta->ll.skipped;
    if (i >= skipped) {
        *m = delta, *s = (int)(i - skipped);
        return true;
    }
    *m = base;
    *s = (int)(delta->media_seq + i - hls_ll_first_msn(base));
    return *s >= 0 && *s < base->nseg;
}

/* 6.2.5.1: the segments skipped are those further from the end of the
 * last segment than the Skip Boundary: each ends at least CAN-SKIP-UNTIL
 * before it (1 ms for rounding). */
static void check_skip_boundary(const hls_media_t *delta,
                                const hls_media_t *full, hls_report_t *r)
{
    double total = 0, end_skipped = 0;
    double boundary = delta->ll.can_skip_until;
    long long skipped = delta->ll.skipped;
    for (int i = 0; i < full->nseg; i++) {
        total += full->seg[i].duration;
        if (i < skipped)
            end_skipped = total;
    }
    if (boundary >= 0 && skipped && end_skipped > total - boundary + 0.001)
        add(r, "delta-skip-boundary", delta->ll.skip_line,
            "the delta skips %lld segments, the last ending %.3f s before "
            "the end, less than CAN-SKIP-UNTIL %.3f s",
            skipped, total - end_skipped, boundary);
}

int hls_check_ll_delta(const hls_media_t *base, const hls_media_t *delta,
                       const hls_media_t *full, hls_report_t *r)
{
    int n0 = r->n + r->dropped;
    long long skipped = delta->ll.skipped;
    if (!delta->ll.has_skip)
        add(r, "delta", 0, "the delta update has no EXT-X-SKIP");
    if (full->ll.can_skip_until < 0)
        add(r, "delta", 0,
            "the full playlist has no CAN-SKIP-UNTIL: it offers no delta");
    if (delta->media_seq != full->media_seq ||
        delta->disc_seq != full->disc_seq ||
        skipped + delta->nseg != full->nseg) {
        add(r, "delta-mismatch", 0,
            "the delta (sequence %lld, %lld skipped + %d segments) and the "
            "full playlist (sequence %lld, %d segments) differ",
            delta->media_seq, skipped, delta->nseg, full->media_seq,
            full->nseg);
        return r->n + r->dropped - n0;
    }
    for (int i = 0; i <= full->nseg; i++) {
        const hls_media_t *m;
        int s;
        if (i == full->nseg) {
            m = delta, s = delta->nseg; /* the incomplete segment */
        } else if (!merged_segment(base, delta, i, &m, &s)) {
            add(r, "delta-base", 0,
                "the delta skips segment %lld, which the earlier snapshot "
                "does not have",
                full->media_seq + i);
            break;
        }
        if (!same_segment(m, s, full, i)) {
            add(r, "delta-mismatch", 0,
                "segment %lld (%s) of the delta applied to the earlier "
                "snapshot differs from the full playlist (%s)",
                full->media_seq + i, s < m->nseg ? m->seg[s].uri : "incomplete",
                i < full->nseg ? full->seg[i].uri : "incomplete");
            break;
        }
    }
    if (strcmp(delta->ll.hint_uri, full->ll.hint_uri))
        add(r, "delta-mismatch", delta->ll.hint_line,
            "the delta's preload hint is \"%s\", the full playlist's \"%s\"",
            delta->ll.hint_uri, full->ll.hint_uri);
    check_skip_boundary(delta, full, r);
    return r->n + r->dropped - n0;
}

/* Resolves rel against base (RFC 3986 5.2, for paths): base's directory
 * followed by rel, with "." and ".." segments removed, into out. */
static void resolve(const char *base, const char *rel, char *out, size_t len)
{
    char tmp[1024];
    const char *slash = strrchr(base, '/');
    if (strstr(rel, "://") || rel[0] == '/' || !slash)
        snprintf(tmp, sizeof(tmp), "%s", rel);
    else
        snprintf(tmp, sizeof(tmp), "%.*s%s", (int)(slash - base + 1), base,
                 rel);
    /* Keep each segment; a ".." takes the one before it away. */
    size_t o = 0;
    const char *p = tmp;
    out[0] = 0;
    while (*p) {
        size_t n = strcspn(p, "/");
        bool last = !p[n];
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.' && o &&
                   strncmp(out, "..", 2)) {
            while (o && out[o - 1] == '/')
                o--;
            while (o && out[o - 1] != '/')
                o--;
        } else if (o + n + 2 < len) {
            memcpy(out + o, p, n);
            o += n;
            if (!last)
                out[o++] = '/';
        }
        out[o] = 0;
        p += n + !last;
    }
}

/* Where a rendition report says a playlist is: LAST-MSN, the MSN of its
 * last part when it has parts, and LAST-PART, that part's index (-1
 * without parts). */
static position_t report_position(const hls_media_t *m)
{
    position_t at = last_position(m);
    const hls_part_t *p;
    int n;
    if (at.complete && m->nseg && (n = hls_ll_parts(m, m->nseg - 1, &p)))
        at.part = p[n - 1].index;
    return at;
}

/* Reported and real positions agree when they are in the same segment
 * within one part, or at most one segment apart. */
static bool close_enough(position_t rep, position_t real)
{
    if (rep.part < 0 || real.part < 0)
        return llabs(rep.msn - real.msn) <= 1;
    if (rep.msn == real.msn)
        return llabs(rep.part - real.part) <= 1;
    position_t lo = rep.msn < real.msn ? rep : real;
    position_t hi = rep.msn < real.msn ? real : rep;
    return hi.msn == lo.msn + 1 && hi.part <= lo.part;
}

static int find_playlist(const char *const *uris, int n, const char *uri)
{
    char norm[1024];
    for (int j = 0; j < n; j++) {
        resolve("", uris[j], norm, sizeof(norm));
        if (!strcmp(norm, uri))
            return j;
    }
    return -1;
}

/* Checks the reports of playlist i; sets seen[j] for each j reported. */
static void check_reports_of(const hls_media_t *const *pl,
                             const char *const *uris, int n, int i, bool *seen,
                             hls_report_t *r)
{
    const hls_ll_t *ll = &pl[i]->ll;
    position_t own = report_position(pl[i]);
    char uri[1024];
    for (int k = 0; k < ll->nreport; k++) {
        const hls_rendition_report_t *x = &ll->report[k];
        resolve(uris[i], x->uri, uri, sizeof(uri));
        int j = find_playlist(uris, n, uri);
        if (j < 0 || j == i) {
            add(r, "rendition-report-uri", x->line, "%s reports %s (%s), %s",
                uris[i], x->uri, uri,
                j < 0 ? "not one of the playlists given" : "itself");
            continue;
        }
        seen[j] = true;
        position_t real = report_position(pl[j]);
        position_t rep = {x->has_msn ? x->last_msn : own.msn,
                          x->has_part ? x->last_part : own.part, false};
        if (real.part >= 0 && rep.part < 0)
            add(r, "rendition-report", x->line,
                "%s reports %s without LAST-PART though it has parts", uris[i],
                x->uri);
        else if (!close_enough(rep, real))
            add(r, "rendition-report", x->line,
                "%s reports %s at LAST-MSN=%lld LAST-PART=%lld, but it is "
                "at %lld part %lld (more than a part or a segment apart)",
                uris[i], x->uri, rep.msn, rep.part, real.msn, real.part);
    }
}

int hls_check_ll_reports(const hls_media_t *const *pl, const char *const *uris,
                         int n, bool all_reports, hls_report_t *r)
{
    int n0 = r->n + r->dropped;
    bool *seen = calloc(n > 0 ? (size_t)n : 1, sizeof(*seen));
    if (!seen) {
        add(r, "limit", 0, "out of memory checking rendition reports");
        return r->n + r->dropped - n0;
    }
    for (int i = 0; i < n; i++) {
        memset(seen, 0, (size_t)n * sizeof(*seen));
        check_reports_of(pl, uris, n, i, seen, r);
        for (int j = 0; j < n && all_reports; j++)
            if (j != i && !seen[j])
                add(r, "rendition-report-missing", 0,
                    "%s has no EXT-X-RENDITION-REPORT for %s", uris[i],
                    uris[j]);
    }
    free(seen);
    return r->n + r->dropped - n0;
}
