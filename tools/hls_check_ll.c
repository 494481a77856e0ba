/* Low-Latency HLS: the tags of one media playlist and their rules. */
/*
 * How this works: hls_check_media hands every tag line to
 * hls_ll_media_tag before its own rules. The tags of a segment to come
 * (EXT-X-PART, EXT-X-PROGRAM-DATE-TIME, and EXT-X-DISCONTINUITY, which
 * hls_check.c reads too) are stored in the slot m->seg[m->nseg] ahead of
 * its URI line; what is left in that slot at the end is the incomplete
 * last segment, moved to m->ll.tail_*. hls_ll_media_finish then checks
 * the MUST rules of RFC 8216bis (draft-pantos-hls-rfc8216bis, sections
 * 4.4.3.7-8, 4.4.4.9, 4.4.5.2-4, 8); hls_check_ll the rules a caller
 * chooses (Prism's promises, the spec's SHOULDs).
 */
#include "hls_check_ll.h"
#include "hls_syntax.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ATTRS_MAX 32
#define add       hls_report_add
#define EPS       1e-9 /* decimal numbers compared as parsed */
/* Prism prints PART-HOLD-BACK to the millisecond: 3 x 0.33334 s is
 * written 1.000, which keeps its promise of three PART-TARGETs. */
#define HOLD_BACK_ROUNDING 0.0005

const hls_ll_opts_t hls_ll_spec = {
    .hold_back_parts = 2.0,
    .naming = HLS_LL_NAMING_INFER,
};

const hls_ll_opts_t hls_ll_prism = {
    .require = true,
    .independent_first = true,
    .hold_back_parts = 3.0,
    .part_window = true,
    .all_reports = true,
    .naming = HLS_LL_NAMING_INFER,
};

void hls_ll_media_init(hls_media_t *m)
{
    hls_ll_t *ll = &m->ll;
    ll->part_target = ll->part_hold_back = ll->hold_back = -1;
    ll->can_skip_until = -1;
}

/* The segment the tags read now belong to, or NULL past the limit. */
static hls_segment_t *next_seg(hls_media_t *m)
{
    return m->nseg < HLS_CHECK_MAX_SEGMENTS ? &m->seg[m->nseg] : NULL;
}

/* A decimal-floating-point attribute: -1 and a problem when malformed. */
static double attr_float(const hls_attr_t *a, const char *tag, int no,
                         hls_report_t *r)
{
    double d;
    bool is_int;
    if (!a)
        return -1;
    if (a->quoted ||
        !hls_parse_float(a->value, strlen(a->value), &d, &is_int)) {
        add(r, "attribute-value", no, "%s %s is not a decimal-floating-point",
            tag, a->name);
        return -1;
    }
    return d;
}

static bool attr_yes(const hls_attr_t *a, int no, hls_report_t *r)
{
    if (a && (a->quoted || strcmp(a->value, "YES")))
        add(r, "attribute-value", no, "%s is not YES", a->name);
    return a && !strcmp(a->value, "YES");
}

/* #EXT-X-PART (4.4.4.9): URI and DURATION required. */
static void ll_part(hls_media_t *m, const hls_attr_t *a, int n, int no,
                    hls_report_t *r)
{
    hls_ll_t *ll = &m->ll;
    hls_segment_t *seg = next_seg(m);
    const hls_attr_t *uri = hls_attr_get(a, n, "URI");
    const hls_attr_t *dur = hls_attr_get(a, n, "DURATION");
    if (!uri || !dur) {
        add(r, "attribute-list", no, "EXT-X-PART without URI or DURATION");
        return;
    }
    if (!uri->quoted)
        add(r, "attribute-value", no, "EXT-X-PART URI is not quoted");
    if (ll->npart == HLS_CHECK_MAX_PARTS || !seg) {
        add(r, "limit", no, "more than %d parts; the rest unread",
            HLS_CHECK_MAX_PARTS);
        return;
    }
    hls_part_t *p = &ll->part[ll->npart];
    memset(p, 0, sizeof(*p));
    p->duration = attr_float(dur, "EXT-X-PART", no, r);
    p->independent = attr_yes(hls_attr_get(a, n, "INDEPENDENT"), no, r);
    p->gap = attr_yes(hls_attr_get(a, n, "GAP"), no, r);
    p->seg = m->nseg;
    p->index = seg->nparts;
    p->line = no;
    snprintf(p->uri, sizeof(p->uri), "%.255s", uri->value);
    if (!seg->nparts++)
        seg->first_part = ll->npart;
    ll->npart++;
}

