/* RFC 8216 playlist validator: media, master, snapshot and variant rules. */
/*
 * How this works: a playlist is read line by line (CR LF or LF). Each
 * line is a tag (#EXT...), a comment (# not followed by EXT, ignored),
 * blank (ignored) or a URI. The checks are the MUST rules of RFC 8216
 * sections 4 (syntax and structure), 6.2.1 and 6.2.2 (what a server may
 * change between two snapshots of a live playlist) and 7 (protocol
 * version compatibility), each reported under a short rule name so a
 * test can tell which rule a playlist breaks. Unknown tags are ignored,
 * as clients must ignore them. The Low-Latency tags (RFC 8216bis) are
 * read and checked by hls_check_ll.c through three hooks (init, each tag
 * line, finish).
 */
#include "hls_check.h"
#include "hls_check_ll.h"
#include "hls_syntax.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTRS_MAX 32

static void vadd(hls_report_t *r, const char *rule, int line, const char *fmt,
                 va_list ap)
{
    if (r->n >= HLS_CHECK_MAX_PROBLEMS) {
        r->dropped++;
        return;
    }
    hls_problem_t *p = &r->p[r->n++];
    snprintf(p->rule, sizeof(p->rule), "%s", rule);
    p->line = line;
    vsnprintf(p->text, sizeof(p->text), fmt, ap);
}

__attribute__((format(printf, 4, 5))) static void
add(hls_report_t *r, const char *rule, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(r, rule, line, fmt, ap);
    va_end(ap);
}

void hls_report_add(hls_report_t *r, const char *rule, int line,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(r, rule, line, fmt, ap);
    va_end(ap);
}

bool hls_report_has(const hls_report_t *r, const char *rule)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->p[i].rule, rule))
            return true;
    return false;
}

static const char *const media_playlist_tags[] = {
    "#EXT-X-TARGETDURATION",         "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-ENDLIST",
    "#EXT-X-PLAYLIST-TYPE",          "#EXT-X-I-FRAMES-ONLY"};
static const char *const segment_tags[] = {
    "#EXTINF",    "#EXT-X-BYTERANGE",         "#EXT-X-DISCONTINUITY",
    "#EXT-X-KEY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE",
    "#EXT-X-MAP"};
static const char *const master_tags[] = {
    "#EXT-X-MEDIA", "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF",
    "#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int tag_index(const char *line, const char *const *tags, int n)
{
    for (int i = 0; i < n; i++)
        if (hls_is_tag(line, tags[i]))
            return i;
    return -1;
}

hls_kind_t hls_check_kind(const char *text)
{
    hls_lines_t it = {text, 0, false};
    char line[HLS_LINE_MAX];
    bool master = false;
    while (hls_next_line(&it, line, sizeof(line))) {
        if (tag_index(line, media_playlist_tags, COUNT(media_playlist_tags)) >=
                0 ||
            tag_index(line, segment_tags, COUNT(segment_tags)) >= 0)
            return HLS_KIND_MEDIA;
        if (tag_index(line, master_tags, COUNT(master_tags)) >= 0)
            master = true;
    }
    return master ? HLS_KIND_MASTER : HLS_KIND_UNKNOWN;
}

/* Rules that hold for both kinds: UTF-8 without BOM or control
 * characters (4.1), EXTM3U on the first line (4.3.1.1). */
static void check_common(const char *text, hls_report_t *r)
{
    if (!strncmp(text, "\xef\xbb\xbf", 3))
        add(r, "encoding", 1, "the playlist starts with a byte order mark");
    int line = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n')
            line++;
        else if ((*p < 0x20 && *p != '\r') || *p == 0x7f) {
            add(r, "encoding", line, "control character 0x%02x", *p);
            break;
        }
    }
    const char *e = strpbrk(text, "\r\n");
    size_t n = e ? (size_t)(e - text) : strlen(text);
    if (n != 7 || strncmp(text, "#EXTM3U", 7))
        add(r, "extm3u", 1, "the first line is not #EXTM3U");
}

/* The tags every playlist starts with: #EXTM3U on the first line only
 * (4.3.1.1) and EXT-X-VERSION once, a decimal-integer (4.3.1.2). True
 * when the line is one of them. */
