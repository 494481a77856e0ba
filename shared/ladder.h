/* Ladder profiles, the rules that fit them to a source, and their cost. */
#ifndef PRISM_LADDER_H
#define PRISM_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LADDER_MAX_RUNGS 16
#define LADDER_NAME_MAX  32

typedef enum {
    LADDER_CODEC_H264 = 0,
    LADDER_CODEC_HEVC = 1,
    LADDER_CODEC_AV1 = 2,
} ladder_codec_t;

/* One rung of a profile as written in the profile's JSON. */
typedef struct {
    char name[LADDER_NAME_MAX]; /* optional; "" = derived (e.g. "720p30") */
    bool remux;                 /* the Source rung: copied, not encoded */
    int height;                 /* short side in pixels; 0 = from width */
    int width;                  /* 0 = from height keeping aspect */
    int fps;                    /* highest frame rate of the rung: 30, 60 */
    int min_source_fps;         /* rung only when source fps > this (0: any) */
    int bitrate_kbps;           /* target at `fps`; scaled to the real rate */
    ladder_codec_t codec;
    char profile[24]; /* codec profile: "high", "main", "" */
} ladder_rung_t;

/* A named ladder profile: what a channel asks for. */
typedef struct {
    char name[64];
    int nrungs;
    ladder_rung_t rungs[LADDER_MAX_RUNGS];
    /* HLS packaging: the segment target in ms (0 = the farm's default,
     * the coordinator's segment_ms), and Low-Latency HLS's part target in
     * ms (0 = plain MPEG-TS HLS; LADDER_PART_MS_MIN..MAX, under half the
     * segment target). */
    int segment_ms;
    int part_ms;
} ladder_profile_t;

#define LADDER_SEGMENT_MS_MIN 500
#define LADDER_SEGMENT_MS_MAX 20000
#define LADDER_PART_MS_MIN    100
#define LADDER_PART_MS_MAX    2000

/* What the source is. */
typedef struct {
    int width, height;
    int fps_num, fps_den; /* 0/0 = unknown: treated as 30 */
    int sar_num, sar_den; /* sample aspect ratio; 0/0 = square */
    int bitrate_kbps;     /* 0 = unknown */
} ladder_source_t;

/* One output rendition after the rules were applied. */
typedef struct {
    char name[LADDER_NAME_MAX]; /* "source", "720p60", "480p30", ... */
    bool remux;
    int width, height;    /* even; for remux, the source's */
    int fps_num, fps_den; /* exact output rate */
    int frame_step;       /* keep 1 of every frame_step source frames */
    int bitrate_kbps;     /* for remux, the source's (0 = unknown) */
    ladder_codec_t codec;
    char profile[24];
} ladder_rendition_t;

typedef struct {
    int n;
    ladder_rendition_t r[LADDER_MAX_RUNGS];
} ladder_t;

/* What running a ladder costs a device. */
typedef struct {
    uint64_t encode_pixels; /* sum over encoded renditions of w*h*fps */
    uint64_t decode_pixels; /* source w*h*fps (0 when nothing is encoded) */
    int sessions;           /* encoded renditions */
    unsigned codecs;        /* bit (1 << ladder_codec_t) per codec used */
} ladder_cost_t;

/*
 * Whether `profile` names a codec profile of `codec` that every backend's
 * encoder can make (the renditions are 8-bit 4:2:0): H.264 "baseline",
 * "constrained_baseline", "main", "high"; HEVC and AV1 "main"; "" (the
 * encoder's default) always. hwplan maps the name per backend
 * (hwplan_profile_name), so a profile that parses never fails when a
 * session opens its encoder. LADDER_PROFILES_H264 is the list for messages.
 */
bool ladder_codec_profile_ok(ladder_codec_t codec, const char *profile);
#define LADDER_PROFILES_H264 "baseline, constrained_baseline, main, high"

/* The built-in default profile's JSON (ladders/default.json, embedded). */
const char *ladder_default_json(void);

/*
 * Parses a profile from JSON text. On error returns -EINVAL and writes one
 * message naming the offending field into err.
 */
int ladder_profile_parse(const char *json, ladder_profile_t *out, char *err,
                         size_t errlen);
/* Reads and parses a profile file; -ENOENT/-EINVAL with a message in err. */
int ladder_profile_load(const char *path, ladder_profile_t *out, char *err,
                        size_t errlen);
/* The default profile; cannot fail unless the embedded JSON is broken. */
int ladder_profile_default(ladder_profile_t *out);

/*
 * The ladder of a source without video (radio, music): one rendition
 * named "audio", marked remux (the source's audio is carried; the worker
 * makes its audio-only rendition), size 0, costing nothing.
 */
void ladder_audio_only(ladder_t *out);

/*
 * Fits a profile to a source (docs/design.md, "Ladder rules"):
 * never upscale (a rung whose short side is larger than the source's is
 * dropped), a rung with min_source_fps only when the source is faster,
 * frame rates reduced by dropping frames only (60->30, 50->25, 59.94->29.97;
 * never above the source's rate), sizes even and keeping the display aspect
 * ratio (portrait sources: the rung's height applies to the short side),
 * bitrates scaled by out_fps / rung fps, and duplicates removed.
 * Returns 0, or -EINVAL when the source has no usable size.
 */
int ladder_apply(const ladder_profile_t *profile, const ladder_source_t *src,
                 ladder_t *out);

/* What a fitted ladder costs a device (docs/design.md, "Capacity model"). */
void ladder_cost(const ladder_t *ladder, const ladder_source_t *src,
                 ladder_cost_t *out);

const char *ladder_codec_name(ladder_codec_t codec); /* "h264","hevc","av1" */
int ladder_codec_parse(const char *name, ladder_codec_t *out);

/* Frame rate of a rendition as a double (fps_num / fps_den). */
double ladder_rendition_fps(const ladder_rendition_t *r);

#endif
