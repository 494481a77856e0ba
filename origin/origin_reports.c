/* Rendition reports written again from the playlists in the store. */
#include "origin_reports.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin_m3u8.h"

#define TAG "#EXT-X-RENDITION-REPORT:"

origin_report_t origin_report_of(const origin_playlist_t *p)
{
    if (p->next_parts > 0)
        return (origin_report_t){p->next_msn, p->next_parts - 1};
    return (origin_report_t){p->last_msn, p->last_parts - 1};
}

/* The report line for uri and r into out (at most cap bytes, no NUL);
 * its length, or 0 when it does not fit. */
static size_t report_line(const char *uri, origin_report_t r, char *out,
                          size_t cap)
{
    char line[1200];
    int n = snprintf(line, sizeof(line), TAG "URI=\"%s\",LAST-MSN=%" PRId64,
                     uri, r.last_msn);
    if (n > 0 && r.last_part >= 0 && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, ",LAST-PART=%" PRId64,
                      r.last_part);
    if (n <= 0 || (size_t)n >= sizeof(line) || (size_t)n > cap)
        return 0;
    memcpy(out, line, (size_t)n);
    return (size_t)n;
}

int origin_reports_rewrite(const char *path, const char *text, size_t len,
                           origin_report_lookup_t lookup, void *ctx, char **out,
                           size_t *outlen)
{
    *out = NULL;
    origin_m3u8_iter_t it;
    origin_m3u8_line_t l;
    char *buf = NULL;
    size_t o = 0, cap = 0, copied = 0; /* text copied up to here */
    origin_m3u8_iter_init(&it, text, len);
    while (origin_m3u8_next(&it, &l)) {
        char uri[1024], abs[1024];
        origin_report_t r;
        if (!origin_m3u8_starts(&l, TAG) ||
            origin_m3u8_attr(&l, "URI", uri, sizeof(uri)) < 0 ||
            origin_resolve_uri(path, uri, abs, sizeof(abs)) < 0 ||
            !lookup(ctx, abs, &r))
            continue;
        if (!buf) {
            cap = len + 1024;
            if (!(buf = malloc(cap)))
                return -ENOMEM;
        }
        size_t keep = l.off - copied;
        if (o + keep + l.len + 1200 > cap) {
            size_t ncap = 2 * cap + keep + l.len + 1200;
            char *n = realloc(buf, ncap);
            if (!n) {
                free(buf);
                return -ENOMEM;
            }
            buf = n;
            cap = ncap;
        }
        memcpy(buf + o, text + copied, keep);
        o += keep;
        size_t n = report_line(uri, r, buf + o, cap - o);
        if (!n) { /* an odd URI: the line as it was */
            memcpy(buf + o, l.s, l.len);
            n = l.len;
        }
        o += n;
        copied = l.off + l.len; /* its line end follows from the text */
    }
    if (!buf)
        return 0;
    size_t rest = len - copied;
    if (o + rest > cap) {
        char *n = realloc(buf, o + rest + 1);
        if (!n) {
            free(buf);
            return -ENOMEM;
        }
        buf = n;
    }
    memcpy(buf + o, text + copied, rest);
    *out = buf;
    *outlen = o + rest;
    return 0;
}
