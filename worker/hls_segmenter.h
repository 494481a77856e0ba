/* HLS segmenter: one rendition's MPEG-TS or fMP4 muxer, whose output is
 * cut into whole segments in memory on the caller's command. */
#ifndef PRISM_HLS_SEGMENTER_H
#define PRISM_HLS_SEGMENTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

typedef struct hls_segmenter hls_segmenter_t;

/* A segmenter for NAME (copied; log lines) writing MPEG-TS, or fMP4 when
 * FMP4. NULL on allocation failure (logged). */
hls_segmenter_t *hls_segmenter_new(const char *name, bool fmp4);

/* Frees the segmenter and its muxer; sets *sp to NULL; accepts NULL. */
void hls_segmenter_free(hls_segmenter_t **sp);

/* The muxer, to add streams to before hls_segmenter_start (borrowed). */
AVFormatContext *hls_segmenter_mux(hls_segmenter_t *s);

/*
 * Writes the header. For fMP4 the init segment's bytes come back in
 * *init (av_malloc'd, the caller frees with av_free) and *len; for TS
 * *init is NULL. Returns 0 or a negative AVERROR (logged).
 */
int hls_segmenter_start(hls_segmenter_t *s, uint8_t **init, size_t *len);

/* Writes PKT (time base of its stream, stream_index set; borrowed) into
 * the current segment. Returns 0 or a negative AVERROR (logged). */
int hls_segmenter_write(hls_segmenter_t *s, AVPacket *pkt);

/*
 * Ends the current segment: everything written so far, buffered data
 * flushed, comes back in *data (av_malloc'd; NULL with *len 0 when the
 * segment is empty) and the next packet starts a new segment (TS: with
 * PAT and PMT again). FINAL: the muxer's trailer too (it is not part of
 * the segment); no write may follow. Returns 0 or a negative AVERROR.
 */
int hls_segmenter_cut(hls_segmenter_t *s, bool final, uint8_t **data,
                      size_t *len);

/*
 * fMP4: ends the current part of the segment: the packets written since
 * the last part become one fragment (moof, mdat), whose bytes come back in
 * *data (borrowed: valid until the next call on S) and *len (NULL and 0
 * when nothing was written since). The segment hls_segmenter_cut returns
 * is its parts, in order. Returns 0 or a negative AVERROR (logged).
 */
int hls_segmenter_cut_part(hls_segmenter_t *s, const uint8_t **data,
                           size_t *len);

/* Bytes written into the current segment so far. */
int64_t hls_segmenter_pending(const hls_segmenter_t *s);

#endif