static bool check_header_tag(const char *line, int no, int *versions,
                             int *version, hls_report_t *r)
{
    long long v;
    if (hls_is_tag(line, "#EXTM3U")) {
        if (no != 1)
            add(r, "extm3u", no, "#EXTM3U after the first line");
        return true;
    }
    if (!hls_is_tag(line, "#EXT-X-VERSION"))
        return false;
    if (++*versions > 1)
        add(r, "tag-once", no, "EXT-X-VERSION appears more than once");
    if (!hls_tag_value(line) || !hls_parse_int(hls_tag_value(line), &v) ||
        v < 1)
        add(r, "tag-syntax", no, "EXT-X-VERSION value is not an integer");
    else
        *version = (int)v;
    return true;
}

/* A playlist kind's handler of one line (URI or tag) with its state. */
typedef void line_fn(void *scan, const char *line, int no);

/* Checks what every playlist must be, then hands each URI line to uri and
 * each tag line to tag; blank lines and comments (# not followed by EXT)
 * are skipped. */
static void scan_playlist(const char *text, hls_report_t *r, void *scan,
                          line_fn *uri, line_fn *tag)
{
    hls_lines_t it = {text, 0, false};
    char line[HLS_LINE_MAX];
    check_common(text, r);
    while (hls_next_line(&it, line, sizeof(line))) {
        if (it.truncated)
            add(r, "tag-syntax", it.no, "line longer than %d bytes",
                HLS_LINE_MAX - 1);
        if (!line[0])
            continue;
        if (line[0] != '#')
            uri(scan, line, it.no);
        else if (!strncmp(line, "#EXT", 4))
            tag(scan, line, it.no);
    }
}

/* What hls_check_media has read so far of one media playlist. */
typedef struct {
    hls_media_t *m;
    hls_report_t *r;
    int once[COUNT(media_playlist_tags)];
    int versions;
    bool pending, pending_disc; /* an EXTINF waits for its URI line */
    int pending_line;
    double pending_dur;
    bool iframes, seg_seen, disc_seen;
    long long target_line;
    int need_line[7]; /* [v]: first line that needs EXT-X-VERSION v */
} media_scan_t;

static void need_version(media_scan_t *s, int version, int no)
{
    if (!s->need_line[version])
        s->need_line[version] = no;
}

/* A URI line: the segment its tags describe (4.3.2). */
static void media_uri_line(void *scan, const char *line, int no)
{
    media_scan_t *s = scan;
    hls_media_t *m = s->m;
    if (!s->pending) {
        add(s->r, "uri", no, "URI line without a preceding EXTINF");
        return;
    }
    if (m->nseg < HLS_CHECK_MAX_SEGMENTS) {
        hls_segment_t *seg = &m->seg[m->nseg++];
        seg->duration = s->pending_dur;
        seg->discontinuity = s->pending_disc;
        snprintf(seg->uri, sizeof(seg->uri), "%.255s", line);
    } else if (m->nseg == HLS_CHECK_MAX_SEGMENTS) {
        add(s->r, "limit", no, "more than %d segments; the rest unread",
            HLS_CHECK_MAX_SEGMENTS);
        m->nseg++;
    }
    s->seg_seen = true;
    s->pending = s->pending_disc = false;
}

/* #EXTINF:<duration>,[<title>] (4.3.2.1) */
static void media_extinf(media_scan_t *s, const char *val, int no)
{
    size_t dl = val ? strcspn(val, ",") : 0;
    bool is_int;
    if (!val || !val[dl] ||
        !hls_parse_float(val, dl, &s->pending_dur, &is_int)) {
        add(s->r, "extinf", no, "EXTINF is not <duration>,[<title>]");
        s->pending_dur = 0;
    } else if (!is_int) {
        need_version(s, 3, no);
    }
    if (s->pending)
        add(s->r, "uri", no, "EXTINF without a URI line after it");
    s->pending = true;
    s->pending_line = no;
}

/* The sequence tags: TARGETDURATION, MEDIA-SEQUENCE and
 * DISCONTINUITY-SEQUENCE (4.3.3.1 to 4.3.3.3). */
