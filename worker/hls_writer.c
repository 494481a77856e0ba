/* HLS media playlist writer (RFC 8216): a window of segments, the media
 * and discontinuity sequence numbers, and the stream's timeline. */
#include "hls_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MOD        "hls_writer"
#define TIMELINE   "#PRISM-TIMELINE:"
#define RATES      "#PRISM-RATES:"
#define DONE       "#PRISM-WRITER-DONE"
#define MAX_TARGET 3600

typedef struct {
    double duration;
    bool disc;
    char uri[HLS_WRITER_URI_MAX];
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
    w->target = round_s(o->target_s);
    return w;
}

void hls_writer_free(hls_writer_t **wp)
{
    hls_writer_t *w = wp ? *wp : NULL;
    if (!w)
        return;
    free(w->seg);
    free(w);
    *wp = NULL;
}

/* Drops the first listed segment: the media sequence goes on, and the
 * discontinuity sequence counts a discontinuity that leaves. */
static void drop_first(hls_writer_t *w, char *evicted, size_t len)
{
    if (evicted && len)
        snprintf(evicted, len, "%s", w->seg[0].uri);
    if (w->seg[0].disc)
        w->disc_seq++;
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
    if (round_s(s->duration) > w->target)
        w->target = round_s(s->duration);
    int dropped = 0;
    while (w->o.window > 0 && w->n > w->o.window && may_drop_first(w)) {
        drop_first(w, dropped ? NULL : evicted, len);
        dropped = 1;
    }
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
    free(w->seg);
    *w = *t;
    w->o.map_uri = w->o.map_uri ? w->map_uri : NULL;
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

char *hls_writer_text(const hls_writer_t *w, bool endlist, size_t *len)
{
    size_t cap = 512 + (size_t)w->n * (HLS_WRITER_URI_MAX + 64);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t o = 0;
#define PUT(...) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__)
    /* EXT-X-MAP outside an I-frame playlist needs version 6; decimal
     * EXTINF needs 3. */
    PUT("#EXTM3U\n#EXT-X-VERSION:%d\n", w->o.map_uri ? 6 : 3);
    PUT("#EXT-X-TARGETDURATION:%ld\n", w->target);
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
    if (w->o.map_uri)
        PUT("#EXT-X-MAP:URI=\"%s\"\n", w->o.map_uri);
    for (int i = 0; i < w->n; i++) {
        if (w->seg[i].disc)
            PUT("#EXT-X-DISCONTINUITY\n");
        PUT("#EXTINF:%.3f,\n%s\n", w->seg[i].duration, w->seg[i].uri);
    }
    if (endlist)
        PUT("#EXT-X-ENDLIST\n");
#undef PUT
    if (len)
        *len = o;
    return buf;
}
