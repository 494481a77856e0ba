/* What the origin reads from a media playlist, and the blocking rules. */
#include "origin_playlist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin_m3u8.h"

int origin_playlist_parse(const char *text, size_t len, origin_playlist_t *out)
{
    memset(out, 0, sizeof(*out));
    origin_m3u8_iter_t it;
    origin_m3u8_iter_init(&it, text, len);
    origin_m3u8_line_t l;
    if (!origin_m3u8_next(&it, &l) || !origin_m3u8_is(&l, "#EXTM3U"))
        return -EINVAL;
    int parts = 0;
    double extinf = 0;
    while (origin_m3u8_next(&it, &l)) {
        if (l.len == 0)
            continue;
        if (l.s[0] != '#') { /* a URI line: a complete segment */
            out->nsegments++;
            out->duration += extinf;
            out->last_parts = parts;
            parts = 0;
            extinf = 0;
            continue;
        }
        const char *v;
        if ((v = origin_m3u8_tag(&l, "#EXTINF:")))
            extinf = strtod(v, NULL);
        else if ((v = origin_m3u8_tag(&l, "#EXT-X-PART:")))
            parts++;
        else if ((v = origin_m3u8_tag(&l, "#EXT-X-TARGETDURATION:")))
            out->target_duration = strtod(v, NULL);
        else if ((v = origin_m3u8_tag(&l, "#EXT-X-MEDIA-SEQUENCE:")))
            out->media_sequence = strtoll(v, NULL, 10);
        else if ((v = origin_m3u8_tag(&l, "#EXT-X-PART-INF:")))
            out->part_target = origin_m3u8_attr_double(&l, "PART-TARGET", 0);
        else if ((v = origin_m3u8_tag(&l, "#EXT-X-SERVER-CONTROL:"))) {
            char b[8];
            out->can_block_reload =
                origin_m3u8_attr(&l, "CAN-BLOCK-RELOAD", b, sizeof(b)) == 0 &&
                !strcmp(b, "YES");
            out->can_skip_until =
                origin_m3u8_attr_double(&l, "CAN-SKIP-UNTIL", 0);
            out->can_skip_dateranges =
                origin_m3u8_attr(&l, "CAN-SKIP-DATERANGES", b, sizeof(b)) ==
                    0 &&
                !strcmp(b, "YES");
        } else if ((v = origin_m3u8_tag(&l, "#EXT-X-PRELOAD-HINT:"))) {
            char type[16];
            if (origin_m3u8_attr(&l, "TYPE", type, sizeof(type)) == 0 &&
                !strcmp(type, "PART") &&
                origin_m3u8_attr(&l, "URI", out->preload_hint,
                                 sizeof(out->preload_hint)) < 0)
                out->preload_hint[0] = '\0';
        } else if (origin_m3u8_is(&l, "#EXT-X-ENDLIST"))
            out->endlist = true;
        else if (origin_m3u8_tag(&l, "#EXT-X-STREAM-INF:"))
            return -EINVAL;
    }
    if (out->nsegments == 0)
        out->last_parts = 0;
    out->last_msn = out->media_sequence + out->nsegments - 1;
    out->next_msn = out->last_msn + 1;
    out->next_parts = parts;
    return 0;
}

/* A decimal integer >= 0 and nothing else. */
static int parse_count(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return -EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    *out = strtoll(s, NULL, 10);
    return 0;
}

int origin_query_parse(const char *msn, const char *part, const char *skip,
                       origin_query_t *q)
{
    q->msn = q->part = -1;
    q->skip = 0;
    if (msn && parse_count(msn, &q->msn) < 0)
        return -EINVAL;
    if (part && (!msn || parse_count(part, &q->part) < 0))
        return -EINVAL;
    if (skip) {
        if (!strcmp(skip, "YES"))
            q->skip = 1;
        else if (!strcmp(skip, "v2"))
            q->skip = 2;
        else
            return -EINVAL;
    }
    return 0;
}

bool origin_playlist_ready(const origin_playlist_t *p, int64_t msn,
                           int64_t part)
{
    if (p->endlist)
        return true;
    if (part < 0)
        return p->last_msn >= msn;
    if (msn < p->last_msn)
        return true; /* a later segment is complete */
    if (msn == p->last_msn) {
        /* Parts no longer listed, or this part listed: it is there. Past
         * its last part: the first part of the next segment. */
        if (p->last_parts == 0 || part < p->last_parts)
            return true;
        return p->next_parts > 0;
    }
    if (msn == p->next_msn)
        return part < p->next_parts;
    return false;
}

bool origin_playlist_too_far(const origin_playlist_t *p, int64_t msn,
                             int64_t part)
{
    if (msn > p->last_msn + 2)
        return true;
    if (part >= 0 && msn == p->next_msn) {
        double limit = p->part_target > 0 && p->part_target < 1
                           ? floor(3.0 / p->part_target)
                           : 3;
        if ((double)part > (double)(p->next_parts - 1) + limit)
            return true;
    }
    return false;
}

int64_t origin_playlist_hold_ms(const origin_playlist_t *p, int64_t cap_ms)
{
    if (p->target_duration <= 0)
        return cap_ms;
    int64_t ms = (int64_t)(p->target_duration * 3000.0);
    return ms < cap_ms ? ms : cap_ms;
}

int origin_resolve_uri(const char *playlist_path, const char *uri, char *out,
                       size_t outlen)
{
    size_t ul = strcspn(uri, "?#");
    if (ul == 0 || memchr(uri, ':', ul))
        return -EINVAL; /* empty, or absolute with a scheme */
    char buf[1024];
    int n;
    if (uri[0] == '/') {
        n = snprintf(buf, sizeof(buf), "%.*s", (int)ul, uri);
    } else {
        const char *slash = strrchr(playlist_path, '/');
        int dl = slash ? (int)(slash - playlist_path) : 0;
        n = snprintf(buf, sizeof(buf), "%.*s/%.*s", dl, playlist_path, (int)ul,
                     uri);
    }
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -EINVAL;
    /* Normalise "." and ".." segments. */
    size_t o = 0;
    char *save = NULL;
    for (char *seg = strtok_r(buf, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save)) {
        if (!strcmp(seg, "."))
            continue;
        if (!strcmp(seg, "..")) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        size_t sl = strlen(seg);
        if (o + 1 + sl + 1 > outlen)
            return -EINVAL;
        out[o++] = '/';
        memcpy(out + o, seg, sl);
        o += sl;
    }
    if (o == 0) {
        if (outlen < 2)
            return -EINVAL;
        out[o++] = '/';
    }
    out[o] = '\0';
    return 0;
}
