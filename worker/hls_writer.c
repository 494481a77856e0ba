/* HLS media playlist writer (RFC 8216): a window of segments, the media
 * and discontinuity sequence numbers, and the stream's timeline. */
#include "hls_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define MOD        "hls_writer"
#define TIMELINE   "#PRISM-TIMELINE:"
#define RATES      "#PRISM-RATES:"
#define DONE       "#PRISM-WRITER-DONE"
#define MAX_TARGET 3600
#define DATE_MAX   32 /* "2026-12-03T19:00:00.123Z" */

typedef struct {
    double duration;
    bool indep;
    char uri[HLS_WRITER_URI_MAX];
} wpart_t;

typedef struct {
    double duration;
    bool disc;
    int nparts; /* its parts still listed: the first of parts[] belong to
                   the oldest segment with any */
    int made;   /* its parts when it was added */
    char uri[HLS_WRITER_URI_MAX];
    char map[HLS_WRITER_URI_MAX]; /* EXT-X-MAP in force; "" = none */
    char date[DATE_MAX];          /* EXT-X-PROGRAM-DATE-TIME; "" = none */
} wseg_t;

struct hls_writer {
    hls_writer_opts_t o;
    char map_uri[HLS_WRITER_URI_MAX];
    wseg_t *seg; /* seg[0] has media sequence media_seq */
    int n, cap;
    int64_t media_seq; /* of the first listed segment */
    int64_t disc_seq;  /* discontinuities before the first listed segment */
    long target;       /* TARGETDURATION; only grows */
    bool next_disc;    /* the next segment added starts a discontinuity */
    hls_timeline_t tl;
    hls_rates_t rates;
    bool done;      /* this writer adds no more segments (written) */
    bool prev_done; /* the continued text's writer said so */
    /* Low-Latency HLS: the parts listed (of the segments with nparts, in
     * order, then cur_parts of the segment being made), its date, the
     * preload hint and the rendition reports. */
    wpart_t *parts;
    int nparts, parts_cap, cur_parts;
    int evicted_parts; /* of the segment the last add reported evicted */
    bool unfinished;   /* the continued text ended with an unfinished
                          segment's parts */
    char cur_date[DATE_MAX];
    char hint[HLS_WRITER_URI_MAX];
    hls_writer_report_t reports[HLS_WRITER_MAX_REPORTS];
    int nreports;
};

static long round_s(double d)
{
    long r = lround(d);
    return r < 1 ? 1 : r;
}

hls_writer_t *hls_writer_new(const hls_writer_opts_t *o)
{
    if (!(o->target_s > 0 && o->target_s <= MAX_TARGET) || o->window < 0 ||
        (o->map_uri && strlen(o->map_uri) >= HLS_WRITER_URI_MAX)) {
        log_error(MOD, "Unusable playlist options.", "target_s=%g window=%d",
                  o->target_s, o->window);
        return NULL;
    }
    hls_writer_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->o = *o;
    if (o->map_uri) {
        snprintf(w->map_uri, sizeof(w->map_uri), "%s", o->map_uri);
        w->o.map_uri = w->map_uri;
    }
    if (!(o->part_target_s >= 0 && o->part_target_s <= o->target_s))
        w->o.part_target_s = 0;
    w->target = round_s(o->target_s);
    return w;
}

void hls_writer_free(hls_writer_t **wp)
{
    hls_writer_t *w = wp ? *wp : NULL;
    if (!w)
        return;
    free(w->seg);
    free(w->parts);
    free(w);
    *wp = NULL;
}

/* Drops the first N listed parts (those of the oldest segment with any). */
static void drop_parts(hls_writer_t *w, int n)
{
    if (n <= 0)
        return;
    w->nparts -= n;
    memmove(w->parts, w->parts + n, (size_t)w->nparts * sizeof(*w->parts));
    for (int i = 0; i < w->n; i++) {
        if (w->seg[i].nparts) {
            w->seg[i].nparts = 0;
            break;
        }
    }
}

/* Parts are listed for the segments of the last three target durations
 * (RFC 8216bis 4.4.4.9) and the one being made; older ones leave. */
