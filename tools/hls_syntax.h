/* RFC 8216 syntax: playlist lines, tags, values and attribute lists. */
#ifndef PRISM_HLS_SYNTAX_H
#define PRISM_HLS_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line read whole; a longer one is cut (and flagged). */
#define HLS_LINE_MAX 4096

/* A walk over a playlist's lines: set p to the text, no and truncated to
 * 0; no is the number of the line last read. */
typedef struct {
    const char *p;
    int no;
    bool truncated; /* the line last read was longer than the buffer */
} hls_lines_t;

/* Copies the next line (without CR LF) into buf[len]; false at the end. */
bool hls_next_line(hls_lines_t *it, char *buf, size_t len);

/* Whether line is tag, alone or followed by ':'. */
bool hls_is_tag(const char *line, const char *tag);

/* What follows a tag's ':', or NULL without one. */
const char *hls_tag_value(const char *line);

/* decimal-integer (4.2): 0-9 digits, at most 19 of them. */
bool hls_parse_int(const char *s, long long *out);

/* decimal-floating-point (4.2) in s[n]: digits with an optional fraction;
 * *is_int says whether there was none. */
bool hls_parse_float(const char *s, size_t n, double *out, bool *is_int);

/* One attribute of an attribute-list. */
typedef struct {
    char name[64];
    char value[512]; /* without the quotes of a quoted-string */
    bool quoted;
} hls_attr_t;

/* Parses the attribute-list s (4.2) into a[max]. Returns the count, or -1
 * with the reason in why[whylen]. */
int hls_parse_attrs(const char *s, hls_attr_t *a, int max, char *why,
                    size_t whylen);

/* The attribute called name among a[n], or NULL. */
const hls_attr_t *hls_attr_get(const hls_attr_t *a, int n, const char *name);

#endif