static void media_sequence_tag(media_scan_t *s, const char *line,
                               const char *val, int no)
{
    hls_media_t *m = s->m;
    hls_report_t *r = s->r;
    long long v;
    bool ok = val && hls_parse_int(val, &v);
    if (hls_is_tag(line, "#EXT-X-TARGETDURATION")) {
        if (!ok)
            add(r, "tag-syntax", no, "EXT-X-TARGETDURATION is not an integer");
        else
            m->target = v, s->target_line = no;
    } else if (hls_is_tag(line, "#EXT-X-MEDIA-SEQUENCE")) {
        if (!ok)
            add(r, "tag-syntax", no, "EXT-X-MEDIA-SEQUENCE is not an integer");
        else
            m->media_seq = v;
        if (s->seg_seen || s->pending)
            add(r, "media-sequence-position", no,
                "EXT-X-MEDIA-SEQUENCE after the first segment");
    } else {
        if (!ok)
            add(r, "tag-syntax", no,
                "EXT-X-DISCONTINUITY-SEQUENCE is not an integer");
        else
            m->disc_seq = v;
        m->has_disc_seq = true;
        if (s->seg_seen || s->pending || s->disc_seen)
            add(r, "discontinuity-sequence-position", no,
                "EXT-X-DISCONTINUITY-SEQUENCE after the first segment or "
                "EXT-X-DISCONTINUITY");
    }
}

/* The tags with an attribute list whose rules depend on the version. */
static void media_attr_tag(media_scan_t *s, const char *line, const char *val,
                           int no)
{
    hls_attr_t attrs[ATTRS_MAX];
    char why[160];
    int n = hls_parse_attrs(val, attrs, ATTRS_MAX, why, sizeof(why));
    if (n < 0) {
        add(s->r, "attribute-list", no, "%s", why);
        return;
    }
    if (hls_is_tag(line, "#EXT-X-MAP")) {
        if (!hls_attr_get(attrs, n, "URI"))
            add(s->r, "attribute-list", no, "EXT-X-MAP without URI");
        need_version(s, 6, no);
    }
    if (hls_is_tag(line, "#EXT-X-KEY") &&
        (hls_attr_get(attrs, n, "KEYFORMAT") ||
         hls_attr_get(attrs, n, "KEYFORMATVERSIONS")))
        need_version(s, 5, no);
}

/* One tag line of a media playlist. */
static void media_tag_line(void *scan, const char *line, int no)
{
    media_scan_t *s = scan;
    hls_report_t *r = s->r;
    if (check_header_tag(line, no, &s->versions, &s->m->version, r))
        return;
    if (tag_index(line, master_tags, COUNT(master_tags)) >= 0) {
        add(r, "mixed", no, "master playlist tag in a media playlist");
        return;
    }
    if (hls_ll_media_tag(s->m, line, no, r))
        return;
    int t = tag_index(line, media_playlist_tags, COUNT(media_playlist_tags));
    if (t >= 0 && ++s->once[t] > 1)
        add(r, "tag-once", no, "%s appears more than once",
            media_playlist_tags[t]);
    const char *val = hls_tag_value(line);
    if (hls_is_tag(line, "#EXTINF")) {
        media_extinf(s, val, no);
    } else if (hls_is_tag(line, "#EXT-X-TARGETDURATION") ||
               hls_is_tag(line, "#EXT-X-MEDIA-SEQUENCE") ||
               hls_is_tag(line, "#EXT-X-DISCONTINUITY-SEQUENCE")) {
        media_sequence_tag(s, line, val, no);
    } else if (hls_is_tag(line, "#EXT-X-DISCONTINUITY")) {
        if (val)
            add(r, "tag-syntax", no, "EXT-X-DISCONTINUITY has a value");
        s->pending_disc = s->disc_seen = true;
    } else if (hls_is_tag(line, "#EXT-X-ENDLIST")) {
        if (val)
            add(r, "tag-syntax", no, "EXT-X-ENDLIST has a value");
        s->m->endlist = true;
    } else if (hls_is_tag(line, "#EXT-X-PLAYLIST-TYPE")) {
        if (!val || (strcmp(val, "EVENT") && strcmp(val, "VOD")))
            add(r, "tag-syntax", no, "EXT-X-PLAYLIST-TYPE is not EVENT or VOD");
    } else if (hls_is_tag(line, "#EXT-X-I-FRAMES-ONLY")) {
        s->iframes = true;
        need_version(s, 4, no);
    } else if (hls_is_tag(line, "#EXT-X-BYTERANGE")) {
        need_version(s, 4, no);
    } else if (hls_is_tag(line, "#EXT-X-KEY") ||
               hls_is_tag(line, "#EXT-X-MAP") ||
               hls_is_tag(line, "#EXT-X-DATERANGE") ||
               hls_is_tag(line, "#EXT-X-START")) {
        media_attr_tag(s, line, val, no);
    }
}