static void prune_parts(hls_writer_t *w)
{
    double after = 0; /* from the end of segment i to the playlist's */
    for (int i = w->nparts - w->cur_parts; i < w->nparts; i++)
        after += w->parts[i].duration;
    int keep_from = w->n;
    for (int i = w->n - 1; i >= 0; i--) {
        if (after > 3.0 * (double)w->target)
            break;
        keep_from = i;
        after += w->seg[i].duration;
    }
    for (int i = 0; i < keep_from; i++) {
        if (w->seg[i].nparts)
            drop_parts(w, w->seg[i].nparts);
    }
}

/* Drops the first listed segment: the media sequence goes on, and the
 * discontinuity sequence counts a discontinuity that leaves. */
static void drop_first(hls_writer_t *w, char *evicted, size_t len)
{
    if (evicted && len) {
        snprintf(evicted, len, "%s", w->seg[0].uri);
        w->evicted_parts = w->seg[0].made;
    }
    if (w->seg[0].disc)
        w->disc_seq++;
    drop_parts(w, w->seg[0].nparts);
    w->media_seq++;
    w->n--;
    memmove(w->seg, w->seg + 1, (size_t)w->n * sizeof(*w->seg));
}

/* A live playlist never lasts less than three target durations after a
 * removal (RFC 8216 6.2.2): with short segments (a publisher's early
 * keyframes, the last one before a reconnect) the window lists more. */
static bool may_drop_first(const hls_writer_t *w)
{
    double rest = 0;
    for (int i = 1; i < w->n; i++)
        rest += w->seg[i].duration;
    return rest >= 3.0 * (double)w->target;
}

static int append(hls_writer_t *w, const char *uri, double duration, bool disc,
                  char *evicted, size_t len)
{
    if (!(duration >= 0 && duration < MAX_TARGET) || !uri || !uri[0] ||
        strlen(uri) >= HLS_WRITER_URI_MAX || strchr(uri, '\n'))
        return -EINVAL;
    if (w->n == HLS_WRITER_MAX_SEGMENTS)
        return -ENOBUFS;
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 16;
        if (cap > HLS_WRITER_MAX_SEGMENTS)
            cap = HLS_WRITER_MAX_SEGMENTS;
        wseg_t *s = realloc(w->seg, (size_t)cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        w->seg = s;
        w->cap = cap;
    }
    wseg_t *s = &w->seg[w->n++];
    /* As written (three decimals), so the rounding below is the reader's. */
    s->duration = round(duration * 1000) / 1000;
    s->disc = disc;
    snprintf(s->uri, sizeof(s->uri), "%s", uri);
    snprintf(s->map, sizeof(s->map), "%s", w->o.map_uri ? w->o.map_uri : "");
    snprintf(s->date, sizeof(s->date), "%s", w->cur_date);
    s->nparts = s->made = w->cur_parts;
    w->cur_parts = 0;
    w->cur_date[0] = '\0';
    if (round_s(s->duration) > w->target)
        w->target = round_s(s->duration);
    int dropped = 0;
    while (w->o.window > 0 && w->n > w->o.window && may_drop_first(w)) {
        drop_first(w, dropped ? NULL : evicted, len);
        dropped = 1;
    }
    prune_parts(w);
    return dropped;
}

int hls_writer_add(hls_writer_t *w, const char *uri, double duration, bool disc,
                   char *evicted, size_t len)
{
    int ret = append(w, uri, duration, disc || w->next_disc, evicted, len);
    if (ret >= 0)
        w->next_disc = false;
    return ret;
}

