/* The video of a transcode session: decode, scale, encode per rendition. */
#ifndef PRISM_TRANSCODE_VIDEO_H
#define PRISM_TRANSCODE_VIDEO_H

#include "transcode_int.h"

/*
 * These run on the session thread and return 0 or a negative AVERROR. A
 * failure of one rendition's own (its encoder) drops that rendition
 * (hls_output_rend_fail); the decoder, the device and the filter graph are
 * fatal. Packets are borrowed.
 */

/* Opens the hardware device of the plan and, when a rendition is
 * encoded, the video decoder of stream s->vi. */
int transcode_video_open(transcode_session_t *s);

/* Decodes one video packet (NULL drains the decoder) and sends each frame
 * through the filter graph to the encoders; a boundary frame (an open
 * boundary of s->bnd) is a forced IDR in every rendition. The graph,
 * encoders and muxers open at the first frame. A corrupt packet or frame
 * is counted, not returned. */
int transcode_video_decode(transcode_session_t *s, const AVPacket *pkt);

/* At the end of the input: drains the decoder, the filter graph and every
 * encoder. */
int transcode_video_flush(transcode_session_t *s);

/* Sets rendition r's CODECS string from its first keyframe PKT (codec
 * ID), its encoder's or the source's extradata, and writes the master
 * when every rendition has one. */
void transcode_video_note_codec(transcode_session_t *s, rend_t *r,
                                const AVPacket *pkt, enum AVCodecID id);

#endif
