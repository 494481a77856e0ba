/* HLS master playlist text and RFC 6381 codec strings for its variants. */
#include "hls_master.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int hls_master_format(const hls_variant_t *v, int n, bool independent,
                      char *buf, size_t buflen)
{
    size_t len = 0;
    int w;

#define PUT(...)                                                               \
    do {                                                                       \
        w = snprintf(buf + len, buflen - len, __VA_ARGS__);                    \
        if (w < 0 || (size_t)w >= buflen - len)                                \
            return -ENOSPC;                                                    \
        len += (size_t)w;                                                      \
    } while (0)

    if (!buflen)
        return -ENOSPC;
    PUT("#EXTM3U\n#EXT-X-VERSION:3\n");
    if (independent)
        PUT("#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (int i = 0; i < n; i++) {
        PUT("#EXT-X-STREAM-INF:BANDWIDTH=%lld", (long long)v[i].bandwidth);
        if (v[i].average > 0)
            PUT(",AVERAGE-BANDWIDTH=%lld", (long long)v[i].average);
        if (v[i].width > 0 && v[i].height > 0)
            PUT(",RESOLUTION=%dx%d", v[i].width, v[i].height);
        if (v[i].fps > 0)
            PUT(",FRAME-RATE=%.3f", v[i].fps);
        if (v[i].video_codec[0] && v[i].audio_codec[0])
            PUT(",CODECS=\"%s,%s\"", v[i].video_codec, v[i].audio_codec);
        else if (v[i].video_codec[0] || v[i].audio_codec[0])
            PUT(",CODECS=\"%s%s\"", v[i].video_codec, v[i].audio_codec);
        PUT(",NAME=\"%s\"\n%s/index.m3u8\n", v[i].name, v[i].name);
    }
#undef PUT
    return (int)len;
}

/* Finds the first NAL unit of a type in Annex B data; returns its offset
 * (after the start code) or -1. hevc selects the two-byte header. */
static long find_nal(const uint8_t *d, size_t len, int type, bool hevc)
{
    for (size_t i = 0; i + 3 < len; i++) {
        if (d[i] || d[i + 1] || d[i + 2] != 1)
            continue;
        size_t at = i + 3;
        int t = hevc ? (d[at] >> 1) & 0x3f : d[at] & 0x1f;
        if (t == type)
            return (long)at;
    }
    return -1;
}