/* #EXT-X-SERVER-CONTROL (4.4.3.8). */
static void ll_server_control(hls_ll_t *ll, const hls_attr_t *a, int n, int no,
                              hls_report_t *r)
{
    const char *t = "EXT-X-SERVER-CONTROL";
    ll->server_control = true;
    ll->can_block_reload =
        attr_yes(hls_attr_get(a, n, "CAN-BLOCK-RELOAD"), no, r);
    ll->part_hold_back =
        attr_float(hls_attr_get(a, n, "PART-HOLD-BACK"), t, no, r);
    ll->hold_back = attr_float(hls_attr_get(a, n, "HOLD-BACK"), t, no, r);
    ll->can_skip_until =
        attr_float(hls_attr_get(a, n, "CAN-SKIP-UNTIL"), t, no, r);
    if (attr_yes(hls_attr_get(a, n, "CAN-SKIP-DATERANGES"), no, r) &&
        ll->can_skip_until < 0)
        add(r, "attribute-list", no,
            "CAN-SKIP-DATERANGES without CAN-SKIP-UNTIL");
}

/* #EXT-X-SKIP (4.4.5.2): once, in place of the first segments. */
static void ll_skip(hls_media_t *m, const hls_attr_t *a, int n, int no,
                    hls_report_t *r)
{
    hls_ll_t *ll = &m->ll;
    const hls_attr_t *x = hls_attr_get(a, n, "SKIPPED-SEGMENTS");
    long long v;
    if (ll->has_skip)
        add(r, "tag-once", no, "EXT-X-SKIP appears more than once");
    if (m->nseg || ll->npart)
        add(r, "skip", no, "EXT-X-SKIP after the first segment");
    ll->has_skip = true;
    if (!x || x->quoted || !hls_parse_int(x->value, &v))
        add(r, "attribute-list", no,
            "EXT-X-SKIP without a decimal-integer SKIPPED-SEGMENTS");
    else
        ll->skipped = v;
    /* Section 8: version 9 for EXT-X-SKIP, 10 when it skips date ranges. */
    ll->skip_need = hls_attr_get(a, n, "RECENTLY-REMOVED-DATERANGES") ? 10 : 9;
    ll->skip_line = no;
}

/* #EXT-X-PRELOAD-HINT (4.4.5.3): TYPE and URI; the first is kept. */
static void ll_hint(hls_ll_t *ll, const hls_attr_t *a, int n, int no,
                    hls_report_t *r)
{
    const hls_attr_t *type = hls_attr_get(a, n, "TYPE");
    const hls_attr_t *uri = hls_attr_get(a, n, "URI");
    if (!type || !uri || !uri->quoted) {
        add(r, "attribute-list", no,
            "EXT-X-PRELOAD-HINT without TYPE or a quoted URI");
        return;
    }
    if (ll->hint_type[0] ||
        (strcmp(type->value, "PART") && strcmp(type->value, "MAP")))
        return; /* clients use the first, ignore unknown types (6.3.8) */
    snprintf(ll->hint_type, sizeof(ll->hint_type), "%.4s", type->value);
    snprintf(ll->hint_uri, sizeof(ll->hint_uri), "%.255s", uri->value);
    ll->hint_line = no;
}

