/* Reading m3u8 text: lines, tags and attribute lists, without copying. */
#include "origin_m3u8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void origin_m3u8_iter_init(origin_m3u8_iter_t *it, const char *text, size_t len)
{
    it->text = text;
    it->len = len;
    it->pos = 0;
}

bool origin_m3u8_next(origin_m3u8_iter_t *it, origin_m3u8_line_t *l)
{
    if (it->pos >= it->len)
        return false;
    const char *s = it->text + it->pos;
    const char *nl = memchr(s, '\n', it->len - it->pos);
    size_t n = nl ? (size_t)(nl - s) : it->len - it->pos;
    l->s = s;
    l->off = it->pos;
    l->next = it->pos + n + (nl ? 1 : 0);
    if (n > 0 && s[n - 1] == '\r')
        n--;
    l->len = n;
    it->pos = l->next;
    return true;
}

bool origin_m3u8_is(const origin_m3u8_line_t *l, const char *tag)
{
    size_t n = strlen(tag);
    return l->len == n && !memcmp(l->s, tag, n);
}

bool origin_m3u8_starts(const origin_m3u8_line_t *l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l->len >= n && !memcmp(l->s, prefix, n);
}

const char *origin_m3u8_tag(const origin_m3u8_line_t *l, const char *prefix)
{
    return origin_m3u8_starts(l, prefix) ? l->s + strlen(prefix) : NULL;
}

int origin_m3u8_attr(const origin_m3u8_line_t *l, const char *name, char *out,
                     size_t outlen)
{
    const char *p = memchr(l->s, ':', l->len);
    const char *end = l->s + l->len;
    size_t nl = strlen(name);
    if (!p)
        return -ENOENT;
    p++;
    while (p < end) {
        /* p is at the start of NAME=VALUE */
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return -ENOENT;
        bool match = (size_t)(eq - p) == nl && !memcmp(p, name, nl);
        const char *v = eq + 1, *ve;
        if (v < end && *v == '"') {
            v++;
            ve = memchr(v, '"', (size_t)(end - v));
            if (!ve)
                ve = end;
            p = ve < end ? ve + 1 : end;
        } else {
            ve = memchr(v, ',', (size_t)(end - v));
            if (!ve)
                ve = end;
            p = ve;
        }
        if (match) {
            size_t vl = (size_t)(ve - v);
            if (vl + 1 > outlen)
                return -ENOSPC;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        while (p < end && *p == ',')
            p++;
    }
    return -ENOENT;
}

double origin_m3u8_attr_double(const origin_m3u8_line_t *l, const char *name,
                               double def)
{
    char b[64];
    if (origin_m3u8_attr(l, name, b, sizeof(b)) < 0)
        return def;
    char *e;
    double d = strtod(b, &e);
    return e == b ? def : d;
}