/* The rules over the whole playlist, once every line is read. */
static void media_finish(media_scan_t *s)
{
    hls_media_t *m = s->m;
    hls_report_t *r = s->r;
    if (s->pending)
        add(r, "uri", s->pending_line, "EXTINF without a URI line after it");
    if (!s->once[0])
        add(r, "targetduration-required", 0, "no EXT-X-TARGETDURATION");
    if (m->nseg > HLS_CHECK_MAX_SEGMENTS)
        m->nseg = HLS_CHECK_MAX_SEGMENTS;
    /* Each EXTINF rounded to the nearest integer <= TARGETDURATION
     * (4.3.3.1). */
    double total = 0;
    for (int i = 0; i < m->nseg; i++) {
        total += m->seg[i].duration;
        if (m->target >= 0 && llround(m->seg[i].duration) > m->target)
            add(r, "targetduration", (int)s->target_line,
                "segment %lld lasts %.3f s, more than EXT-X-TARGETDURATION "
                "%lld once rounded",
                m->media_seq + i, m->seg[i].duration, m->target);
    }
    /* Protocol version compatibility (section 7). */
    if (s->need_line[3] && m->version < 3)
        add(r, "version", s->need_line[3],
            "floating-point EXTINF needs EXT-X-VERSION 3, not %d", m->version);
    if (s->need_line[4] && m->version < 4)
        add(r, "version", s->need_line[4],
            "EXT-X-BYTERANGE or EXT-X-I-FRAMES-ONLY needs EXT-X-VERSION 4, "
            "not %d",
            m->version);
    if (s->need_line[5] && m->version < 5)
        add(r, "version", s->need_line[5],
            "KEYFORMAT(VERSIONS) needs EXT-X-VERSION 5, not %d", m->version);
    if (s->need_line[6] && m->version < (s->iframes ? 5 : 6))
        add(r, "version", s->need_line[6],
            "EXT-X-MAP needs EXT-X-VERSION %d, not %d", s->iframes ? 5 : 6,
            m->version);
    /* A live server does not remove segments below three target
     * durations (6.2.2); MEDIA-SEQUENCE > 0 says segments were removed. */
    if (!m->endlist && m->media_seq > 0 && m->target > 0 &&
        total < 3.0 * (double)m->target - 1e-6)
        add(r, "window", 0,
            "live playlist lasts %.3f s after removals, less than three "
            "target durations (%lld s)",
            total, 3 * m->target);
    /* Prism's rule, stricter than the RFC: a playlist with a
     * discontinuity states its discontinuity sequence, so the count is
     * explicit when the discontinuity leaves the window. */
    if (s->disc_seen && !m->has_disc_seq)
        add(r, "discontinuity-sequence-required", 0,
            "EXT-X-DISCONTINUITY without EXT-X-DISCONTINUITY-SEQUENCE");
    hls_ll_media_finish(m, r);
}

int hls_check_media(const char *text, hls_media_t *m, hls_report_t *r)
{
    int before = r->n + r->dropped;
    media_scan_t s = {.m = m, .r = r};

    memset(m, 0, sizeof(*m));
    m->version = 1;
    m->target = -1;
    hls_ll_media_init(m);
    scan_playlist(text, r, &s, media_uri_line, media_tag_line);
    media_finish(&s);
    return r->n + r->dropped - before;
}

