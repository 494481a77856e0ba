/* FLV tag body parsing: codec, key frame, configuration, payload bounds. */
#include "flv_tag.h"

#include <stdio.h>
#include <string.h>

static const uint32_t aac_rates[16] = {96000, 88200, 64000, 48000, 44100, 32000,
                                       24000, 22050, 16000, 12000, 11025, 8000,
                                       7350,  0,     0,     0};

static int32_t rd_si24(const uint8_t *p)
{
    int32_t v = (int32_t)((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]);
    if (v & 0x800000)
        v -= 0x1000000;
    return v;
}

static int enhanced_video(const uint8_t *d, uint32_t n, flv_pkt_t *o)
{
    if (n < 5)
        return FLV_EINVAL;
    unsigned frame = (d[0] >> 4) & 7;
    unsigned ptype = d[0] & 0x0f;
    const uint8_t *fcc = d + 1;
    if (memcmp(fcc, "hvc1", 4) == 0)
        o->codec = FLV_CODEC_HEVC;
    else if (memcmp(fcc, "av01", 4) == 0)
        o->codec = FLV_CODEC_AV1;
    else if (memcmp(fcc, "avc1", 4) == 0)
        o->codec = FLV_CODEC_H264;
    else
        return FLV_EUNSUPPORTED;
    o->keyframe = frame == 1;
    uint32_t off = 5;
    switch (ptype) {
    case 0: /* SequenceStart */
        o->config = true;
        break;
    case 1: /* CodedFrames: avc1 and hvc1 carry a composition offset */
        if (o->codec != FLV_CODEC_AV1) {
            if (n < 8)
                return FLV_EINVAL;
            o->cts = rd_si24(d + 5);
            off = 8;
        }
        break;
    case 2: /* SequenceEnd */
        o->eos = true;
        break;
    case 3: /* CodedFramesX */
        break;
    case 4: /* Metadata */
    case 5: /* MPEG2TSSequenceStart */
        o->skip = true;
        break;
    default:
        return FLV_EINVAL;
    }
    if (frame == 5)
        o->skip = true; /* command frame */
    o->offset = off;
    o->size = n - off;
    return 0;
}

int flv_parse_video(const uint8_t *d, uint32_t n, flv_pkt_t *o)
{
    memset(o, 0, sizeof(*o));
    if (n < 1)
        return FLV_EINVAL;
    if (d[0] & 0x80)
        return enhanced_video(d, n, o);
    unsigned frame = d[0] >> 4;
    unsigned codec = d[0] & 0x0f;
    if (frame == 5) {
        o->skip = true;
        o->offset = 1;
        return 0;
    }
    if (codec != 7 && codec != 12)
        return FLV_EUNSUPPORTED;
    if (n < 5)
        return FLV_EINVAL;
    o->codec = codec == 7 ? FLV_CODEC_H264 : FLV_CODEC_HEVC;
    o->keyframe = frame == 1;
    switch (d[1]) {
    case 0:
        o->config = true;
        break;
    case 1:
        break;
    case 2:
        o->eos = true;
        break;
    default:
        return FLV_EINVAL;
    }
    o->cts = rd_si24(d + 2);
    o->offset = 5;
    o->size = n - 5;
    return 0;
}

int flv_parse_audio(const uint8_t *d, uint32_t n, flv_pkt_t *o)
{
    static const uint32_t rates[4] = {5512, 11025, 22050, 44100};
    memset(o, 0, sizeof(*o));
    if (n < 1)
        return FLV_EINVAL;
    unsigned fmt = d[0] >> 4;
    o->keyframe = true;
    o->sample_rate = rates[(d[0] >> 2) & 3];
    o->channels = (d[0] & 1) ? 2 : 1;
    if (fmt == 10) {
        if (n < 2)
            return FLV_EINVAL;
        o->codec = FLV_CODEC_AAC;
        if (d[1] > 1)
            return FLV_EINVAL;
        o->config = d[1] == 0;
        o->offset = 2;
        o->size = n - 2;
        return 0;
    }
    if (fmt == 2 || fmt == 14) {
        o->codec = FLV_CODEC_MP3;
        if (fmt == 14)
            o->sample_rate = 8000;
        o->offset = 1;
        o->size = n - 1;
        return 0;
    }
    return FLV_EUNSUPPORTED;
}

