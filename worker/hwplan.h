/* Backend decisions: device, filter graph, encoders and frame formats. */
#ifndef PRISM_HWPLAN_H
#define PRISM_HWPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <libavutil/pixfmt.h>

#include "ladder.h"

/*
 * Everything here is a pure function of its inputs: no device is opened and
 * no library is initialised, so the decisions of every backend are
 * unit-tested on a machine without GPUs. The transcode session applies the
 * plan; the probe supplies what hwplan_pick_backend() chooses from.
 */

typedef enum {
    HWPLAN_AUTO = 0,
    HWPLAN_SOFTWARE = 1,
    HWPLAN_NVENC = 2,
    HWPLAN_VAAPI = 3,
    /* NVDEC decode and scale_cuda on a CUDA device, one download per
     * rung, software encoders: the GPUs without NVENC (H100, H200,
     * A100). */
    HWPLAN_HYBRID = 4,
} hwplan_backend_t;

#define HWPLAN_MAX_SIZES 16
#define HWPLAN_GRAPH_MAX 4096
#define HWPLAN_OPTS_MAX  512

/* NVENC's async depth (its `delay` option): frames a session may have in
 * flight before it waits for output, so the renditions of a ladder do not
 * wait on each other's encodes. A few frames of latency at most. */
#define HWPLAN_NVENC_ASYNC_DEPTH 3
/* Extra surfaces in a VAAPI decoder's fixed pool for frames held
 * downstream (split, same-size renditions, encoder lookahead). NVDEC
 * needs none: it copies each picture out into its own frames pool, and
 * more than 32 decode surfaces can make it refuse to open. */
#define HWPLAN_VAAPI_EXTRA_SURFACES 16

/* What the probe found, reduced to what the choice needs. */
typedef struct {
    bool cuda_driver;      /* libcuda loaded and a device answered */
    bool nvenc_h264;       /* an h264_nvenc session opened */
    bool nvenc_hevc;       /* a hevc_nvenc session opened */
    bool nvdec;            /* CUDA hardware decode works (H.264) */
    bool nvdec_hevc;       /* ... for HEVC */
    bool nvdec_av1;        /* ... for AV1 (Ampere and later) */
    bool vaapi_node;       /* a render node opened through libva */
    bool vaapi_h264;       /* H.264 encode entry point on that node */
    bool vaapi_hevc;       /* HEVC encode entry point on that node */
    bool vaapi_av1_decode; /* AV1 decode (VLD) entry point on that node */
    char vaapi_device[64];
} hwplan_devices_t;

/* One distinct output size and where its frames are scaled from. */
typedef struct {
    int width, height;
    int parent; /* index of the size it is scaled from; -1 = the decoder */
} hwplan_size_t;

/* One rendition's encoder. Remuxed renditions have encoder "" */
typedef struct {
    char encoder[32];           /* "libx264", "h264_nvenc", ... */
    int size;                   /* index into hwplan_t.sizes */
    char opts[HWPLAN_OPTS_MAX]; /* "key=value:key=value" (av_dict) */
} hwplan_encoder_t;

/* How a session runs, decided before any device is touched. */
typedef struct {
    hwplan_backend_t backend;  /* never AUTO once planned */
    const char *hwdevice_type; /* "cuda", "vaapi" or NULL */
    bool hw_decode;            /* decoder outputs device frames */
    const char *frames_format; /* pixel format at the encoders */
    const char *sw_format;     /* format inside device frames, or NULL */
    /* The FFmpeg decoder to open when hw_decode (the one with a hardware
     * configuration for the device: "av1", not libdav1d), else NULL:
     * FFmpeg's default decoder for the codec. */
    const char *decoder;
    /* Options of av_hwdevice_ctx_create ("key=value ..."), or "": CUDA
     * sessions share the device's primary context (primary_ctx=1), one
     * CUDA context per device instead of one per session. */
    const char *hwdevice_opts;
    int extra_hw_frames; /* the decoder's extra_hw_frames; 0 = none */
    int nsizes;
    hwplan_size_t sizes[HWPLAN_MAX_SIZES];
    int nrend;
    hwplan_encoder_t enc[LADDER_MAX_RUNGS];
    /* The video filter graph: input pad "in", outputs "s0".."sN-1", for
     * the frames the planned decoder makes (device frames when hw_decode),
     * and graph_sw for frames decoded on the CPU: the variant a session
     * switches to when the hardware decoder cannot take the stream (a
     * 10-bit or 4:2:2 H.264, a size over its limits). Both give the
     * encoders the same frames format. */
    char graph[HWPLAN_GRAPH_MAX];
    char graph_sw[HWPLAN_GRAPH_MAX];
} hwplan_t;