/* #EXT-X-RENDITION-REPORT (4.4.5.4). */
static void ll_report(hls_ll_t *ll, const hls_attr_t *a, int n, int no,
                      hls_report_t *r)
{
    const hls_attr_t *uri = hls_attr_get(a, n, "URI");
    const hls_attr_t *msn = hls_attr_get(a, n, "LAST-MSN");
    const hls_attr_t *part = hls_attr_get(a, n, "LAST-PART");
    if (!uri || !uri->quoted) {
        add(r, "attribute-list", no,
            "EXT-X-RENDITION-REPORT without a quoted URI");
        return;
    }
    if (ll->nreport == HLS_CHECK_MAX_REPORTS) {
        add(r, "limit", no, "more than %d rendition reports",
            HLS_CHECK_MAX_REPORTS);
        return;
    }
    hls_rendition_report_t *x = &ll->report[ll->nreport++];
    memset(x, 0, sizeof(*x));
    snprintf(x->uri, sizeof(x->uri), "%.255s", uri->value);
    x->line = no;
    if (msn && !(x->has_msn = hls_parse_int(msn->value, &x->last_msn)))
        add(r, "attribute-value", no, "LAST-MSN is not a decimal-integer");
    if (part && !(x->has_part = hls_parse_int(part->value, &x->last_part)))
        add(r, "attribute-value", no, "LAST-PART is not a decimal-integer");
}

/* #EXT-X-PROGRAM-DATE-TIME:YYYY-MM-DDThh:mm:ss[.SSS](Z|+hh:mm|-hh:mm). */
static bool parse_date(const char *s, double *out)
{
    struct tm tm = {0};
    int len = 0, oh = 0, om = 0;
    double frac = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &len) != 6 ||
        len != 19)
        return false;
    s += len;
    if (*s == '.') {
        size_t d = strspn(s + 1, "0123456789");
        if (!d)
            return false;
        frac = strtod(s, NULL);
        s += 1 + d;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if ((*s == '+' || *s == '-') &&
               sscanf(s + 1, "%2d:%2d%n", &oh, &om, &len) == 2 && len == 5) {
        int sign = *s == '-' ? -1 : 1;
        oh *= sign, om *= sign;
        s += 6;
    } else {
        return false;
    }
    if (*s)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) + frac - oh * 3600.0 - om * 60.0;
    return true;
}

/* The tags that apply to a parent segment MUST come before its first
 * part (4.4.4.9); a date also becomes the segment's. */
static void ll_segment_tag(hls_media_t *m, const char *line, int no,
                           hls_report_t *r)
{
    hls_segment_t *seg = next_seg(m);
    if (!seg)
        return;
    if (seg->nparts)
        add(r, "part-tag-order", no,
            "%.40s between the parts of one segment, not before its first "
            "EXT-X-PART",
            line);
    if (hls_is_tag(line, "#EXT-X-DISCONTINUITY")) {
        seg->discontinuity = true;
    } else if (hls_is_tag(line, "#EXT-X-PROGRAM-DATE-TIME")) {
        if (parse_date(hls_tag_value(line), &seg->pdt))
            seg->has_pdt = true;
        else
            add(r, "tag-syntax", no,
                "EXT-X-PROGRAM-DATE-TIME is not an ISO 8601 date and time");
    }
}