static int push_part(hls_writer_t *w, const char *uri, double duration,
                     bool indep)
{
    if (!(duration > 0 && duration < MAX_TARGET) || !uri || !uri[0] ||
        strlen(uri) >= HLS_WRITER_URI_MAX || strchr(uri, '\n') ||
        strchr(uri, '"'))
        return -EINVAL;
    if (w->cur_parts == HLS_WRITER_MAX_PARTS)
        return -ENOBUFS;
    if (w->nparts == w->parts_cap) {
        int cap = w->parts_cap ? w->parts_cap * 2 : 32;
        wpart_t *p = realloc(w->parts, (size_t)cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        w->parts = p;
        w->parts_cap = cap;
    }
    wpart_t *p = &w->parts[w->nparts++];
    /* As written (five decimals). */
    p->duration = round(duration * 100000) / 100000;
    p->indep = indep;
    snprintf(p->uri, sizeof(p->uri), "%s", uri);
    w->cur_parts++;
    prune_parts(w);
    return 0;
}

int hls_writer_add_part(hls_writer_t *w, const char *uri, double duration,
                        bool independent)
{
    if (w->o.part_target_s <= 0)
        return -EINVAL;
    return push_part(w, uri, duration, independent);
}

bool hls_writer_resumes_unfinished(const hls_writer_t *w)
{
    return w->unfinished;
}

int hls_writer_evicted_parts(const hls_writer_t *w)
{
    return w->evicted_parts;
}

int hls_writer_parts_pending(const hls_writer_t *w)
{
    return w->cur_parts;
}

void hls_writer_set_hint(hls_writer_t *w, const char *uri)
{
    snprintf(w->hint, sizeof(w->hint), "%s",
             uri && !strchr(uri, '"') ? uri : "");
}

void hls_writer_set_reports(hls_writer_t *w, const hls_writer_report_t *r,
                            int n)
{
    w->nreports = n < HLS_WRITER_MAX_REPORTS ? n : HLS_WRITER_MAX_REPORTS;
    memcpy(w->reports, r, (size_t)w->nreports * sizeof(*r));
}

void hls_writer_last_part(const hls_writer_t *w, int64_t *msn, int *part)
{
    if (w->cur_parts) {
        *msn = w->media_seq + w->n;
        *part = w->cur_parts - 1;
    } else if (w->n) {
        *msn = w->media_seq + w->n - 1;
        *part = w->seg[w->n - 1].nparts - 1;
    } else {
        *msn = -1; /* nothing listed */
        *part = -1;
    }
}

void hls_writer_set_map(hls_writer_t *w, const char *uri)
{
    snprintf(w->map_uri, sizeof(w->map_uri), "%s", uri ? uri : "");
    w->o.map_uri = w->map_uri[0] ? w->map_uri : NULL;
}

void hls_writer_set_date(hls_writer_t *w, int64_t unix_us)
{
    w->cur_date[0] = '\0';
    if (unix_us <= 0)
        return;
    time_t sec = (time_t)(unix_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&sec, &tm))
        return;
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(w->cur_date, sizeof(w->cur_date), "%s.%03dZ", day,
             (int)(unix_us % 1000000 / 1000));
}

void hls_writer_min_sequence(hls_writer_t *w, int64_t seq)
{
    if (hls_writer_next_sequence(w) >= seq)
        return;
    /* Listed segments keep their numbers: a jump drops them. */
    while (w->n)
        drop_first(w, NULL, 0);
    w->media_seq = seq;
}

int64_t hls_writer_next_sequence(const hls_writer_t *w)
{
    return w->media_seq + w->n;
}

static bool has_prefix(const char *line, const char *p)
{
    return !strncmp(line, p, strlen(p));
}

/* The value of attribute NAME in a tag line (quotes removed); false when
 * absent or longer than LEN - 1. */
static bool attr_str(const char *line, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    const char *p = strchr(line, ':');
    while (p) {
        p++;
        if (!strncmp(p, name, n) && p[n] == '=') {
            p += n + 1;
            bool q = *p == '"';
            p += q;
            size_t k = q ? strcspn(p, "\"") : strcspn(p, ",");
            if (k >= len)
                return false;
            memcpy(out, p, k);
            out[k] = '\0';
            return true;
        }
        /* the next attribute: past a quoted value's commas */
        bool inq = false;
        for (; *p && (inq || *p != ','); p++)
            inq ^= *p == '"';
        p = *p ? p : NULL;
    }
    return false;
}

/* Lists the parts of the segment being made as a whole segment: its URI
 * is its parts' without the part index ("seg_7_x.3.m4s" -> "seg_7_x.m4s"),
 * its duration theirs; DISC: a discontinuity before it. */
static int complete_parts(hls_writer_t *t, bool disc)
{
    const wpart_t *p = &t->parts[t->nparts - t->cur_parts];
    double d = 0;
    for (int i = 0; i < t->cur_parts; i++)
        d += p[i].duration;
    char uri[HLS_WRITER_URI_MAX];
    const char *ext = strrchr(p->uri, '.');
    const char *k = ext;
    while (k && k > p->uri && k[-1] != '.')
        k--;
    if (!ext || !k || k == p->uri || k == ext)
        return -EINVAL; /* not a part's name: seg_..._tag.K.ext */
    snprintf(uri, sizeof(uri), "%.*s%s", (int)(k - 1 - p->uri), p->uri, ext);
    int ret = append(t, uri, d, disc, NULL, 0);
    if (ret >= 0 && t->tl.known)
        t->tl.end_us += (int64_t)llround(d * 1e6);
    return ret < 0 ? ret : 0;
}