const char *flv_codec_describe(bool video, const uint8_t *d, uint32_t n,
                               char *buf, size_t len)
{
    static const char *const vnames[16] = {
        [2] = "Sorenson H.263", [3] = "Screen Video",
        [4] = "On2 VP6",        [5] = "On2 VP6 with alpha",
        [6] = "Screen Video 2", [7] = "H.264",
        [12] = "HEVC"};
    static const char *const anames[16] = {[0] = "linear PCM",
                                           [1] = "ADPCM",
                                           [2] = "MP3",
                                           [3] = "PCM LE",
                                           [4] = "Nellymoser 16 kHz",
                                           [5] = "Nellymoser 8 kHz",
                                           [6] = "Nellymoser",
                                           [7] = "G.711 A-law",
                                           [8] = "G.711 mu-law",
                                           [9] = "Enhanced RTMP audio",
                                           [10] = "AAC",
                                           [11] = "Speex",
                                           [14] = "MP3 8 kHz",
                                           [15] = "device-specific sound"};
    if (n < 1) {
        snprintf(buf, len, "an empty %s tag", video ? "video" : "audio");
    } else if (video && (d[0] & 0x80)) {
        char fcc[5] = "????";
        for (uint32_t i = 0; i < 4 && 1 + i < n; i++)
            fcc[i] = d[1 + i] >= 0x20 && d[1 + i] < 0x7f ? (char)d[1 + i] : '?';
        snprintf(buf, len, "Enhanced RTMP FourCC %s", fcc);
    } else {
        unsigned id = video ? d[0] & 0x0f : d[0] >> 4;
        const char *name = video ? vnames[id] : anames[id];
        snprintf(buf, len, "%s (FLV %s codec id %u)", name ? name : "unknown",
                 video ? "video" : "audio", id);
    }
    return buf;
}

int flv_aac_asc_info(const uint8_t *asc, uint32_t n, uint32_t *sample_rate,
                     uint32_t *channels)
{
    if (n < 2)
        return FLV_EINVAL;
    /* 5 bits object type (31 = escape, 6 more), 4 bits rate index (15 =
     * 24-bit explicit rate), 4 bits channel configuration. */
    uint64_t bits = 0;
    uint32_t nb = n < 8 ? n : 8;
    for (uint32_t i = 0; i < 8; i++)
        bits = bits << 8 | (i < nb ? asc[i] : 0);
    unsigned pos = 0;
#define TAKE(k) ((unsigned)((bits >> (64 - pos - (k))) & ((1u << (k)) - 1)))
    unsigned aot = TAKE(5);
    pos += 5;
    if (aot == 31)
        pos += 6;
    unsigned idx = TAKE(4);
    pos += 4;
    uint32_t rate;
    if (idx == 15) {
        rate = TAKE(24);
        pos += 24;
    } else {
        rate = aac_rates[idx];
    }
    unsigned ch = TAKE(4);
    pos += 4;
#undef TAKE
    if ((pos + 7) / 8 > n || rate == 0)
        return FLV_EINVAL;
    *sample_rate = rate;
    *channels = ch == 7 ? 8 : ch;
    return 0;
}

long flv_file_header(const uint8_t *p, size_t n)
{
    if (n < 13 || memcmp(p, "FLV", 3) != 0)
        return FLV_EINVAL;
    uint32_t hlen = (uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 |
                    (uint32_t)p[7] << 8 | p[8];
    if (hlen < 9 || hlen > 1024 || hlen + 4 > n)
        return FLV_EINVAL;
    return (long)hlen + 4;
}

long flv_file_tag(const uint8_t *p, size_t n, flv_file_tag_t *t)
{
    if (n < 11)
        return 0;
    uint32_t size = (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if ((p[0] & 0x1f) != 8 && (p[0] & 0x1f) != 9 && (p[0] & 0x1f) != 18)
        return FLV_EINVAL;
    if (n < 11 + (size_t)size + 4)
        return 0;
    t->type = p[0] & 0x1f;
    t->timestamp = (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6] |
                   (uint32_t)p[7] << 24;
    t->body = p + 11;
    t->size = size;
    return 11 + (long)size + 4;
}
