/* A stream that changes session: the playlists and master the session
 * before wrote, read back and continued, and a moved session's yield. */
#ifndef PRISM_HLS_HANDOVER_H
#define PRISM_HLS_HANDOVER_H

#include <stdbool.h>

#include "transcode_int.h"

/*
 * How this works. A session that continues a stream (a take-over, a
 * restart, a move: Assign.continue_playlists) reads each rendition's
 * playlist from the output and goes on from it (hls_handover_continue),
 * and the master's codecs, so that it declares what the segments still
 * listed need (hls_handover_master_codecs). Before its first segment it
 * reads the playlist again (hls_handover_recheck: the session before may
 * still have listed one more). The session it took over from, meanwhile,
 * stops writing a rendition once this one lists past it
 * (hls_handover_yielded). The session's thread calls all of these; they
 * read the output (a directory or the origin) and block on it.
 */

/* A take-over or restart: continues the rendition's playlist where the
 * output already has one. */
void hls_handover_continue(transcode_session_t *s, rend_t *r);

/* Before a continued rendition's first segment: reads its playlist again
 * and goes on after what another session listed since. *DONE: that
 * session said it was done with it. Returns whether it changed. */
bool hls_handover_recheck(transcode_session_t *s, rend_t *r, bool *done);

/* A continued stream: the video codec its master lists for each
 * continued rendition (rend_t.prev_vcodec). */
void hls_handover_master_codecs(transcode_session_t *s);

/* A handed-over session (the stream moved): whether another session lists
 * the rendition's segments now, so this one must write nothing more of
 * it. */
bool hls_handover_yielded(transcode_session_t *s, rend_t *r);

#endif
