/* Reading m3u8 text: lines, tags and attribute lists, without copying. */
#ifndef PRISM_ORIGIN_M3U8_H
#define PRISM_ORIGIN_M3U8_H

#include <stdbool.h>
#include <stddef.h>

/* One line: s points into the text, len excludes "\n" and "\r\n". */
typedef struct {
    const char *s;
    size_t len;
    size_t off;  /* offset of the line in the text */
    size_t next; /* offset just past its line end */
} origin_m3u8_line_t;

typedef struct {
    const char *text;
    size_t len, pos;
} origin_m3u8_iter_t;

void origin_m3u8_iter_init(origin_m3u8_iter_t *it, const char *text,
                           size_t len);

/* The next line into *l; false at the end of the text. */
bool origin_m3u8_next(origin_m3u8_iter_t *it, origin_m3u8_line_t *l);

/* Whether the line is exactly tag (e.g. "#EXT-X-ENDLIST"). */
bool origin_m3u8_is(const origin_m3u8_line_t *l, const char *tag);

/* Whether the line starts with prefix (e.g. "#EXT-X-MAP:"). */
bool origin_m3u8_starts(const origin_m3u8_line_t *l, const char *prefix);

/*
 * When the line starts with prefix, a pointer just past it (the value runs
 * to the end of the line, l->s + l->len, and is not NUL-terminated);
 * otherwise NULL. Numbers parsed from it with strtod stop at the line end
 * because a line ends in '\n' or the text's end.
 */
const char *origin_m3u8_tag(const origin_m3u8_line_t *l, const char *prefix);

/*
 * Copies the value of attribute name from the line's attribute list (after
 * the first ':') into out, without quotes. Returns 0, -ENOENT when absent,
 * -ENOSPC when it does not fit.
 */
int origin_m3u8_attr(const origin_m3u8_line_t *l, const char *name, char *out,
                     size_t outlen);

/* The attribute as a number, or def when absent or not a number. */
double origin_m3u8_attr_double(const origin_m3u8_line_t *l, const char *name,
                               double def);

#endif
