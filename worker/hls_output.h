/* The HLS output of a transcode session: files, segments, playlists. */
#ifndef PRISM_HLS_OUTPUT_H
#define PRISM_HLS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transcode_int.h"

/*
 * All of these run on the session thread. They return 0 or a negative
 * code (AVERROR, -EIO); a failure of one rendition's own files or muxer
 * drops that rendition (hls_output_rend_fail) and is not returned unless
 * it was the last one. Packets and data passed in are borrowed.
 */

/* Creates the output directory and each rendition's (local output only). */
int hls_output_prepare(transcode_session_t *s);

/* Opens each rendition's media playlist, continued from the output's when
 * s->o.continue_playlists asks; sets the stream's timeline (s->cont,
 * s->tl, s->resume_us) from what is published. */
int hls_output_open_playlists(transcode_session_t *s);

/* Opens every rendition's muxer (the encoders are open), writes the master
 * when it can, and sends the packets that waited for the muxers. */
int hls_output_open_muxers(transcode_session_t *s);

/* Sends a packet (time base TB) to rendition REND or, for audio (REND
 * -1), to every one; before the muxers open it waits in a bounded list. */
int hls_output_emit(transcode_session_t *s, int rend, const AVPacket *pkt,
                    AVRational tb, bool audio);

/* Ends rendition R's output: its last segment and its playlist, with
 * EXT-X-ENDLIST when ENDLIST. */
int hls_output_rend_finish(transcode_session_t *s, rend_t *r, bool endlist);

/* Writes the master playlist: nominal rates, or FINAL: measured ones. */
int hls_output_write_master(transcode_session_t *s, bool final);

/* Writes the master once every video rendition has its codec string and,
 * live, every rendition lists a segment. */
int hls_output_maybe_write_master(transcode_session_t *s);

/* Video rendition REND wrote a keyframe at PTS (source time base); a
 * boundary every rendition has reached completes a segment. */
void hls_output_boundary_reached(transcode_session_t *s, int rend, int64_t pts);

/* Drops rendition I after a failure of its own, REASON naming the call
 * and the error; ends the session (s->fatal) when none is left. */
void hls_output_rend_fail(transcode_session_t *s, int i, const char *reason);

#endif