int hls_writer_segment_parts(const hls_writer_t *w, int n, const char **uris,
                             int max)
{
    if (n < 0 || n >= w->n)
        return 0;
    int first = 0;
    for (int i = 0; i < n; i++)
        first += w->seg[i].nparts;
    int k = 0;
    for (; k < w->seg[n].nparts && k < max; k++)
        uris[k] = w->parts[first + k].uri;
    return k;
}

const char *hls_writer_uri(const hls_writer_t *w, int n)
{
    return n >= 0 && n < w->n ? w->seg[n].uri : NULL;
}

int hls_writer_continue(hls_writer_t *w, const char *text)
{
    if (!text || strncmp(text, "#EXTM3U", 7) ||
        strstr(text, "#EXT-X-STREAM-INF"))
        return -EINVAL;
    hls_writer_t *t = hls_writer_new(&w->o); /* parsed into, then taken */
    if (!t)
        return -ENOMEM;
    bool media = false, disc = false;
    double dur = -1;
    int ret = 0;
    for (const char *line = text; *line && ret >= 0;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char l[512];
        if (n >= sizeof(l))
            n = sizeof(l) - 1;
        memcpy(l, line, n);
        l[n] = '\0';
        if (n && l[n - 1] == '\r')
            l[n - 1] = '\0';
        if (has_prefix(l, "#EXT-X-MEDIA-SEQUENCE:")) {
            t->media_seq = strtoll(l + 22, NULL, 10);
            media = true;
        } else if (has_prefix(l, "#EXT-X-DISCONTINUITY-SEQUENCE:")) {
            t->disc_seq = strtoll(l + 30, NULL, 10);
        } else if (has_prefix(l, "#EXT-X-TARGETDURATION:")) {
            long v = strtol(l + 22, NULL, 10);
            if (v > t->target && v <= MAX_TARGET)
                t->target = v;
            media = true;
        } else if (has_prefix(l, "#EXTINF:")) {
            dur = strtod(l + 8, NULL);
            media = true;
        } else if (!strcmp(l, "#EXT-X-DISCONTINUITY")) {
            disc = true;
        } else if (has_prefix(l, "#EXT-X-MAP:")) {
            char uri[HLS_WRITER_URI_MAX];
            if (attr_str(l, "URI", uri, sizeof(uri)))
                hls_writer_set_map(t, uri);
        } else if (has_prefix(l, "#EXT-X-PROGRAM-DATE-TIME:")) {
            snprintf(t->cur_date, sizeof(t->cur_date), "%.*s",
                     (int)sizeof(t->cur_date) - 1, l + 25);
        } else if (has_prefix(l, "#EXT-X-PART:")) {
            char uri[HLS_WRITER_URI_MAX], d[32], ind[8];
            if (attr_str(l, "URI", uri, sizeof(uri)) &&
                attr_str(l, "DURATION", d, sizeof(d)))
                ret = push_part(t, uri, strtod(d, NULL),
                                attr_str(l, "INDEPENDENT", ind, sizeof(ind)) &&
                                    !strcmp(ind, "YES"));
        } else if (has_prefix(l, TIMELINE)) {
            long long off, e;
            unsigned long long src = 0;
            int got = sscanf(l + strlen(TIMELINE),
                             "OFFSET-US=%lld,END-US=%lld,SOURCE=%llx", &off, &e,
                             &src);
            if (got >= 2) {
                t->tl.known = true;
                t->tl.offset_us = off;
                t->tl.end_us = e;
                t->tl.source_id = got == 3 ? (uint64_t)src : 0;
            }
        } else if (!strcmp(l, DONE)) {
            t->prev_done = true;
        } else if (has_prefix(l, RATES)) {
            double peak, sec;
            long long bytes;
            if (sscanf(l + strlen(RATES), "PEAK-BPS=%lf,BYTES=%lld,SECONDS=%lf",
                       &peak, &bytes, &sec) == 3 &&
                peak >= 0 && bytes >= 0 && sec >= 0) {
                t->rates.known = true;
                t->rates.peak_bps = peak;
                t->rates.bytes = bytes;
                t->rates.seconds = sec;
            }
        } else if (l[0] && l[0] != '#' && dur >= 0) {
            ret = append(t, l, dur, disc, NULL, 0);
            dur = -1;
            disc = false;
        }
        line = end ? end + 1 : line + n;
    }
    if (ret < 0 || !media || t->media_seq < 0 || t->disc_seq < 0) {
        hls_writer_free(&t);
        return ret < 0 ? ret : -EINVAL;
    }
    /* A segment the other session did not finish (parts, no EXTINF):
     * players may have played its parts, so it stays as it was, complete
     * now, and this session goes on after it (its end is the timeline's). */
    bool unfinished = t->cur_parts > 0;
    if (unfinished && (ret = complete_parts(t, disc)) < 0) {
        hls_writer_free(&t);
        return ret;
    }
    t->cur_date[0] = '\0';
    char own_map[HLS_WRITER_URI_MAX];
    snprintf(own_map, sizeof(own_map), "%s", w->o.map_uri ? w->map_uri : "");
    free(w->seg);
    free(w->parts);
    *w = *t;
    hls_writer_set_map(w, own_map);
    w->unfinished = unfinished;
    w->next_disc = true;
    free(t);
    return 0;
}

