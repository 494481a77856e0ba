/* Low-Latency HLS parts: names, segment dates, when a part ends, and the
 * rendition reports; the decisions and names hls_output.c publishes by. */
#ifndef PRISM_HLS_PARTS_H
#define PRISM_HLS_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hls_writer.h"
#include "transcode_int.h"

/*
 * File names (relative to the rendition's directory). A session names
 * its fMP4 init segment and, with parts, its segments and parts with a
 * tag of its own (s->tag), so that a stream continued by another session
 * (a take-over makes the unfinished segment again) never reuses a name
 * for other bytes, which caches and players may hold:
 *   init_<tag>.mp4, seg_<seq>_<tag>.m4s, seg_<seq>_<tag>.<k>.m4s
 * Without parts segments keep seg_<seq>.ts or seg_<seq>.m4s.
 */
void hls_parts_new_tag(transcode_session_t *s);
void hls_parts_init_name(const transcode_session_t *s, char *out, size_t len);
void hls_parts_segment_name(const transcode_session_t *s, int64_t seq,
                            char *out, size_t len);
void hls_parts_part_name(const transcode_session_t *s, int64_t seq, int k,
                         char *out, size_t len);

/* Whether low-latency parts are made (live fMP4 with a part target). */
bool hls_parts_on(const transcode_session_t *s);

/*
 * Whether the part that began at START_US ends before a frame at OUT_US
 * lasting DUR_US (output microseconds): the frame would take it past
 * TARGET_US. A part has at least one frame.
 */
bool hls_parts_due(int64_t start_us, int64_t out_us, int64_t dur_us,
                   int64_t target_us);

/*
 * Segment dates (EXT-X-PROGRAM-DATE-TIME). hls_parts_note_date keeps the
 * wall clock (Unix us) at which the frame at output time OUT_US reached
 * the ingest (the last few boundaries); hls_parts_date gives the date of
 * output time OUT_US: exact for a noted frame, so every rendition's
 * segment starting there says the same date, else counted from the
 * nearest noted frame before it (or after it). 0 when none was noted.
 */
void hls_parts_note_date(transcode_session_t *s, int64_t out_us,
                         int64_t unix_us);
int64_t hls_parts_date(const transcode_session_t *s, int64_t out_us);

/* The EXT-X-RENDITION-REPORT lines of rendition R's playlist: every other
 * rendition still running. Returns how many were written into OUT. */
int hls_parts_reports(const transcode_session_t *s, const rend_t *r,
                      hls_writer_report_t *out, int max);

#endif
