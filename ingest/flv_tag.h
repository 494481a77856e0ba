/* FLV tag bodies (RTMP audio/video messages), legacy and Enhanced RTMP. */
#ifndef PRISM_FLV_TAG_H
#define PRISM_FLV_TAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An RTMP audio or video message is an FLV tag body. Video: a byte with
 * frame type (high nibble) and codec id (low nibble; 7 = AVC), then for AVC
 * a packet type (0 sequence header = AVCDecoderConfigurationRecord, 1 NAL
 * units, 2 end of sequence) and a 24-bit signed composition time offset.
 * Enhanced RTMP sets bit 7 of the first byte: bits 4-6 are the frame type,
 * bits 0-3 the packet type (0 sequence start, 1 coded frames with a
 * composition offset, 2 sequence end, 3 coded frames without one, 4
 * metadata), followed by a FourCC (hvc1, av01, avc1). Audio: sound format
 * in the high nibble (10 = AAC, then 0 = AudioSpecificConfig, 1 = raw; 2 =
 * MP3). The parser only describes the body: where the codec payload starts,
 * its size, its kind; it never copies.
 */

/* Codec numbers equal Prism__Codec in prism.proto. */
enum {
    FLV_CODEC_NONE = 0,
    FLV_CODEC_H264 = 1,
    FLV_CODEC_HEVC = 2,
    FLV_CODEC_AV1 = 3,
    FLV_CODEC_AAC = 4,
    FLV_CODEC_OPUS = 5,
    FLV_CODEC_MP3 = 6,
};

#define FLV_EINVAL       (-3001) /* truncated or contradictory body */
#define FLV_EUNSUPPORTED (-3002) /* a codec we do not carry */

typedef struct {
    uint8_t codec;        /* FLV_CODEC_* */
    bool keyframe;        /* video key frame (audio: always true) */
    bool config;          /* payload is the codec configuration (extradata) */
    bool eos;             /* end of sequence: nothing to forward */
    bool skip;            /* command/info frame or metadata: nothing to send */
    int32_t cts;          /* composition offset in ms (pts = dts + cts) */
    uint32_t offset;      /* codec payload start within the body */
    uint32_t size;        /* codec payload bytes */
    uint32_t sample_rate; /* audio, from the tag byte (AAC: see the ASC) */
    uint8_t channels;
} flv_pkt_t;

/* Describes a video body. Returns 0 or FLV_E*. */
int flv_parse_video(const uint8_t *d, uint32_t n, flv_pkt_t *out);

/* Describes an audio body. Returns 0 or FLV_E*. */
int flv_parse_audio(const uint8_t *d, uint32_t n, flv_pkt_t *out);

/*
 * Names the codec of a video (video true) or audio body that
 * flv_parse_video/flv_parse_audio found unsupported: "Sorenson H.263
 * (FLV codec id 2)", "Enhanced RTMP FourCC vp09". Writes into buf.
 */
const char *flv_codec_describe(bool video, const uint8_t *d, uint32_t n,
                               char *buf, size_t len);

/*
 * Reads sample rate and channel count from an AAC AudioSpecificConfig.
 * Returns 0 or FLV_EINVAL.
 */
int flv_aac_asc_info(const uint8_t *asc, uint32_t n, uint32_t *sample_rate,
                     uint32_t *channels);

/* One tag of an FLV file. */
typedef struct {
    uint8_t type;       /* 8 audio, 9 video, 18 script data */
    uint32_t timestamp; /* ms */
    const uint8_t *body;
    uint32_t size;
} flv_file_tag_t;

/*
 * Skips the FLV file header: returns its length (9 + 4 for the first
 * PreviousTagSize) or FLV_EINVAL when p does not start with "FLV".
 */
long flv_file_header(const uint8_t *p, size_t n);

/*
 * Reads one tag and its trailing PreviousTagSize at p. Returns bytes
 * consumed, 0 when n holds no whole tag, or FLV_EINVAL.
 */
long flv_file_tag(const uint8_t *p, size_t n, flv_file_tag_t *tag);

#endif
