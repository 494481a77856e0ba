/* RFC 8216 syntax: playlist lines, tags, values and attribute lists. */
#include "hls_syntax.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool hls_next_line(hls_lines_t *it, char *buf, size_t len)
{
    if (!*it->p)
        return false;
    const char *e = strchr(it->p, '\n');
    size_t n = e ? (size_t)(e - it->p) : strlen(it->p);
    const char *next = e ? e + 1 : it->p + n;
    if (n && it->p[n - 1] == '\r')
        n--;
    it->truncated = n >= len;
    if (n >= len)
        n = len - 1;
    memcpy(buf, it->p, n);
    buf[n] = 0;
    it->p = next;
    it->no++;
    return true;
}

bool hls_is_tag(const char *line, const char *tag)
{
    size_t n = strlen(tag);
    return !strncmp(line, tag, n) && (line[n] == 0 || line[n] == ':');
}

const char *hls_tag_value(const char *line)
{
    const char *c = strchr(line, ':');
    return c ? c + 1 : NULL;
}

/* At most 19 digits: every such number fits a long long. */
bool hls_parse_int(const char *s, long long *out)
{
    size_t n = strlen(s);
    if (!n || n > 19 || strspn(s, "0123456789") != n)
        return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

/* decimal-floating-point: digits with an optional fraction. */
bool hls_parse_float(const char *s, size_t n, double *out, bool *is_int)
{
    size_t i = 0, digits = 0;
    while (i < n && isdigit((unsigned char)s[i]))
        i++, digits++;
    *is_int = true;
    if (i < n && s[i] == '.') {
        *is_int = false;
        i++;
        while (i < n && isdigit((unsigned char)s[i]))
            i++, digits++;
    }
    if (i != n || !digits)
        return false;
    char tmp[64];
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return true;
}

/* attribute-list (RFC 8216 4.2): AttributeName=AttributeValue pairs
 * separated by commas; names [A-Z0-9-]; values a quoted string (no CR, LF
 * or "), or an unquoted token without quotes, commas or whitespace; no
 * name twice. Returns the count, or -1 with a reason in why. */
int hls_parse_attrs(const char *s, hls_attr_t *a, int max, char *why,
                    size_t whylen)
{
    int n = 0;
    if (!s || !*s) {
        snprintf(why, whylen, "empty attribute-list");
        return -1;
    }
    while (*s) {
        if (n == max) {
            snprintf(why, whylen, "more than %d attributes", max);
            return -1;
        }
        size_t nl = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
        if (!nl || s[nl] != '=' || nl >= sizeof(a[n].name)) {
            snprintf(why, whylen, "bad attribute name at \"%.20s\"", s);
            return -1;
        }
        memcpy(a[n].name, s, nl);
        a[n].name[nl] = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(a[i].name, a[n].name)) {
                snprintf(why, whylen, "attribute %s appears twice", a[n].name);
                return -1;
            }
        s += nl + 1;
        size_t vl;
        if (*s == '"') {
            const char *q = strchr(s + 1, '"');
            if (!q) {
                snprintf(why, whylen, "unterminated quoted string in %s",
                         a[n].name);
                return -1;
            }
            vl = (size_t)(q - s - 1);
            if (vl >= sizeof(a[n].value)) {
                snprintf(why, whylen, "value of %s too long", a[n].name);
                return -1;
            }
            memcpy(a[n].value, s + 1, vl);
            a[n].quoted = true;
            s = q + 1;
        } else {
            vl = strcspn(s, ",");
            if (!vl || vl >= sizeof(a[n].value) || strcspn(s, "\" \t") < vl) {
                snprintf(why, whylen, "bad value of %s", a[n].name);
                return -1;
            }
            memcpy(a[n].value, s, vl);
            a[n].quoted = false;
            s += vl;
        }
        a[n].value[vl] = 0;
        n++;
        if (*s == ',') {
            s++;
            if (!*s) {
                snprintf(why, whylen, "trailing comma");
                return -1;
            }
        } else if (*s) {
            snprintf(why, whylen, "no comma after %s", a[n - 1].name);
            return -1;
        }
    }
    return n;
}

const hls_attr_t *hls_attr_get(const hls_attr_t *a, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].name, name))
            return &a[i];
    return NULL;
}