bool hls_ll_media_tag(hls_media_t *m, const char *line, int no, hls_report_t *r)
{
    static const char *const tags[] = {
        "#EXT-X-PART", "#EXT-X-PART-INF",     "#EXT-X-SERVER-CONTROL",
        "#EXT-X-SKIP", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT"};
    hls_ll_t *ll = &m->ll;
    hls_attr_t a[ATTRS_MAX];
    char why[160];
    int t = -1;

    if (hls_is_tag(line, "#EXT-X-DISCONTINUITY") ||
        hls_is_tag(line, "#EXT-X-KEY") || hls_is_tag(line, "#EXT-X-MAP") ||
        hls_is_tag(line, "#EXT-X-PROGRAM-DATE-TIME")) {
        ll_segment_tag(m, line, no, r);
        return hls_is_tag(line, "#EXT-X-PROGRAM-DATE-TIME");
    }
    for (int i = 0; i < (int)(sizeof(tags) / sizeof(tags[0])) && t < 0; i++)
        if (hls_is_tag(line, tags[i]))
            t = i;
    if (t < 0)
        return false;
    int n =
        hls_parse_attrs(hls_tag_value(line), a, ATTRS_MAX, why, sizeof(why));
    if (n < 0) {
        add(r, "attribute-list", no, "%s", why);
        return true;
    }
    switch (t) {
    case 0:
        ll_part(m, a, n, no, r);
        break;
    case 1:
        if (ll->part_target >= 0)
            add(r, "tag-once", no, "EXT-X-PART-INF appears more than once");
        ll->part_target = attr_float(hls_attr_get(a, n, "PART-TARGET"),
                                     "EXT-X-PART-INF", no, r);
        if (ll->part_target < 0)
            add(r, "attribute-list", no, "EXT-X-PART-INF without PART-TARGET");
        break;
    case 2:
        if (ll->server_control)
            add(r, "tag-once", no,
                "EXT-X-SERVER-CONTROL appears more than once");
        ll_server_control(ll, a, n, no, r);
        break;
    case 3:
        ll_skip(m, a, n, no, r);
        break;
    case 4:
        ll_hint(ll, a, n, no, r);
        break;
    default:
        ll_report(ll, a, n, no, r);
    }
    return true;
}

long long hls_ll_first_msn(const hls_media_t *m)
{
    return m->media_seq + m->ll.skipped;
}

int hls_ll_parts(const hls_media_t *m, int seg, const hls_part_t **parts)
{
    const hls_ll_t *ll = &m->ll;
    int first = 0, n = 0;
    if (seg == m->nseg)
        first = ll->tail_first, n = ll->tail_nparts;
    else if (seg >= 0 && seg < m->nseg)
        first = m->seg[seg].first_part, n = m->seg[seg].nparts;
    *parts = n ? &ll->part[first] : NULL;
    return n;
}

static double parts_sum(const hls_part_t *p, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += p[i].duration;
    return sum;
}

bool hls_ll_parts_whole(const hls_media_t *m, int seg)
{
    const hls_part_t *p;
    int n = hls_ll_parts(m, seg, &p);
    if (!n || seg == m->nseg || p != &m->ll.part[0])
        return n > 0;
    return parts_sum(p, n) >= m->seg[seg].duration - HLS_LL_SUM_TOLERANCE;
}

/* Each part at most PART-TARGET long, and at least 85% of it unless it is
 * INDEPENDENT, a GAP, before a GAP or the last of its segment (4.4.4.9);
 * the parts of a complete segment last as long as it (3.2: the same
 * samples with the same timing). */
static void check_part_durations(const hls_media_t *m, hls_report_t *r)
{
    const hls_ll_t *ll = &m->ll;
    long long msn0 = hls_ll_first_msn(m);
    for (int i = 0; i < ll->npart && ll->part_target >= 0; i++) {
        const hls_part_t *p = &ll->part[i];
        const hls_part_t *next = i + 1 < ll->npart ? p + 1 : NULL;
        bool last = !next || next->seg != p->seg;
        if (p->duration > ll->part_target + EPS)
            add(r, "part-target", p->line,
                "part %s lasts %.5f s, more than PART-TARGET %.5f s", p->uri,
                p->duration, ll->part_target);
        else if (p->duration < 0.85 * ll->part_target - EPS &&
                 !p->independent && !p->gap && !last && !next->gap)
            add(r, "part-duration-min", p->line,
                "part %s lasts %.5f s, less than 85%% of PART-TARGET and is "
                "neither INDEPENDENT nor the last of its segment",
                p->uri, p->duration);
    }
    for (int s = 0; s < m->nseg; s++) {
        const hls_part_t *p;
        int n = hls_ll_parts(m, s, &p);
        double sum = parts_sum(p, n), d = m->seg[s].duration;
        bool oldest = n && p == &ll->part[0];
        if (n && (sum > d + HLS_LL_SUM_TOLERANCE ||
                  (!oldest && sum < d - HLS_LL_SUM_TOLERANCE)))
            add(r, "part-sum", p[0].line,
                "the parts of segment %lld (%s) last %.5f s, not its EXTINF "
                "%.5f s (within %.3f s)",
                msn0 + s, m->seg[s].uri, sum, d, HLS_LL_SUM_TOLERANCE);
    }
}

/* The first part after EXT-X-DISCONTINUITY must start with an independent
 * frame: a decoder cannot carry on across it. With every_segment, the
 * first part of every segment (a stream cut on key frames). */
static void check_independent(const hls_media_t *m, bool every_segment,
                              hls_report_t *r)
{
    long long msn0 = hls_ll_first_msn(m);
    for (int s = 0; s <= m->nseg; s++) {
        const hls_part_t *p;
        bool disc =
            s < m->nseg ? m->seg[s].discontinuity : m->ll.tail_discontinuity;
        if (!hls_ll_parts(m, s, &p) || !hls_ll_parts_whole(m, s) ||
            p->independent || p->gap || (!disc && !every_segment))
            continue;
        add(r, "part-independent", p->line,
            "the first part %s of segment %lld%s is not INDEPENDENT=YES",
            p->uri, msn0 + s, disc ? ", after EXT-X-DISCONTINUITY" : "");
    }
}

/* EXT-X-SERVER-CONTROL's bounds (4.4.3.8). */
static void check_server_control(const hls_media_t *m, double parts,
                                 hls_report_t *r)
{
    const hls_ll_t *ll = &m->ll;
    double td = (double)m->target;
    if (ll->part_target >= 0 && ll->part_hold_back < 0)
        add(r, "part-hold-back", 0,
            "EXT-X-PART-INF without EXT-X-SERVER-CONTROL PART-HOLD-BACK");
    else if (ll->part_target >= 0 &&
             ll->part_hold_back < parts * ll->part_target - EPS)
        add(r, "part-hold-back", 0,
            "PART-HOLD-BACK %.5f s is less than %g times PART-TARGET %.5f s",
            ll->part_hold_back, parts, ll->part_target);
    if (m->target < 0)
        return;
    if (ll->can_skip_until >= 0 && ll->can_skip_until < 6 * td - EPS)
        add(r, "can-skip-until", 0,
            "CAN-SKIP-UNTIL %.3f s is less than six target durations (%g s)",
            ll->can_skip_until, 6 * td);
    if (ll->hold_back >= 0 && ll->hold_back < 3 * td - EPS)
        add(r, "hold-back", 0,
            "HOLD-BACK %.3f s is less than three target durations (%g s)",
            ll->hold_back, 3 * td);
}

/* A part hint names a part to come: not one already listed (4.4.5.3:
 * "the URI that will be subsequently added"); none after ENDLIST. */
static void check_hint(const hls_media_t *m, hls_report_t *r)
{
    const hls_ll_t *ll = &m->ll;
    if (!ll->hint_type[0])
        return;
    if (m->endlist)
        add(r, "preload-hint", ll->hint_line,
            "EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST");
    if (strcmp(ll->hint_type, "PART"))
        return;
    for (int i = 0; i < ll->npart; i++)
        if (!strcmp(ll->part[i].uri, ll->hint_uri)) {
            add(r, "preload-hint", ll->hint_line,
                "the preload hint %s is a part already listed (line %d)",
                ll->hint_uri, ll->part[i].line);
            return;
        }
    for (int i = 0; i < m->nseg; i++)
        if (!strcmp(m->seg[i].uri, ll->hint_uri)) {
            add(r, "preload-hint", ll->hint_line,
                "the preload hint %s is a segment already listed",
                ll->hint_uri);
            return;
        }
}

void hls_ll_media_finish(hls_media_t *m, hls_report_t *r)
{
    hls_ll_t *ll = &m->ll;
    if (m->nseg < HLS_CHECK_MAX_SEGMENTS) {
        hls_segment_t *tail = &m->seg[m->nseg];
        ll->tail_first = tail->first_part;
        ll->tail_nparts = tail->nparts;
        ll->tail_discontinuity = tail->discontinuity;
        ll->tail_has_pdt = tail->has_pdt;
        ll->tail_pdt = tail->pdt;
        memset(tail, 0, sizeof(*tail));
    }
    if (ll->npart && ll->part_target < 0)
        add(r, "part-inf-required", ll->part[0].line,
            "EXT-X-PART without EXT-X-PART-INF");
    if (ll->has_skip && m->version < ll->skip_need)
        add(r, "version", ll->skip_line,
            "EXT-X-SKIP%s needs EXT-X-VERSION %d, not %d",
            ll->skip_need == 10 ? " with RECENTLY-REMOVED-DATERANGES" : "",
            ll->skip_need, m->version);
    if (ll->has_skip && ll->can_skip_until < 0)
        add(r, "skip", ll->skip_line,
            "EXT-X-SKIP in a playlist without CAN-SKIP-UNTIL");
    check_part_durations(m, r);
    check_independent(m, false, r);
    check_server_control(m, 2.0, r);
    check_hint(m, r);
}

/* Prism's part name <base>.<K><ext>, where <base><ext> is its segment's
 * name and <base> is <stem><MSN><tag> with no digit in <stem>, e.g.
 * seg_00048_9f3a01c2.2.m4s (the tag names the worker's session: a worker
 * that takes a stream over names its parts apart from the one before). */
typedef struct {
    long long msn, k;
    int stem, width; /* where the MSN's digits start; how many there are */
    int base;        /* the length of <base> */
    const char *ext;
} part_name_t;

static bool parse_part_name(const char *uri, part_name_t *pn)
{
    const char *ext = strrchr(uri, '.'), *q = ext;
    if (!ext || ext == uri)
        return false;
    while (q > uri && q[-1] >= '0' && q[-1] <= '9')
        q--;
    if (q == ext || q == uri || q[-1] != '.' || ext - q > 9)
        return false;
    const char *kdot = q - 1, *d = uri;
    while (d < kdot && (*d < '0' || *d > '9'))
        d++;
    const char *e = d;
    while (e < kdot && *e >= '0' && *e <= '9')
        e++;
    if (d == e || e - d > 18)
        return false;
    pn->msn = strtoll(d, NULL, 10);
    pn->k = strtoll(q, NULL, 10);
    pn->stem = (int)(d - uri);
    pn->width = (int)(e - d);
    pn->base = (int)(kdot - uri);
    pn->ext = ext;
    return true;
}

/* Whether segment s's parts follow Prism's naming: its MSN, one <base>
 * (that of the segment's own name once it is listed), and K from 0 (where
 * its parts are whole) up by one from part to part. */
static bool named_like_prism(const hls_media_t *m, int s, bool report,
                             hls_report_t *r)
{
    const hls_part_t *p;
    int n = hls_ll_parts(m, s, &p);
    long long msn = hls_ll_first_msn(m) + s, k = -1;
    part_name_t pn, first = {0};
    for (int i = 0; i < n; i++) {
        bool ok = parse_part_name(p[i].uri, &pn) && pn.msn == msn &&
                  (i ? pn.k == k + 1 : !hls_ll_parts_whole(m, s) || !pn.k);
        if (ok && !i)
            first = pn;
        ok = ok && pn.base == first.base &&
             !strncmp(p[i].uri, p->uri, (size_t)pn.base) &&
             !strcmp(pn.ext, first.ext);
        if (ok && s < m->nseg) {
            const char *seg = m->seg[s].uri;
            ok = !strncmp(seg, p[i].uri, (size_t)pn.base) &&
                 !strcmp(seg + pn.base, pn.ext);
        }
        k = pn.k;
        if (!ok) {
            if (report)
                add(r, "part-naming", p[i].line,
                    "part %s of segment %lld is not named <stem><MSN><tag>."
                    "<K><ext> after its segment (K from 0, one up per part)",
                    p[i].uri, msn);
            return false;
        }
    }
    return true;
}

/* The hint of a stream with Prism's naming (that of the last segment with
 * parts) names the part after the last one listed: the next of the
 * incomplete segment, or part 0 of the next MSN (its tag may be new: a
 * worker that took the stream over starts the segment). */
static void check_hint_next(const hls_media_t *m, hls_report_t *r)
{
    const hls_ll_t *ll = &m->ll;
    if (strcmp(ll->hint_type, "PART") || !ll->npart)
        return;
    const hls_part_t *last = &ll->part[ll->npart - 1];
    part_name_t pn, hint;
    if (!named_like_prism(m, last->seg, false, r) ||
        !parse_part_name(last->uri, &pn))
        return;
    long long msn = hls_ll_first_msn(m) + m->nseg;
    bool ok;
    char want[300];
    if (ll->tail_nparts) {
        snprintf(want, sizeof(want), "%.*s.%d%s", pn.base, last->uri,
                 last->index + 1, pn.ext);
        ok = !strcmp(want, ll->hint_uri);
    } else {
        bool tag = pn.base > pn.stem + pn.width;
        snprintf(want, sizeof(want), "%.*s%0*lld%s.0%s", pn.stem, last->uri,
                 pn.width, msn, tag ? "<tag>" : "", pn.ext);
        ok = parse_part_name(ll->hint_uri, &hint) && hint.msn == msn &&
             !hint.k && hint.stem == pn.stem && hint.width == pn.width &&
             !strncmp(ll->hint_uri, last->uri, (size_t)pn.stem) &&
             !strcmp(hint.ext, pn.ext);
    }
    if (!ok)
        add(r, "preload-hint-next", ll->hint_line,
            "the preload hint is %s, not %s, the part after the last one "
            "listed",
            ll->hint_uri, want);
}

/* EXT-X-PART tags SHOULD go once they are more than three target
 * durations from the end (6.2.2); a server removes them a segment at a
 * time, so a segment's parts are late only once its end is that far. */
static void check_part_window(const hls_media_t *m, hls_report_t *r)
{
    const hls_part_t *p;
    double end = 0, at = 0;
    int tail = hls_ll_parts(m, m->nseg, &p);
    for (int s = 0; s < m->nseg; s++)
        end += m->seg[s].duration;
    end += parts_sum(p, tail);
    for (int s = 0; s < m->nseg && m->target > 0; s++) {
        at += m->seg[s].duration;
        if (hls_ll_parts(m, s, &p) && end - at > 3.0 * (double)m->target + EPS)
            add(r, "part-window", p->line,
                "segment %lld ends %.3f s before the end but still lists "
                "parts (kept for three target durations, %lld s)",
                hls_ll_first_msn(m) + s, end - at, 3 * m->target);
    }
}

int hls_check_ll(const hls_media_t *m, const hls_ll_opts_t *opts,
                 hls_report_t *r)
{
    int before = r->n + r->dropped;
    const hls_ll_t *ll = &m->ll;
    if (opts->require) {
        if (ll->part_target < 0 || !ll->server_control || !ll->can_block_reload)
            add(r, "ll-required", 0,
                "no EXT-X-PART-INF or EXT-X-SERVER-CONTROL "
                "CAN-BLOCK-RELOAD=YES in a Low-Latency playlist");
        if (!m->endlist && (!ll->npart || strcmp(ll->hint_type, "PART")))
            add(r, "ll-required", 0,
                "a live Low-Latency playlist without parts or a part "
                "preload hint");
    }
    if (opts->independent_first)
        check_independent(m, true, r);
    if (opts->hold_back_parts > 2.0 && ll->part_target >= 0 &&
        ll->part_hold_back >= 2.0 * ll->part_target - EPS &&
        ll->part_hold_back <
            opts->hold_back_parts * ll->part_target - HOLD_BACK_ROUNDING)
        add(r, "part-hold-back", 0,
            "PART-HOLD-BACK %.5f s is less than %g times PART-TARGET %.5f s",
            ll->part_hold_back, opts->hold_back_parts, ll->part_target);
    if (opts->part_window)
        check_part_window(m, r);
    if (opts->naming == HLS_LL_NAMING_PRISM)
        for (int s = 0; s <= m->nseg; s++)
            named_like_prism(m, s, true, r);
    if (opts->naming != HLS_LL_NAMING_NONE)
        check_hint_next(m, r);
    return r->n + r->dropped - before;
}
