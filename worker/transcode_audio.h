/* The audio of a transcode session: AAC copied, or decoded and encoded once. */
#ifndef PRISM_TRANSCODE_AUDIO_H
#define PRISM_TRANSCODE_AUDIO_H

#include "transcode_int.h"

/*
 * These run on the session thread and return 0 or a negative AVERROR; an
 * audio failure is fatal to the session (every rendition shares the
 * audio). Packets are borrowed.
 */

/* Chooses copy or AAC encode for stream s->ai, opens the decoder and the
 * encoder when it encodes, and sets s->acodec (the CODECS string). */
int transcode_audio_open(transcode_session_t *s);

/* Copies or decodes and encodes one audio packet (NULL drains the
 * decoder); the packets go to every rendition. A corrupt packet is
 * counted, not returned. */
int transcode_audio_packet(transcode_session_t *s, const AVPacket *pkt);

/* At the end of the input: drains the audio filter and the encoder. */
int transcode_audio_flush(transcode_session_t *s);

#endif
