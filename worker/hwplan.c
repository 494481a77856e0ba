/* Backend decisions: device, filter graph, encoders and frame formats. */
#include "hwplan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>

const char *hwplan_backend_name(hwplan_backend_t b)
{
    switch (b) {
    case HWPLAN_AUTO:
        return "auto";
    case HWPLAN_SOFTWARE:
        return "software";
    case HWPLAN_NVENC:
        return "nvenc";
    case HWPLAN_VAAPI:
        return "vaapi";
    case HWPLAN_HYBRID:
        return "hybrid";
    }
    return "?";
}

int hwplan_backend_parse(const char *name, hwplan_backend_t *out)
{
    static const hwplan_backend_t all[] = {HWPLAN_AUTO, HWPLAN_SOFTWARE,
                                           HWPLAN_NVENC, HWPLAN_VAAPI,
                                           HWPLAN_HYBRID};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (name && !strcmp(name, hwplan_backend_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

static bool wants(unsigned codecs, ladder_codec_t c)
{
    return (codecs & (1u << c)) != 0;
}

/* Returns NULL when the NVENC devices can run every codec, else a reason. */
static const char *nvenc_missing(const hwplan_devices_t *d, unsigned codecs)
{
    if (!d->cuda_driver)
        return "no CUDA driver (libcuda.so.1 not loadable or no device)";
    if (!d->nvenc_h264 && !d->nvenc_hevc)
        return "the CUDA device has no working NVENC (no encode session "
               "opened; H100/H200 have NVDEC only)";
    if (wants(codecs, LADDER_CODEC_H264) && !d->nvenc_h264)
        return "NVENC cannot encode H.264 on this device";
    if (wants(codecs, LADDER_CODEC_HEVC) && !d->nvenc_hevc)
        return "NVENC cannot encode HEVC on this device";
    if (wants(codecs, LADDER_CODEC_AV1))
        return "AV1 renditions are not supported on the NVENC backend";
    return NULL;
}

static const char *vaapi_missing(const hwplan_devices_t *d, unsigned codecs)
{
    if (!d->vaapi_node)
        return "no VAAPI render node (/dev/dri/renderD* missing or libva "
               "could not initialise it)";
    if (wants(codecs, LADDER_CODEC_H264) && !d->vaapi_h264)
        return "the VAAPI device has no H.264 encode entry point";
    if (wants(codecs, LADDER_CODEC_HEVC) && !d->vaapi_hevc)
        return "the VAAPI device has no HEVC encode entry point";
    if (wants(codecs, LADDER_CODEC_AV1))
        return "AV1 renditions are not supported on the VAAPI backend";
    return NULL;
}

/* Hybrid encodes in software (every codec); it needs NVDEC. */
static const char *hybrid_missing(const hwplan_devices_t *d)
{
    if (!d->cuda_driver)
        return "no CUDA driver (libcuda.so.1 not loadable or no device)";
    if (!d->nvdec)
        return "the CUDA device has no working NVDEC decoder";
    return NULL;
}

int hwplan_pick_backend(hwplan_backend_t requested, const hwplan_devices_t *dev,
                        unsigned codecs, char *why, size_t whylen)
{
    const char *nv = nvenc_missing(dev, codecs);
    const char *va = vaapi_missing(dev, codecs);
    const char *hy = hybrid_missing(dev);

    switch (requested) {
    case HWPLAN_SOFTWARE:
        snprintf(why, whylen, "software requested");
        return HWPLAN_SOFTWARE;
    case HWPLAN_NVENC:
        if (nv) {
            snprintf(why, whylen, "nvenc unavailable: %s", nv);
            return -ENODEV;
        }
        snprintf(why, whylen, "nvenc requested");
        return HWPLAN_NVENC;
    case HWPLAN_VAAPI:
        if (va) {
            snprintf(why, whylen, "vaapi unavailable: %s", va);
            return -ENODEV;
        }
        snprintf(why, whylen, "vaapi requested on %s", dev->vaapi_device);
        return HWPLAN_VAAPI;
    case HWPLAN_HYBRID:
        if (hy) {
            snprintf(why, whylen, "hybrid unavailable: %s", hy);
            return -ENODEV;
        }
        snprintf(why, whylen, "hybrid requested");
        return HWPLAN_HYBRID;
    case HWPLAN_AUTO:
        break;
    }
    if (!nv) {
        snprintf(why, whylen, "auto chose nvenc (a CUDA device with NVENC)");
        return HWPLAN_NVENC;
    }
    if (!va) {
        snprintf(why, whylen, "auto chose vaapi on %s", dev->vaapi_device);
        return HWPLAN_VAAPI;
    }
    if (!hy) {
        snprintf(why, whylen,
                 "auto chose hybrid (NVDEC decode and scale_cuda, software "
                 "encode): %s",
                 nv);
        return HWPLAN_HYBRID;
    }
    snprintf(why, whylen, "auto fell back to software: %s; %s", nv, va);
    return HWPLAN_SOFTWARE;
}

/* Whether decoder c decodes through a device context of type t (FFmpeg's
 * hwaccels; the *_cuvid wrappers are AV_CODEC_HW_CONFIG_METHOD_INTERNAL
 * and cannot fall back to software). */
static bool has_hw_config(const AVCodec *c, enum AVHWDeviceType t)
{
    for (int i = 0;; i++) {
        const AVCodecHWConfig *h = avcodec_get_hw_config(c, i);
        if (!h)
            return false;
        if (h->device_type == t &&
            (h->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) &&
            !(h->methods & AV_CODEC_HW_CONFIG_METHOD_INTERNAL))
            return true;
    }
}

const char *hwplan_hw_decoder(hwplan_backend_t b, const char *codec_name)
{
    enum AVHWDeviceType t = b == HWPLAN_NVENC || b == HWPLAN_HYBRID
                                ? AV_HWDEVICE_TYPE_CUDA
                            : b == HWPLAN_VAAPI ? AV_HWDEVICE_TYPE_VAAPI
                                                : AV_HWDEVICE_TYPE_NONE;
    const AVCodecDescriptor *d =
        codec_name ? avcodec_descriptor_get_by_name(codec_name) : NULL;
    const AVCodec *c;
    void *it = NULL;

    if (t == AV_HWDEVICE_TYPE_NONE || !d)
        return NULL;
    while ((c = av_codec_iterate(&it))) {
        if (av_codec_is_decoder(c) && c->id == d->id && has_hw_config(c, t))
            return c->name;
    }
    return NULL;
}

bool hwplan_decode_on_cpu(hwplan_backend_t b, const hwplan_devices_t *dev,
                          const char *src_codec)
{
    bool av1 = src_codec && !strcmp(src_codec, "av1");
    bool hevc = src_codec && !strcmp(src_codec, "hevc");
    switch (b) {
    case HWPLAN_NVENC:
    case HWPLAN_HYBRID:
        return !dev->nvdec || (hevc && !dev->nvdec_hevc) ||
               (av1 && !dev->nvdec_av1);
    case HWPLAN_VAAPI:
        return av1 && !dev->vaapi_av1_decode;
    default:
        return true;
    }
}

bool hwplan_hw_can_decode(hwplan_backend_t b, const char *codec_name)
{
    return hwplan_hw_decoder(b, codec_name) != NULL;
}

enum AVPixelFormat hwplan_pick_format(enum AVPixelFormat want,
                                      const enum AVPixelFormat *offered)
{
    enum AVPixelFormat sw = AV_PIX_FMT_NONE;
    for (const enum AVPixelFormat *p = offered; *p != AV_PIX_FMT_NONE; p++) {
        if (*p == want)
            return want;
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(*p);
        if (sw == AV_PIX_FMT_NONE && desc &&
            !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL))
            sw = *p;
    }
    return sw;
}

const char *hwplan_encoder_name(hwplan_backend_t b, ladder_codec_t codec)
{
    switch (b) {
    case HWPLAN_SOFTWARE:
    case HWPLAN_HYBRID:
        return codec == LADDER_CODEC_H264   ? "libx264"
               : codec == LADDER_CODEC_HEVC ? "libx265"
                                            : "libsvtav1";
    case HWPLAN_NVENC:
        return codec == LADDER_CODEC_H264   ? "h264_nvenc"
               : codec == LADDER_CODEC_HEVC ? "hevc_nvenc"
                                            : NULL;
    case HWPLAN_VAAPI:
        return codec == LADDER_CODEC_H264   ? "h264_vaapi"
               : codec == LADDER_CODEC_HEVC ? "hevc_vaapi"
                                            : NULL;
    case HWPLAN_AUTO:
        break;
    }
    return NULL;
}

const char *hwplan_profile_name(hwplan_backend_t b, ladder_codec_t codec,
                                const char *profile)
{
    if (codec != LADDER_CODEC_H264 || !profile || !profile[0])
        return NULL;
    if (b == HWPLAN_VAAPI)
        return !strcmp(profile, "baseline") ? "constrained_baseline" : profile;
    return !strcmp(profile, "constrained_baseline") ? "baseline" : profile;
}

int hwplan_sizes(const ladder_t *ladder, hwplan_size_t *sizes, int max,
                 int *rend_size)
{
    int n = 0;

    for (int i = 0; i < ladder->n; i++) {
        const ladder_rendition_t *r = &ladder->r[i];
        rend_size[i] = -1;
        if (r->remux)
            continue;
        for (int k = 0; k < n; k++) {
            if (sizes[k].width == r->width && sizes[k].height == r->height)
                rend_size[i] = k;
        }
        if (rend_size[i] >= 0 || n == max)
            continue;
        /* Insert keeping the list sorted largest first. */
        int at = n;
        while (at > 0 && (int64_t)sizes[at - 1].width * sizes[at - 1].height <
                             (int64_t)r->width * r->height)
            at--;
        memmove(&sizes[at + 1], &sizes[at], (size_t)(n - at) * sizeof(*sizes));
        sizes[at].width = r->width;
        sizes[at].height = r->height;
        n++;
    }
    /* Indices were taken before later inserts; recompute them. */
    for (int i = 0; i < ladder->n; i++) {
        rend_size[i] = -1;
        for (int k = 0; k < n && !ladder->r[i].remux; k++) {
            if (sizes[k].width == ladder->r[i].width &&
                sizes[k].height == ladder->r[i].height)
                rend_size[i] = k;
        }
    }
    for (int k = 0; k < n; k++) {
        sizes[k].parent = -1;
        /* The smallest bigger size that is at least 2x in both axes. */
        for (int p = k - 1; p >= 0; p--) {
            if (sizes[p].width >= 2 * sizes[k].width &&
                sizes[p].height >= 2 * sizes[k].height) {
                sizes[k].parent = p;
                break;
            }
        }
    }
    return n;
}

typedef struct {
    char *buf;
    size_t len, cap;
    bool overflow;
} sbuf_t;

static void sb_printf(sbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sb->cap - sb->len) {
        sb->overflow = true;
        sb->len = sb->cap - 1;
        return;
    }
    sb->len += (size_t)n;
}

/*
 * Software scales from the decoder's frames use bilinear (the big ones: half
 * the taps of bicubic on the full-size picture, SSIM within 0.002 of
 * bicubic's); cascaded scales from an already-scaled size use bicubic,
 * which keeps the detail a second softening would lose. Hybrid scales on
 * the GPU straight to yuv420p, the software encoders' format, so the one
 * download per rung needs no conversion on the CPU.
 */
static void scale_filter(sbuf_t *sb, hwplan_backend_t b, int w, int h,
                         bool cascaded)
{
    switch (b) {
    case HWPLAN_NVENC:
        sb_printf(sb, "scale_cuda=w=%d:h=%d:interp_algo=bicubic:format=nv12", w,
                  h);
        break;
    case HWPLAN_HYBRID:
        sb_printf(sb, "scale_cuda=w=%d:h=%d:interp_algo=bicubic:format=yuv420p",
                  w, h);
        break;
    case HWPLAN_VAAPI:
        sb_printf(sb, "scale_vaapi=w=%d:h=%d:format=nv12", w, h);
        break;
    default:
        sb_printf(sb, "scale=w=%d:h=%d:flags=%s,format=yuv420p", w, h,
                  cascaded ? "bicubic" : "bilinear");
        break;
    }
}

#define DOWNLOAD "hwdownload,format=yuv420p"

/* Writes the outputs of a node: its own sink (if a size) and its children.
 * With download, a size's own sink gets its frames through hwdownload
 * (children keep the device frames): straight after the scale when it has
 * no children, else from a split output [dK] finished in download_tails. */
static void node_outputs(sbuf_t *sb, const hwplan_t *p, int node, bool download)
{
    int nout = node >= 0 ? 1 : 0;
    for (int k = 0; k < p->nsizes; k++)
        nout += p->sizes[k].parent == node;
    if (nout > 1)
        sb_printf(sb, "%ssplit=%d", node >= 0 ? "," : "", nout);
    if (node >= 0 && download && nout > 1)
        sb_printf(sb, "[d%d]", node);
    else if (node >= 0 && download)
        sb_printf(sb, "," DOWNLOAD "[s%d]", node);
    else if (node >= 0)
        sb_printf(sb, "[s%d]", node);
    for (int k = 0; k < p->nsizes; k++) {
        if (p->sizes[k].parent == node)
            sb_printf(sb, "[c%d]", k);
    }
}

static void download_tails(sbuf_t *sb, const hwplan_t *p)
{
    for (int k = 0; k < p->nsizes; k++) {
        bool children = false;
        for (int c = 0; c < p->nsizes; c++)
            children |= p->sizes[c].parent == k;
        if (children)
            sb_printf(sb, ";[d%d]" DOWNLOAD "[s%d]", k, k);
    }
}

/*
 * One graph variant: device_frames says whether the decoder's frames are
 * on the device. NVENC and VAAPI upload CPU frames first (hwupload uses
 * the device the session sets on every filter); hybrid with CPU frames is
 * the software graph (same yuv420p at the sinks).
 */
static void build_graph(sbuf_t *sb, const hwplan_t *p, bool device_frames)
{
    hwplan_backend_t b = p->backend;
    if (b == HWPLAN_HYBRID && !device_frames)
        b = HWPLAN_SOFTWARE;
    bool download = b == HWPLAN_HYBRID;
    sb_printf(sb, "[in]");
    if ((b == HWPLAN_NVENC || b == HWPLAN_VAAPI) && !device_frames)
        sb_printf(sb, "format=nv12,hwupload,");
    int nroot = 0;
    for (int k = 0; k < p->nsizes; k++)
        nroot += p->sizes[k].parent == -1;
    if (nroot <= 1)
        sb_printf(sb, "null");
    node_outputs(sb, p, -1, download);
    for (int k = 0; k < p->nsizes; k++) {
        sb_printf(sb, ";[c%d]", k);
        scale_filter(sb, b, p->sizes[k].width, p->sizes[k].height,
                     p->sizes[k].parent >= 0);
        node_outputs(sb, p, k, download);
    }
    if (download)
        download_tails(sb, p);
}

int hwplan_encoder_opts(hwplan_backend_t b, const ladder_rendition_t *r,
                        const hwplan_encode_t *enc, char *out, size_t outlen)
{
    sbuf_t sb = {out, 0, outlen, false};
    double fps = ladder_rendition_fps(r);
    if (fps <= 0)
        fps = 30;
    /* Forced IDRs cut the segments; the encoder's own interval is a long
     * safety net that never comes first. */
    int gop = (int)(fps * enc->segment_s * 4 + 0.5);
    int bf = enc->bframes >= 0 ? enc->bframes : enc->live ? 0 : 3;
    int kbps = r->bitrate_kbps > 0 ? r->bitrate_kbps : 1000;
    const char *preset = enc->preset ? enc->preset : "veryfast";
    const char *profile = hwplan_profile_name(b, r->codec, r->profile);

    out[0] = '\0';
    if (b == HWPLAN_HYBRID)
        b = HWPLAN_SOFTWARE; /* the same software encoders */
    if (b == HWPLAN_SOFTWARE && r->codec == LADDER_CODEC_AV1)
        /* SVT-AV1 has VBR only for its random-access mode and refuses a
         * maxrate equal to the target; it has no B-frames as such. */
        sb_printf(&sb, "b=%dk g=%d", kbps, gop);
    else
        sb_printf(&sb, "b=%dk maxrate=%dk bufsize=%dk g=%d keyint_min=%d bf=%d",
                  kbps, kbps, 2 * kbps, gop, gop, bf);
    switch (b) {
    case HWPLAN_SOFTWARE:
        if (r->codec == LADDER_CODEC_H264) {
            /* Renditions below 1080 lines gain nothing from more frame
             * threads but their overhead (a ladder already runs several
             * encoders at once): 1 thread below 360 lines, 2 below 1080,
             * else auto. A 5-frame lookahead run in the encoding thread
             * (sync-lookahead=0) is Prism's live default: less CPU and
             * latency than veryfast's 10, SSIM still within 0.002 of
             * ffmpeg's defaults (docs/benchmarks.md). */
            int threads = r->height >= 1080 ? 0 : r->height >= 360 ? 2 : 1;
            sb_printf(&sb, " preset=%s sc_threshold=0 forced-idr=1 threads=%d",
                      preset, threads);
            /* Low latency: each frame a lookahead and a frame thread
             * would hold (5 and 1 frames: 200 ms at 30 fps) is that much
             * later in its part; slices keep the threads' speed. */
            if (enc->low_latency)
                sb_printf(&sb, " rc-lookahead=0 x264-params=sync-lookahead=0:"
                               "sliced-threads=1");
            else
                sb_printf(&sb, " rc-lookahead=5 x264-params=sync-lookahead=0");
            if (profile)
                sb_printf(&sb, " profile=%s", profile);
        } else if (r->codec == LADDER_CODEC_HEVC) {
            sb_printf(&sb,
                      " preset=%s forced-idr=1 x265-params=scenecut=0:"
                      "open-gop=0:bframes=%d:log-level=error",
                      preset, bf);
        } else {
            sb_printf(&sb, " preset=10 svtav1-params=scd=0");
        }
        break;
    case HWPLAN_NVENC:
        sb_printf(&sb, " preset=p4 rc=vbr no-scenecut=1 forced-idr=1 "
                       "strict_gop=1");
        if (enc->live)
            sb_printf(&sb, " zerolatency=1 delay=%d", HWPLAN_NVENC_ASYNC_DEPTH);
        if (profile)
            sb_printf(&sb, " profile=%s", profile);
        break;
    case HWPLAN_VAAPI:
        /* VAAPI has no scene-cut detection; a frame marked I becomes IDR. */
        sb_printf(&sb, " rc_mode=VBR idr_interval=0");
        if (profile)
            sb_printf(&sb, " profile=%s", profile);
        break;
    case HWPLAN_HYBRID:
    case HWPLAN_AUTO:
        return -EINVAL;
    }
    return sb.overflow ? -ENOSPC : 0;
}

int hwplan_build(hwplan_backend_t backend, const ladder_t *ladder,
                 const char *src_codec, const hwplan_encode_t *enc,
                 hwplan_t *out, char *why, size_t whylen)
{
    int rend_size[LADDER_MAX_RUNGS];

    memset(out, 0, sizeof(*out));
    if (backend == HWPLAN_AUTO) {
        snprintf(why, whylen, "backend must be resolved before planning");
        return -EINVAL;
    }
    out->backend = backend;
    out->hwdevice_opts = "";
    out->frames_format = "yuv420p";
    switch (backend) {
    case HWPLAN_NVENC:
        out->hwdevice_type = "cuda";
        out->frames_format = "cuda";
        out->sw_format = "nv12";
        break;
    case HWPLAN_HYBRID:
        out->hwdevice_type = "cuda";
        out->sw_format = "yuv420p";
        break;
    case HWPLAN_VAAPI:
        out->hwdevice_type = "vaapi";
        out->frames_format = "vaapi";
        out->sw_format = "nv12";
        out->extra_hw_frames = HWPLAN_VAAPI_EXTRA_SURFACES;
        break;
    default:
        break;
    }
    if (!enc->sw_decode)
        out->decoder = hwplan_hw_decoder(backend, src_codec);
    out->hw_decode = out->decoder != NULL;
    if (backend == HWPLAN_HYBRID && !out->hw_decode) {
        /* Nothing for the device to do: a plain software session. */
        out->hwdevice_type = NULL;
        out->sw_format = NULL;
    }
    if (out->hwdevice_type && !strcmp(out->hwdevice_type, "cuda"))
        out->hwdevice_opts = "primary_ctx=1";
    if (!out->hw_decode)
        out->extra_hw_frames = 0;
    out->nsizes = hwplan_sizes(ladder, out->sizes, HWPLAN_MAX_SIZES, rend_size);
    out->nrend = ladder->n;
    for (int i = 0; i < ladder->n; i++) {
        hwplan_encoder_t *e = &out->enc[i];
        e->size = rend_size[i];
        if (ladder->r[i].remux)
            continue;
        const char *name = hwplan_encoder_name(backend, ladder->r[i].codec);
        if (!name) {
            snprintf(why, whylen, "no %s encoder for rendition %s on %s",
                     ladder_codec_name(ladder->r[i].codec), ladder->r[i].name,
                     hwplan_backend_name(backend));
            return -ENOSYS;
        }
        snprintf(e->encoder, sizeof(e->encoder), "%s", name);
        if (hwplan_encoder_opts(backend, &ladder->r[i], enc, e->opts,
                                sizeof(e->opts)) < 0) {
            snprintf(why, whylen, "encoder options too long for %s",
                     ladder->r[i].name);
            return -ENOSPC;
        }
    }
    if (out->nsizes > 0) {
        sbuf_t sb = {out->graph, 0, sizeof(out->graph), false};
        sbuf_t sw = {out->graph_sw, 0, sizeof(out->graph_sw), false};
        build_graph(&sb, out, out->hw_decode);
        build_graph(&sw, out, false);
        if (sb.overflow || sw.overflow) {
            snprintf(why, whylen, "filter graph too long");
            return -ENOSPC;
        }
    }
    return 0;
}
