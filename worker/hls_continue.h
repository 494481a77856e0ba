/* The output's playlists read back, for a worker that continues a stream. */
#ifndef PRISM_HLS_CONTINUE_H
#define PRISM_HLS_CONTINUE_H

#include <stdbool.h>
#include <stdint.h>

#include "ladder.h"
#include "origin.h"

/*
 * A stream that moves to another worker (a move, a failover, a restart)
 * keeps its playlists: before its session starts, the new worker reads
 * each rendition's media playlist back from the output (origin_read_text)
 * to learn the sequence number its next segment must get. The session
 * itself then continues each playlist (hls_output.c, hls_writer.c).
 */

/*
 * Reads a live media playlist: *next = EXT-X-MEDIA-SEQUENCE + segments
 * listed, the sequence number the next segment must get. Returns 0, or
 * -ENOENT when the text is not a media playlist.
 */
int hls_continue_playlist_next(const char *text, uint64_t *next);

/*
 * Where a stream's playlists stand at OUTPUT (a directory or origin URL,
 * <output>/<rendition>/index.m3u8 for each named rung of PROFILE): *next,
 * the next sequence number over every rendition (segments are aligned, so
 * they agree up to a segment in flight); an origin is read with ACCESS
 * (NULL: none). Returns true when any playlist exists. Blocking (reads the
 * output); any thread.
 */
bool hls_continue_next_sequence(const char *output,
                                const ladder_profile_t *profile,
                                const origin_access_t *access, uint64_t *next);

#endif