void hls_writer_set_timeline(hls_writer_t *w, int64_t offset_us, int64_t end_us,
                             uint64_t source_id)
{
    w->tl.known = true;
    w->tl.offset_us = offset_us;
    w->tl.end_us = end_us;
    w->tl.source_id = source_id;
}

hls_timeline_t hls_writer_timeline(const hls_writer_t *w)
{
    return w->tl;
}

void hls_writer_set_done(hls_writer_t *w)
{
    w->done = true;
}

bool hls_writer_previous_done(const hls_writer_t *w)
{
    return w->prev_done;
}

void hls_writer_set_rates(hls_writer_t *w, const hls_rates_t *r)
{
    w->rates = *r;
    w->rates.known = true;
}

void hls_rates_advertise(const hls_rates_t *m, double nominal_bps, bool final,
                         int64_t *average, int64_t *bandwidth)
{
    double avg = nominal_bps, peak = nominal_bps * 1.25;
    if (final && m->seconds > 0.5 && m->bytes > 0) {
        avg = m->bytes * 8.0 / m->seconds;
        peak = avg;
    }
    if (m->peak_bps > peak)
        peak = m->peak_bps;
    *average = (int64_t)avg;
    *bandwidth = (int64_t)ceil(peak);
}

hls_rates_t hls_writer_rates(const hls_writer_t *w)
{
    return w->rates;
}

int hls_writer_count(const hls_writer_t *w)
{
    return w->n;
}

double hls_writer_duration(const hls_writer_t *w, int n)
{
    return n >= 0 && n < w->n ? w->seg[n].duration : -1;
}

/* The media tags of one segment (or the one being made) before its
 * parts: the discontinuity, a new init segment, the date. */
static size_t put_seg_head(char *buf, size_t cap, bool disc, const char *map,
                           const char **last_map, const char *date)
{
    size_t o = 0;
    if (disc)
        o += (size_t)snprintf(buf + o, cap - o, "#EXT-X-DISCONTINUITY\n");
    if (map[0] && (!*last_map || strcmp(map, *last_map)))
        o += (size_t)snprintf(buf + o, cap - o, "#EXT-X-MAP:URI=\"%s\"\n", map);
    if (map[0])
        *last_map = map;
    if (date[0])
        o += (size_t)snprintf(buf + o, cap - o, "#EXT-X-PROGRAM-DATE-TIME:%s\n",
                              date);
    return o;
}

static size_t put_parts(char *buf, size_t cap, const wpart_t *p, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(
            buf + o, cap - o, "#EXT-X-PART:DURATION=%.5f,URI=\"%s\"%s\n",
            p[i].duration, p[i].uri, p[i].indep ? ",INDEPENDENT=YES" : "");
    return o;
}

/* The header's low-latency lines: blocking reload, the part hold-back
 * (three part targets, which a player starts behind the newest part),
 * delta updates (RFC 8216bis: at least six target durations). */