/* Copies RBSP bytes (emulation prevention removed) into out. */
static size_t unescape(const uint8_t *d, size_t len, uint8_t *out, size_t max)
{
    size_t n = 0, zeros = 0;
    for (size_t i = 0; i < len && n < max; i++) {
        if (zeros >= 2 && d[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = d[i] == 0 ? zeros + 1 : 0;
        out[n++] = d[i];
    }
    return n;
}

int hls_master_video_codec(const char *text, const char *uri, char *out,
                           size_t outlen)
{
    const char *codecs = NULL;
    size_t ulen = strlen(uri);
    for (const char *l = text; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        if (n && l[n - 1] == '\r')
            n--;
        if (!strncmp(l, "#EXT-X-STREAM-INF:", 18)) {
            const char *c = strstr(l, "CODECS=\"");
            codecs = c && c < l + n ? c + 8 : NULL;
        } else if (n && *l != '#') {
            if (codecs && n == ulen && !strncmp(l, uri, ulen)) {
                for (const char *p = codecs; *p && *p != '"';) {
                    size_t k = strcspn(p, ",\"");
                    if (strncmp(p, "mp4a.", 5)) {
                        snprintf(out, outlen, "%.*s", (int)k, p);
                        return 0;
                    }
                    p += k + (p[k] == ',');
                }
                return -ENOENT;
            }
            codecs = NULL;
        }
        l = end ? end + 1 : NULL;
    }
    return -ENOENT;
}

/* The place of an H.264 profile_idc on the line of profiles that each
 * decode the one before; 0 when it is not on it. */
static int h264_profile_rank(unsigned idc)
{
    static const unsigned line[] = {66, 77, 100, 110, 122, 244};
    for (int i = 0; i < 6; i++)
        if (line[i] == idc)
            return i + 1;
    return 0;
}

void hls_codec_cover(char *ours, size_t outlen, const char *theirs)
{
    unsigned op, oc, ol, tp, tc, tl;
    if (strlen(ours) != 11 || strlen(theirs) != 11 ||
        strncmp(ours, "avc1.", 5) || strncmp(theirs, "avc1.", 5) ||
        sscanf(ours + 5, "%2x%2x%2x", &op, &oc, &ol) != 3 ||
        sscanf(theirs + 5, "%2x%2x%2x", &tp, &tc, &tl) != 3)
        return;
    int orank = h264_profile_rank(op), trank = h264_profile_rank(tp);
    if (!orank || !trank)
        return;
    unsigned p = trank > orank ? tp : op, c = trank > orank ? tc : oc;
    if (trank == orank)
        c = oc & tc; /* a constraint both keep */
    snprintf(ours, outlen, "avc1.%02x%02x%02x", p, c, tl > ol ? tl : ol);
}

int hls_codec_h264(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    const uint8_t *p;

    if (len >= 7 && data[0] == 1) { /* avcC */
        p = data + 1;
    } else {
        long at = find_nal(data, len, 7, false);
        if (at < 0 || (size_t)at + 4 > len)
            return -EINVAL;
        p = data + at + 1;
    }
    snprintf(out, outlen, "avc1.%02x%02x%02x", p[0], p[1], p[2]);
    return 0;
}

int hls_codec_hevc(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    uint8_t ptl[13]; /* profile byte, 4 compat, 6 constraint, level, spare */

    if (len >= 23 && data[0] == 1) { /* hvcC */
        memcpy(ptl, data + 1, 12);
    } else {
        long at = find_nal(data, len, 33, true);
        uint8_t rbsp[16];
        if (at < 0)
            return -EINVAL;
        size_t n =
            unescape(data + at + 2, len - (size_t)at - 2, rbsp, sizeof(rbsp));
        if (n < 13)
            return -EINVAL;
        memcpy(ptl, rbsp + 1, 12); /* skip vps id / sub layers byte */
    }
    int space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, idc = ptl[0] & 0x1f;
    uint32_t compat = (uint32_t)ptl[1] << 24 | (uint32_t)ptl[2] << 16 |
                      (uint32_t)ptl[3] << 8 | ptl[4];
    uint32_t rev = 0;
    for (int b = 0; b < 32; b++)
        rev |= ((compat >> b) & 1u) << (31 - b);
    int level = ptl[11];
    int ncons = 6;
    while (ncons > 1 && ptl[4 + ncons] == 0)
        ncons--;
    int w = snprintf(out, outlen, "hvc1.%s%d.%X.%c%d",
                     space == 0   ? ""
                     : space == 1 ? "A"
                     : space == 2 ? "B"
                                  : "C",
                     idc, rev, tier ? 'H' : 'L', level);
    for (int i = 0; i < ncons && w > 0 && (size_t)w < outlen; i++)
        w += snprintf(out + w, outlen - (size_t)w, ".%X", ptl[5 + i]);
    return 0;
}

void hls_codec_av1(int width, int height, double fps, char *out, size_t outlen)
{
    /* AV1 spec annex A.3: seq_level_idx, MaxPicSize, MaxDisplayRate. */
    static const struct {
        int idx;
        int64_t pic, rate;
    } levels[] = {
        {0, 147456, 4423680},       {1, 278784, 8363520},
        {4, 665856, 19975680},      {5, 1065024, 31950720},
        {8, 2359296, 77856768},     {9, 2359296, 155713536},
        {12, 8912896, 273715200},   {13, 8912896, 547430400},
        {14, 8912896, 1094860800},  {15, 8912896, 1176502272},
        {16, 35651584, 1176502272}, {17, 35651584, 2189721600},
        {18, 35651584, 4379443200}, {19, 35651584, 4706009088},
    };
    int64_t pic = (int64_t)width * height;
    int idx = 31; /* "no level" when nothing fits */
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (pic <= levels[i].pic && pic * fps <= (double)levels[i].rate) {
            idx = levels[i].idx;
            break;
        }
    }
    snprintf(out, outlen, "av01.0.%02dM.08", idx);
}

void hls_codec_aac(int profile, char *out, size_t outlen)
{
    /* FF_PROFILE_AAC_LOW is 1 (object type 2); HE is 4, HE v2 28. */
    int object = profile >= 0 ? profile + 1 : 2;
    snprintf(out, outlen, "mp4a.40.%d", object);
}