/* Checks the attributes of a variant tag; fills v. */
static void check_variant_attrs(const hls_attr_t *a, int n, int no,
                                const char *tag, hls_variant_info_t *v,
                                int version, hls_report_t *r)
{
    const hls_attr_t *x;
    long long ll;
    double d;
    bool is_int;

    memset(v, 0, sizeof(*v));
    v->bandwidth = v->average = -1;
    if (!(x = hls_attr_get(a, n, "BANDWIDTH")))
        add(r, "stream-inf-bandwidth", no, "%s without BANDWIDTH", tag);
    else if (x->quoted || !hls_parse_int(x->value, &ll))
        add(r, "attribute-value", no, "BANDWIDTH is not a decimal-integer");
    else
        v->bandwidth = ll;
    if ((x = hls_attr_get(a, n, "AVERAGE-BANDWIDTH"))) {
        if (x->quoted || !hls_parse_int(x->value, &ll))
            add(r, "attribute-value", no,
                "AVERAGE-BANDWIDTH is not a decimal-integer");
        else
            v->average = ll;
    }
    if ((x = hls_attr_get(a, n, "RESOLUTION"))) {
        char tail;
        if (x->quoted ||
            sscanf(x->value, "%d%*[x]%d%c", &v->width, &v->height, &tail) !=
                2 ||
            strspn(x->value, "0123456789x") != strlen(x->value))
            add(r, "attribute-value", no,
                "RESOLUTION is not a decimal-resolution");
    }
    if ((x = hls_attr_get(a, n, "FRAME-RATE")) &&
        (x->quoted ||
         !hls_parse_float(x->value, strlen(x->value), &d, &is_int)))
        add(r, "attribute-value", no,
            "FRAME-RATE is not a decimal-floating-point");
    if ((x = hls_attr_get(a, n, "CODECS"))) {
        if (!x->quoted)
            add(r, "attribute-value", no, "CODECS is not a quoted-string");
        snprintf(v->codecs, sizeof(v->codecs), "%.127s", x->value);
    }
    if ((x = hls_attr_get(a, n, "HDCP-LEVEL")) &&
        (x->quoted || (strcmp(x->value, "TYPE-0") && strcmp(x->value, "NONE"))))
        add(r, "attribute-value", no, "HDCP-LEVEL is not TYPE-0 or NONE");
    if (hls_attr_get(a, n, "PROGRAM-ID") && version >= 6)
        add(r, "version", no, "PROGRAM-ID is removed from version 6 on");
}

#define MASTER_GROUPS_MAX 64

/* What hls_check_master has read so far of one master playlist. */
typedef struct {
    hls_master_t *m;
    hls_report_t *r;
    int versions;
    bool pending; /* an EXT-X-STREAM-INF waits for its URI line */
    int pending_line;
    hls_variant_info_t cur;
    /* Groups defined by EXT-X-MEDIA and those STREAM-INF refers to. */
    char groups[MASTER_GROUPS_MAX][80], refs[MASTER_GROUPS_MAX][80];
    int ngroups, nrefs, ref_line[MASTER_GROUPS_MAX];
    int v7_line; /* first line that needs EXT-X-VERSION 7 */
} master_scan_t;

static void master_uri_line(void *scan, const char *line, int no)
{
    master_scan_t *s = scan;
    hls_master_t *m = s->m;
    if (!s->pending) {
        add(s->r, "uri", no, "URI line without EXT-X-STREAM-INF");
        return;
    }
    snprintf(s->cur.uri, sizeof(s->cur.uri), "%.255s", line);
    if (m->nvar < HLS_CHECK_MAX_VARIANTS)
        m->var[m->nvar++] = s->cur;
    else
        add(s->r, "limit", no, "more than %d variants", HLS_CHECK_MAX_VARIANTS);
    s->pending = false;
}

/* EXT-X-STREAM-INF or EXT-X-I-FRAME-STREAM-INF: a variant (4.3.4.2-3). */
static void master_variant(master_scan_t *s, const hls_attr_t *attrs, int n,
                           bool stream, int no)
{
    static const char *const grp[] = {"AUDIO", "VIDEO", "SUBTITLES"};
    check_variant_attrs(
        attrs, n, no, stream ? "EXT-X-STREAM-INF" : "EXT-X-I-FRAME-STREAM-INF",
        &s->cur, s->m->version, s->r);
    for (int g = 0; g < 3; g++) {
        const hls_attr_t *x = hls_attr_get(attrs, n, grp[g]);
        if (x && s->nrefs < MASTER_GROUPS_MAX) {
            snprintf(s->refs[s->nrefs], sizeof(s->refs[0]), "%.20s:%.58s",
                     grp[g], x->value);
            s->ref_line[s->nrefs++] = no;
        }
    }
    if (stream) {
        s->pending = true;
        s->pending_line = no;
    } else if (!hls_attr_get(attrs, n, "URI")) {
        add(s->r, "i-frame-stream-inf", no,
            "EXT-X-I-FRAME-STREAM-INF without URI");
    }
}