static size_t put_ll_head(char *buf, size_t cap, const hls_writer_t *w)
{
    double part = ceil(w->o.part_target_s * 100000) / 100000;
    return (size_t)snprintf(buf, cap,
                            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                            "PART-HOLD-BACK=%.3f,CAN-SKIP-UNTIL=%.1f\n"
                            "#EXT-X-PART-INF:PART-TARGET=%.5f\n",
                            ceil(3 * part * 1000 - 1e-6) / 1000,
                            6.0 * (double)w->target, part);
}

char *hls_writer_text(const hls_writer_t *w, bool endlist, size_t *len)
{
    bool ll = w->o.part_target_s > 0;
    size_t cap = 1024 + (size_t)w->n * (3 * HLS_WRITER_URI_MAX + 96) +
                 (size_t)w->nparts * (HLS_WRITER_URI_MAX + 64) +
                 (size_t)w->nreports * (HLS_WRITER_URI_MAX + 64);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t o = 0;
#define PUT(...) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__)
    /* EXT-X-MAP outside an I-frame playlist needs version 6; decimal
     * EXTINF needs 3; a delta update's EXT-X-SKIP (the origin's) 9. */
    PUT("#EXTM3U\n#EXT-X-VERSION:%d\n", ll ? 9 : w->o.map_uri ? 6 : 3);
    PUT("#EXT-X-TARGETDURATION:%ld\n", w->target);
    if (ll && !endlist)
        o += put_ll_head(buf + o, cap - o, w);
    else if (ll)
        PUT("#EXT-X-PART-INF:PART-TARGET=%.5f\n",
            ceil(w->o.part_target_s * 100000) / 100000);
    PUT("#EXT-X-MEDIA-SEQUENCE:%" PRId64 "\n", w->media_seq);
    PUT("#EXT-X-DISCONTINUITY-SEQUENCE:%" PRId64 "\n", w->disc_seq);
    if (w->o.vod)
        PUT("#EXT-X-PLAYLIST-TYPE:VOD\n");
    PUT("#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (w->tl.known && w->tl.source_id)
        PUT(TIMELINE "OFFSET-US=%" PRId64 ",END-US=%" PRId64
                     ",SOURCE=%016" PRIx64 "\n",
            w->tl.offset_us, w->tl.end_us, w->tl.source_id);
    else if (w->tl.known)
        PUT(TIMELINE "OFFSET-US=%" PRId64 ",END-US=%" PRId64 "\n",
            w->tl.offset_us, w->tl.end_us);
    if (w->rates.known)
        PUT(RATES "PEAK-BPS=%.0f,BYTES=%" PRId64 ",SECONDS=%.3f\n",
            w->rates.peak_bps, w->rates.bytes, w->rates.seconds);
    if (w->done && !endlist)
        PUT(DONE "\n");
    const char *last_map = NULL;
    const wpart_t *part = w->parts;
    for (int i = 0; i < w->n; i++) {
        const wseg_t *s = &w->seg[i];
        o +=
            put_seg_head(buf + o, cap - o, s->disc, s->map, &last_map, s->date);
        if (ll) /* (a plain writer continuing an LL playlist: none) */
            o += put_parts(buf + o, cap - o, part, s->nparts);
        part += s->nparts;
        PUT("#EXTINF:%.3f,\n%s\n", s->duration, s->uri);
    }
    if (ll && !endlist && (w->cur_parts || w->hint[0])) {
        o += put_seg_head(buf + o, cap - o, w->next_disc,
                          w->o.map_uri ? w->map_uri : "", &last_map,
                          w->cur_date);
        o += put_parts(buf + o, cap - o, part, w->cur_parts);
        if (w->hint[0])
            PUT("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s\"\n", w->hint);
    }
    for (int i = 0; ll && !endlist && i < w->nreports; i++) {
        const hls_writer_report_t *r = &w->reports[i];
        PUT("#EXT-X-RENDITION-REPORT:URI=\"%s\",LAST-MSN=%" PRId64, r->uri,
            r->last_msn);
        if (r->last_part >= 0)
            PUT(",LAST-PART=%d", r->last_part);
        PUT("\n");
    }
    if (endlist)
        PUT("#EXT-X-ENDLIST\n");
#undef PUT
    if (len)
        *len = o;
    return buf;
}
