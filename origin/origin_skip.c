/* Playlist Delta Updates: older segments replaced by one EXT-X-SKIP. */
#include "origin_skip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin_m3u8.h"
#include "origin_playlist.h"

typedef enum {
    L_KEEP,   /* playlist tag, comment, date range, blank: always kept */
    L_SEGTAG, /* a Media Segment tag: goes with its segment */
    L_MAP,    /* EXT-X-MAP: goes, but may be written again */
    L_KEY,    /* EXT-X-KEY: likewise */
    L_URI,    /* the URI line that ends a segment */
} line_kind_t;

static line_kind_t kind_of(const origin_m3u8_line_t *l)
{
    static const char *const playlist_tags[] = {
        "#EXTM3U",
        "#EXT-X-VERSION",
        "#EXT-X-TARGETDURATION",
        "#EXT-X-MEDIA-SEQUENCE",
        "#EXT-X-DISCONTINUITY-SEQUENCE",
        "#EXT-X-PLAYLIST-TYPE",
        "#EXT-X-SERVER-CONTROL",
        "#EXT-X-PART-INF",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-START",
        "#EXT-X-DEFINE",
        "#EXT-X-ENDLIST",
        "#EXT-X-I-FRAMES-ONLY",
        "#EXT-X-ALLOW-CACHE",
        "#EXT-X-DATERANGE",
    };
    if (l->len == 0)
        return L_KEEP;
    if (l->s[0] != '#')
        return L_URI;
    if (!origin_m3u8_starts(l, "#EXT"))
        return L_KEEP; /* a comment */
    if (origin_m3u8_starts(l, "#EXT-X-MAP:"))
        return L_MAP;
    if (origin_m3u8_starts(l, "#EXT-X-KEY:"))
        return L_KEY;
    for (size_t i = 0; i < sizeof(playlist_tags) / sizeof(playlist_tags[0]);
         i++) {
        size_t n = strlen(playlist_tags[i]);
        if (l->len >= n && !memcmp(l->s, playlist_tags[i], n) &&
            (l->len == n || l->s[n] == ':'))
            return L_KEEP;
    }
    return L_SEGTAG;
}

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_line(sbuf_t *b, const origin_m3u8_line_t *l)
{
    put(b, l->s, l->len);
    put(b, "\n", 1);
}

/* How many leading segments end more than until s before the last end. */
static int count_skippable(const char *text, size_t len, double total,
                           double until)
{
    origin_m3u8_iter_t it;
    origin_m3u8_line_t l;
    double end = 0, extinf = 0;
    int n = 0;
    origin_m3u8_iter_init(&it, text, len);
    while (origin_m3u8_next(&it, &l)) {
        const char *v = origin_m3u8_tag(&l, "#EXTINF:");
        if (v)
            extinf = strtod(v, NULL);
        else if (kind_of(&l) == L_URI) {
            end += extinf;
            extinf = 0;
            if (total - end > until + 1e-6)
                n++;
            else
                break;
        }
    }
    return n;
}

int origin_skip_rewrite(const char *text, size_t len, bool v2, char **out,
                        size_t *outlen, int *skipped)
{
    (void)v2; /* v2 answers like v1: see origin_skip.h */
    *out = NULL;
    *outlen = 0;
    *skipped = 0;
    origin_playlist_t p;
    if (origin_playlist_parse(text, len, &p) < 0 || p.can_skip_until <= 0)
        return 0;
    int n = count_skippable(text, len, p.duration, p.can_skip_until);
    if (n <= 0)
        return 0;
    sbuf_t b = {0};
    origin_m3u8_iter_t it;
    origin_m3u8_line_t l, map = {0}, key = {0};
    int seen = 0;         /* URI lines passed */
    bool in_first = true; /* before the first segment tag or URI */
    bool wrote_skip = false, own_map = false, own_key = false;
    size_t kept_from = 0; /* offset where the kept segments start */
    origin_m3u8_iter_init(&it, text, len);
    while (origin_m3u8_next(&it, &l)) {
        line_kind_t k = kind_of(&l);
        if (seen >= n) {
            kept_from = l.off;
            break;
        }
        if (k == L_KEEP) {
            put_line(&b, &l);
            continue;
        }
        if (in_first || !wrote_skip) {
            char s[64];
            int sl =
                snprintf(s, sizeof(s), "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", n);
            put(&b, s, (size_t)sl);
            wrote_skip = true;
            in_first = false;
        }
        if (k == L_MAP)
            map = l;
        else if (k == L_KEY)
            key = l;
        else if (k == L_URI)
            seen++;
        kept_from = l.next;
    }
    /* Does the first kept segment carry its own MAP or KEY? */
    origin_m3u8_iter_init(&it, text, len);
    it.pos = kept_from;
    while (origin_m3u8_next(&it, &l)) {
        line_kind_t k = kind_of(&l);
        if (k == L_URI)
            break;
        own_map |= k == L_MAP;
        own_key |= k == L_KEY;
    }
    if (key.s && !own_key)
        put_line(&b, &key);
    if (map.s && !own_map)
        put_line(&b, &map);
    if (kept_from < len)
        put(&b, text + kept_from, len - kept_from);
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *outlen = b.len;
    *skipped = n;
    return 0;
}