/* EXT-X-MEDIA: a rendition of a group (4.3.4.1). */
static void master_media(master_scan_t *s, const hls_attr_t *attrs, int n,
                         int no)
{
    const hls_attr_t *type = hls_attr_get(attrs, n, "TYPE");
    const hls_attr_t *gid = hls_attr_get(attrs, n, "GROUP-ID");
    const hls_attr_t *id = hls_attr_get(attrs, n, "INSTREAM-ID");
    if (!type || !gid || !hls_attr_get(attrs, n, "NAME")) {
        add(s->r, "media-required", no,
            "EXT-X-MEDIA without TYPE, GROUP-ID or NAME");
        return;
    }
    if (!strcmp(type->value, "CLOSED-CAPTIONS") &&
        hls_attr_get(attrs, n, "URI"))
        add(s->r, "media-required", no,
            "EXT-X-MEDIA CLOSED-CAPTIONS with a URI");
    if (id && !strncmp(id->value, "SERVICE", 7) && !s->v7_line)
        s->v7_line = no;
    if (s->ngroups < MASTER_GROUPS_MAX)
        snprintf(s->groups[s->ngroups++], sizeof(s->groups[0]), "%.20s:%.58s",
                 type->value, gid->value);
}

/* One tag line of a master playlist. */
static void master_tag_line(void *scan, const char *line, int no)
{
    master_scan_t *s = scan;
    hls_report_t *r = s->r;
    hls_attr_t attrs[ATTRS_MAX];
    char why[160];
    if (s->pending) {
        /* The URI line MUST follow EXT-X-STREAM-INF (4.3.4.2). */
        add(r, "stream-inf-uri", no,
            "EXT-X-STREAM-INF (line %d) not followed by its URI",
            s->pending_line);
        s->pending = false;
    }
    if (check_header_tag(line, no, &s->versions, &s->m->version, r))
        return;
    if (tag_index(line, media_playlist_tags, COUNT(media_playlist_tags)) >= 0 ||
        tag_index(line, segment_tags, COUNT(segment_tags)) >= 0) {
        add(r, "mixed", no, "media playlist tag in a master playlist");
        return;
    }
    bool stream = hls_is_tag(line, "#EXT-X-STREAM-INF");
    bool iframe = hls_is_tag(line, "#EXT-X-I-FRAME-STREAM-INF");
    bool media = hls_is_tag(line, "#EXT-X-MEDIA");
    if (!stream && !iframe && !media && !hls_is_tag(line, "#EXT-X-START") &&
        !hls_is_tag(line, "#EXT-X-SESSION-DATA") &&
        !hls_is_tag(line, "#EXT-X-SESSION-KEY"))
        return;
    int n = hls_parse_attrs(hls_tag_value(line), attrs, ATTRS_MAX, why,
                            sizeof(why));
    if (n < 0) {
        add(r, "attribute-list", no, "%s", why);
        if (stream) {
            memset(&s->cur, 0, sizeof(s->cur));
            s->pending = true;
            s->pending_line = no;
        }
        return;
    }
    if (stream || iframe)
        master_variant(s, attrs, n, stream, no);
    else if (media)
        master_media(s, attrs, n, no);
}

/* The rules over the whole playlist, once every line is read. */
static void master_finish(master_scan_t *s)
{
    hls_report_t *r = s->r;
    if (s->pending)
        add(r, "stream-inf-uri", s->pending_line,
            "EXT-X-STREAM-INF not followed by its URI");
    /* An AUDIO/VIDEO/SUBTITLES attribute names a group of EXT-X-MEDIA of
     * that type (4.3.4.2). */
    for (int i = 0; i < s->nrefs; i++) {
        bool found = false;
        for (int g = 0; g < s->ngroups && !found; g++)
            found = !strcmp(s->groups[g], s->refs[i]);
        if (!found)
            add(r, "group", s->ref_line[i], "no EXT-X-MEDIA of group %s",
                s->refs[i]);
    }
    if (s->v7_line && s->m->version < 7)
        add(r, "version", s->v7_line,
            "INSTREAM-ID SERVICE needs EXT-X-VERSION 7, not %d", s->m->version);
}

int hls_check_master(const char *text, hls_master_t *m, hls_report_t *r)
{
    int before = r->n + r->dropped;
    master_scan_t scan = {.m = m, .r = r}, *s = &scan;

    memset(m, 0, sizeof(*m));
    m->version = 1;
    scan_playlist(text, r, s, master_uri_line, master_tag_line);
    master_finish(s);
    return r->n + r->dropped - before;
}

