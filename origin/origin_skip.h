/* Playlist Delta Updates: older segments replaced by one EXT-X-SKIP. */
#ifndef PRISM_ORIGIN_SKIP_H
#define PRISM_ORIGIN_SKIP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The Playlist Delta Update (RFC 8216bis 4.4.5.2, 6.2.5.1) of the media
 * playlist text (len bytes), for _HLS_skip=YES (v2 = false) or v2:
 *
 *  - The Skip Boundary: the oldest complete segments whose end lies more
 *    than CAN-SKIP-UNTIL seconds before the end of the last complete
 *    segment are skipped; they are a prefix of the playlist.
 *  - Their Media Segment tags (EXTINF, the URI line, EXT-X-PART,
 *    EXT-X-PROGRAM-DATE-TIME, EXT-X-DISCONTINUITY, EXT-X-BYTERANGE,
 *    EXT-X-GAP, EXT-X-BITRATE, EXT-X-MAP, EXT-X-KEY) go, replaced by
 *    "#EXT-X-SKIP:SKIPPED-SEGMENTS=N" where the first of them was.
 *    Playlist tags (EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE
 *    unchanged: the skipped segments still count), comments (#PRISM-...)
 *    and EXT-X-DATERANGE tags stay: v1 may not skip date ranges, and v2
 *    may but need not (this origin keeps no history of removed ones to
 *    fill RECENTLY-REMOVED-DATERANGES with), so v2 answers like v1.
 *  - The EXT-X-MAP (and EXT-X-KEY) in effect at the boundary is written
 *    again after the EXT-X-SKIP line when the first segment kept has none
 *    of its own, so the segments after the boundary still name their
 *    initialisation section.
 *
 * On success *out is a malloc'd text (caller frees), *outlen its length,
 * *skipped the count. When nothing can be skipped (no CAN-SKIP-UNTIL, or
 * no segment old enough) returns 0 with *out = NULL: answer the playlist
 * as it is (a full playlist is a valid answer to _HLS_skip). -ENOMEM.
 */
int origin_skip_rewrite(const char *text, size_t len, bool v2, char **out,
                        size_t *outlen, int *skipped);

#endif