/* Encoder-independent settings that become encoder options. */
typedef struct {
    double segment_s;   /* keyframe interval target (boundaries are forced) */
    bool live;          /* live: no B-frames unless bframes >= 0 */
    int bframes;        /* -1 = default for the mode (live 0, VOD 3) */
    const char *preset; /* x264 preset; NULL = "veryfast" */
    bool sw_decode;     /* decode on the CPU even where the device could
                           (the probe found no working hardware decoder) */
    bool low_latency;   /* Low-Latency HLS: a frame leaves the encoder as
                           soon as it is encoded (no lookahead, x264's
                           threads in slices rather than frames) */
} hwplan_encode_t;

const char *hwplan_backend_name(hwplan_backend_t b);
/* Parses "auto", "software", "nvenc", "vaapi" or "hybrid"; 0 or -EINVAL. */
int hwplan_backend_parse(const char *name, hwplan_backend_t *out);

/*
 * Picks the backend for a session. A requested backend is checked against
 * the devices; auto picks NVENC, then VAAPI, then hybrid (a CUDA device
 * whose NVDEC works but that has no NVENC), then software, for the codecs
 * in `codecs` (bits 1 << ladder_codec_t). Returns the backend, or
 * -ENODEV with a one-line reason in why (for explicit requests that cannot
 * run). For auto, why says what was chosen and why.
 */
int hwplan_pick_backend(hwplan_backend_t requested, const hwplan_devices_t *dev,
                        unsigned codecs, char *why, size_t whylen);

/*
 * The FFmpeg decoder that decodes codec_name ("h264", "av1", ...) on the
 * backend's device: a decoder of that codec with a hardware configuration
 * (avcodec_get_hw_config) for CUDA (NVENC, hybrid) or VAAPI through a
 * device context, not a wrapper with its own (h264_cuvid). NULL for the
 * software backend, an unknown codec, or none with such a configuration.
 * Reads FFmpeg's static tables only; opens nothing.
 */
const char *hwplan_hw_decoder(hwplan_backend_t b, const char *codec_name);

/*
 * Whether a session on backend b must decode src_codec on the CPU because
 * the probe found the device's decoder cannot: no working NVDEC, or none
 * for HEVC or AV1 on this GPU (FFmpeg 5.1's av1 decoder has no software
 * path, so AV1 goes to the default software decoder up front).
 */
bool hwplan_decode_on_cpu(hwplan_backend_t b, const hwplan_devices_t *dev,
                          const char *src_codec);

/* Whether hwplan_hw_decoder() has a decoder. */
bool hwplan_hw_can_decode(hwplan_backend_t b, const char *codec_name);

/*
 * The get_format decision: `want` (the device frames format) when the
 * decoder offers it, else the first software format offered (the stream
 * decodes on the CPU: the hardware cannot take it, or its initialisation
 * failed and FFmpeg asks again without it), else AV_PIX_FMT_NONE.
 */
enum AVPixelFormat hwplan_pick_format(enum AVPixelFormat want,
                                      const enum AVPixelFormat *offered);

/*
 * The encoder FFmpeg name for a codec on a backend ("libx264",
 * "hevc_nvenc", "h264_vaapi", "libsvtav1"), or NULL when that backend has
 * no encoder for it.
 */
const char *hwplan_encoder_name(hwplan_backend_t b, ladder_codec_t codec);

/*
 * The profile name the backend's encoder takes for a ladder profile (one
 * ladder_codec_profile_ok accepts), or NULL to leave the encoder's
 * default. H.264 only: "constrained_baseline" is x264's and NVENC's
 * "baseline" (neither has FMO or ASO, so it is constrained baseline), and
 * h264_vaapi refuses "baseline", which it encodes as
 * "constrained_baseline". HEVC and AV1 "main" is every encoder's default.
 */
const char *hwplan_profile_name(hwplan_backend_t b, ladder_codec_t codec,
                                const char *profile);

/*
 * Distinct sizes of the encoded renditions, largest first, each scaled
 * from the smallest already-made size at least twice its width and height
 * (cheaper, and still a clean 2:1 or better downscale), else from the
 * decoder. Returns the number of sizes; rend_size[i] gets the size index of
 * rendition i (-1 for remuxed renditions).
 */
int hwplan_sizes(const ladder_t *ladder, hwplan_size_t *sizes, int max,
                 int *rend_size);

/*
 * Builds the whole plan for a backend other than AUTO. src_codec is the
 * FFmpeg decoder name of the source video ("h264", "hevc", ...).
 * Returns 0, -ENOSYS when a rendition's codec has no encoder on that
 * backend, or -ENOSPC when the graph does not fit (why says which).
 */
int hwplan_build(hwplan_backend_t backend, const ladder_t *ladder,
                 const char *src_codec, const hwplan_encode_t *enc,
                 hwplan_t *out, char *why, size_t whylen);

/*
 * The encoder options ("key=value:...") for one rendition: bitrate and VBV,
 * keyframe interval longer than a segment so only forced IDRs cut, no
 * scene-cut keyframes, B-frames per mode, forced IDR. Returns 0 or -ENOSPC.
 */
int hwplan_encoder_opts(hwplan_backend_t b, const ladder_rendition_t *r,
                        const hwplan_encode_t *enc, char *out, size_t outlen);

#endif