int hls_check_media_update(const hls_media_t *prev, const hls_media_t *cur,
                           hls_report_t *r)
{
    int before = r->n + r->dropped;
    long long prev_end = prev->media_seq + prev->nseg; /* one past last */

    if (prev->endlist) {
        /* EXT-X-ENDLIST is the last change a server may make (6.2.1). */
        bool same = cur->endlist && cur->media_seq == prev->media_seq &&
                    cur->nseg == prev->nseg;
        if (!same)
            add(r, "after-endlist", 0,
                "the playlist changed after EXT-X-ENDLIST (segments "
                "%lld..%lld, now %lld..%lld)",
                prev->media_seq, prev_end - 1, cur->media_seq,
                cur->media_seq + cur->nseg - 1);
    }
    if (cur->media_seq < prev->media_seq)
        add(r, "media-sequence-back", 0,
            "EXT-X-MEDIA-SEQUENCE went back from %lld to %lld", prev->media_seq,
            cur->media_seq);
    if (cur->disc_seq < prev->disc_seq)
        add(r, "discontinuity-sequence-back", 0,
            "EXT-X-DISCONTINUITY-SEQUENCE went back from %lld to %lld",
            prev->disc_seq, cur->disc_seq);
    if (cur->target != prev->target)
        add(r, "targetduration-changed", 0,
            "EXT-X-TARGETDURATION changed from %lld to %lld", prev->target,
            cur->target);
    if (cur->media_seq < prev->media_seq)
        return r->n + r->dropped - before;

    /* Segments in both keep their URI, duration and discontinuity. */
    for (int i = 0; i < cur->nseg; i++) {
        long long msn = cur->media_seq + i;
        if (msn >= prev_end)
            break;
        const hls_segment_t *a = &prev->seg[msn - prev->media_seq];
        const hls_segment_t *b = &cur->seg[i];
        if (strcmp(a->uri, b->uri) || fabs(a->duration - b->duration) > 1e-6 ||
            a->discontinuity != b->discontinuity) {
            add(r, "segment-changed", 0,
                "segment %lld was %s (%.3f s%s), now %s (%.3f s%s)", msn,
                a->uri, a->duration, a->discontinuity ? ", discontinuity" : "",
                b->uri, b->duration, b->discontinuity ? ", discontinuity" : "");
            break;
        }
    }
    /* The discontinuity sequence grows by the discontinuities that left
     * the window (6.2.1); when segments left unseen (cur starts past
     * prev's end), by at least those seen leaving. */
    long long left = 0;
    long long gone = cur->media_seq - prev->media_seq;
    for (long long i = 0; i < gone && i < prev->nseg; i++)
        left += prev->seg[i].discontinuity;
    long long grew = cur->disc_seq - prev->disc_seq;
    if (grew >= 0 && (cur->media_seq <= prev_end ? grew != left : grew < left))
        add(r, "discontinuity-sequence-count", 0,
            "%lld EXT-X-DISCONTINUITY left the window but "
            "EXT-X-DISCONTINUITY-SEQUENCE went from %lld to %lld",
            left, prev->disc_seq, cur->disc_seq);
    return r->n + r->dropped - before;
}

/* H.264 profile_idc from ffprobe's profile name. */
static int h264_profile_idc(const char *name)
{
    static const struct {
        const char *name;
        int idc;
    } map[] = {{"Constrained Baseline", 66},
               {"Baseline", 66},
               {"Main", 77},
               {"Extended", 88},
               {"High", 100},
               {"High 10", 110},
               {"High 10 Intra", 110},
               {"High 4:2:2", 122},
               {"High 4:2:2 Intra", 122},
               {"High 4:4:4", 144},
               {"High 4:4:4 Predictive", 244},
               {"High 4:4:4 Intra", 244},
               {"CAVLC 4:4:4", 44}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].name, name))
            return map[i].idc;
    return -1;
}

/*
 * Whether a decoder of H.264 profile DECLARED decodes profile VIDEO: the
 * same one, or a later one on the line Constrained Baseline (as x264
 * writes Baseline) < Main < High < High 10 < High 4:2:2 < High 4:4:4
 * Predictive. CODECS may declare more than a segment needs (a stream
 * continued by another encoder lists both kinds of segment for a while),
 * never less.
 */
static bool h264_profile_covers(int declared, int video)
{
    static const int line[] = {66, 77, 100, 110, 122, 244};
    int d = -1, v = -1;
    for (int i = 0; i < 6; i++) {
        if (line[i] == declared)
            d = i;
        if (line[i] == video)
            v = i;
    }
    return declared == video || (d >= 0 && v >= 0 && d >= v);
}

