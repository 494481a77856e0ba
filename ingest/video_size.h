/* Learning a video track's size from the parameter sets in its packets. */
#ifndef PRISM_VIDEO_SIZE_H
#define PRISM_VIDEO_SIZE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

/*
 * The ingest needs a video's size before the coordinator places the
 * stream. RTMP usually says it in onMetaData and the SRT demuxer's probe
 * reads it from the first SPS; when neither did (no onMetaData, a stream
 * joined mid-GOP), a video_size_t reads the track's packets with
 * libavcodec's parser until a parameter set gives the size.
 *
 * extradata (copied) is what the track's packets need to be parsed: an
 * avcC / hvcC record for length-prefixed (RTMP) payloads, nothing for
 * Annex B. Packets are whole frames. Not thread-safe: one owner.
 */
typedef struct video_size video_size_t;

typedef struct {
    int width, height;
    double fps; /* the SPS timing's, else the packets' spacing; 0 unknown */
} video_size_info_t;

/* Returns a parser for codec id, or NULL (no parser for it, no memory). */
video_size_t *video_size_new(enum AVCodecID id, const uint8_t *extradata,
                             int extradata_len);

/* Parses one packet (borrowed; ts in time base tb, AV_NOPTS_VALUE when
 * unset). Returns true, with *out filled, once the size is known. */
bool video_size_feed(video_size_t *v, const uint8_t *data, int size, int64_t ts,
                     AVRational tb, video_size_info_t *out);

/* Frees v and sets *vp to NULL; accepts NULL. */
void video_size_free(video_size_t **vp);

#endif
