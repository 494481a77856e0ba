/* Rendition reports as the origin knows them: each EXT-X-RENDITION-REPORT
 * of a playlist it serves names the other rendition's newest segment and
 * part in the store at that moment. */
#ifndef PRISM_ORIGIN_REPORTS_H
#define PRISM_ORIGIN_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "origin_playlist.h"
#include "origin_store.h" /* origin_report_t */

/* The report of playlist p: the segment being written when it has parts
 * listed, else the last complete one and its last part. */
origin_report_t origin_report_of(const origin_playlist_t *p);

/* The report of the playlist stored at path (absolute), or false. */
typedef bool (*origin_report_lookup_t)(void *ctx, const char *path,
                                       origin_report_t *out);

/*
 * text (len bytes), served at path, with each EXT-X-RENDITION-REPORT line
 * that names a playlist lookup knows (its URI resolved against path)
 * written again with that playlist's LAST-MSN and LAST-PART; other lines
 * as they are. On success *out is a malloc'd text (caller frees) and
 * *outlen its length, or *out is NULL when no report names a playlist
 * lookup knows (serve the text as it is). -ENOMEM.
 */
int origin_reports_rewrite(const char *path, const char *text, size_t len,
                           origin_report_lookup_t lookup, void *ctx, char **out,
                           size_t *outlen);

#endif