/* The n-th comma-separated entry of codecs that starts with prefix. */
static bool find_codec(const char *codecs, const char *prefix, char *out,
                       size_t outlen)
{
    const char *p = codecs;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        if (!strncmp(p, prefix, strlen(prefix))) {
            snprintf(out, outlen, "%.*s", (int)n, p);
            while (*out && out[strlen(out) - 1] == ' ')
                out[strlen(out) - 1] = 0;
            return true;
        }
        p += n;
    }
    return false;
}

int hls_check_codecs(const hls_variant_info_t *v, const char *video_profile,
                     int video_level, const char *audio_profile,
                     hls_report_t *r)
{
    int before = r->n + r->dropped;
    char c[64];
    bool has_video = find_codec(v->codecs, "avc1.", c, sizeof(c)) ||
                     find_codec(v->codecs, "avc3.", c, sizeof(c));
    if (!v->codecs[0]) {
        add(r, "codecs", 0, "%s: no CODECS", v->uri);
        return r->n + r->dropped - before;
    }
    if (video_profile) {
        int want = h264_profile_idc(video_profile);
        unsigned pp, cc, ll;
        if (!has_video)
            add(r, "codecs", 0, "%s: CODECS \"%s\" lists no H.264 video",
                v->uri, v->codecs);
        else if (sscanf(c + 5, "%2x%2x%2x", &pp, &cc, &ll) != 3 ||
                 strlen(c) != 11)
            add(r, "codecs", 0, "%s: %s is not avc1.PPCCLL", v->uri, c);
        else if (!h264_profile_covers((int)pp, want) || (int)ll < video_level)
            add(r, "codecs", 0,
                "%s: CODECS says %s (profile %u, level %u) but the video is "
                "%s (profile %d) level %d: a player that decodes what CODECS "
                "says cannot decode it",
                v->uri, c, pp, ll, video_profile, want, video_level);
    } else if (has_video) {
        add(r, "codecs", 0, "%s: CODECS lists %s but there is no video", v->uri,
            c);
    }
    bool has_audio = find_codec(v->codecs, "mp4a.", c, sizeof(c));
    if (audio_profile) {
        const char *want = !strcmp(audio_profile, "HE-AAC")     ? "mp4a.40.5"
                           : !strcmp(audio_profile, "HE-AACv2") ? "mp4a.40.29"
                                                                : "mp4a.40.2";
        if (!has_audio || strcmp(c, want))
            add(r, "codecs", 0, "%s: CODECS \"%s\" lacks %s for the %s audio",
                v->uri, v->codecs, want, audio_profile);
    } else if (has_audio) {
        add(r, "codecs", 0, "%s: CODECS lists %s but there is no audio", v->uri,
            c);
    }
    return r->n + r->dropped - before;
}

int hls_check_bandwidth(const hls_variant_info_t *v, double peak_bps,
                        double avg_bps, double avg_tolerance, hls_report_t *r)
{
    int before = r->n + r->dropped;
    /* The measured peak carries EXTINF's rounding (six decimals) and
     * BANDWIDTH the writer's (to whole bits/s): a difference within those
     * is not a broken rule. */
    double slack = 1.0 + peak_bps * 1e-6;
    if (v->bandwidth >= 0 && (double)v->bandwidth + slack < peak_bps)
        add(r, "bandwidth-peak", 0,
            "%s: BANDWIDTH %lld is below the peak segment bit rate %.0f",
            v->uri, v->bandwidth, peak_bps);
    if (v->average < 0)
        add(r, "average-bandwidth", 0, "%s: no AVERAGE-BANDWIDTH", v->uri);
    else if (avg_bps >= 0 &&
             fabs((double)v->average - avg_bps) > avg_tolerance * avg_bps)
        add(r, "average-bandwidth", 0,
            "%s: AVERAGE-BANDWIDTH %lld is not the average segment bit rate "
            "%.0f (within %.0f%%)",
            v->uri, v->average, avg_bps, avg_tolerance * 100);
    return r->n + r->dropped - before;
}

const hls_variant_info_t *hls_check_variant(const hls_master_t *m,
                                            const char *uri)
{
    for (int i = 0; i < m->nvar; i++)
        if (!strcmp(m->var[i].uri, uri))
            return &m->var[i];
    return NULL;
}
