/* What a transcode session will make: codec check, ladder, backend plan. */

/*
 * Runs once, before anything is opened or written: refuses an input this
 * FFmpeg cannot decode, applies the ladder profile to the source (leaving
 * out what HLS cannot carry), and picks the backend and plans the filter
 * graph and encoders (hwplan). Nothing here calls back into transcode.c.
 */
#include "transcode_plan.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"

#define MOD "transcode"

/*
 * Refuses, before anything is planned or written, an input whose video or
 * audio codec this FFmpeg build cannot decode (AVS2, AVS3 or VVC in
 * Debian 12's, or a codec the demuxer does not know at all). Copied AAC
 * audio needs no decoder. One error line names the stream, the codec and
 * the container's codec tag where it has one.
 */
int transcode_plan_check_codecs(const transcode_session_t *s)
{
    const int idx[2] = {s->vi, s->ai};
    for (int k = 0; k < 2; k++) {
        if (idx[k] < 0)
            continue;
        const AVCodecParameters *par = s->src->streams[idx[k]].par;
        if (k == 1 && par->codec_id == AV_CODEC_ID_AAC)
            continue; /* copied, or decoded by the native AAC decoder */
        if (avcodec_find_decoder(par->codec_id))
            continue;
        char tag[AV_FOURCC_MAX_STRING_SIZE] = "none";
        if (par->codec_tag)
            av_fourcc_make_string(tag, par->codec_tag);
        log_error(MOD,
                  k == 0 ? "Unsupported video codec: this FFmpeg has no "
                           "decoder for it."
                         : "Unsupported audio codec: this FFmpeg has no "
                           "decoder for it.",
                  "codec=%s tag=\"%s\" stream=%d input=\"%s\"",
                  par->codec_id == AV_CODEC_ID_NONE
                      ? "unknown"
                      : avcodec_get_name(par->codec_id),
                  tag, idx[k], s->src->name);
        return AVERROR_DECODER_NOT_FOUND;
    }
    return 0;
}

static bool remux_ok(const transcode_session_t *s, const AVCodecParameters *par)
{
    enum AVCodecID id = par->codec_id;
    /* Browsers play H.264 up to High (8-bit 4:2:0): a High 10, 4:2:2 or
     * 4:4:4 source is not remuxed (the encoded renditions are 4:2:0). */
    int idc = par->profile == FF_PROFILE_UNKNOWN ? 0 : par->profile & 0xff;
    if (id == AV_CODEC_ID_H264 && (idc == 44 || idc > 100))
        return false;
    return id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC ||
           (id == AV_CODEC_ID_AV1 && s->o.fmp4);
}

int transcode_plan_ladder(transcode_session_t *s)
{
    if (s->vi < 0) {
        rend_t *r = &s->rend[0];
        memset(r, 0, sizeof(*r));
        snprintf(r->r.name, sizeof(r->r.name), "audio");
        r->audio_only = true;
        r->size = -1;
        s->nrend = 1;
        return 0;
    }
    const packet_source_stream_t *vs = &s->src->streams[s->vi];
    ladder_source_t src = {
        .width = vs->par->width,
        .height = vs->par->height,
        .fps_num = vs->frame_rate.num,
        .fps_den = vs->frame_rate.den,
        .sar_num = vs->par->sample_aspect_ratio.num,
        .sar_den = vs->par->sample_aspect_ratio.den,
        .bitrate_kbps = (int)(vs->par->bit_rate / 1000),
    };
    if (src.fps_num <= 0 || src.fps_den <= 0)
        src.fps_num = src.fps_den = 0;
    int ret = ladder_apply(&s->profile, &src, &s->ladder);
    if (ret < 0) {
        log_error(MOD, "The source has no usable video size.",
                  "input=\"%s\" size=%dx%d", s->src->name, src.width,
                  src.height);
        return AVERROR_INVALIDDATA;
    }
    ladder_t kept = {0};
    for (int i = 0; i < s->ladder.n; i++) {
        if (s->ladder.r[i].remux && !remux_ok(s, vs->par)) {
            const char *prof =
                avcodec_profile_name(vs->par->codec_id, vs->par->profile);
            log_warn(MOD,
                     "The Source rendition is left out: its codec "
                     "cannot be remuxed to HLS.",
                     "codec=%s profile=\"%s\"",
                     avcodec_get_name(vs->par->codec_id), prof ? prof : "");
            continue;
        }
        if (s->ladder.r[i].codec == LADDER_CODEC_AV1 && !s->o.fmp4) {
            log_warn(MOD,
                     "An AV1 rendition is left out: AV1 needs fMP4 "
                     "segments (--format fmp4).",
                     "rendition=%s", s->ladder.r[i].name);
            continue;
        }
        kept.r[kept.n++] = s->ladder.r[i];
    }
    s->ladder = kept;
    if (!s->ladder.n) {
        log_error(MOD, "The ladder has no rendition for this source.",
                  "input=\"%s\"", s->src->name);
        return AVERROR_INVALIDDATA;
    }
    s->nrend = s->ladder.n;
    for (int i = 0; i < s->nrend; i++) {
        s->rend[i].r = s->ladder.r[i];
        s->rend[i].size = -1;
        s->nencoded += !s->ladder.r[i].remux;
    }
    return 0;
}

int transcode_plan_session(transcode_session_t *s)
{
    hwplan_devices_t none = {0};
    const hwplan_devices_t *dev = s->o.devices ? s->o.devices : &none;
    char why[512];
    unsigned codecs = 0;

    for (int i = 0; i < s->ladder.n; i++) {
        if (!s->ladder.r[i].remux)
            codecs |= 1u << s->ladder.r[i].codec;
    }
    int b = hwplan_pick_backend(s->o.backend, dev, codecs, why, sizeof(why));
    if (b < 0) {
        log_error(MOD, "The requested backend cannot run here.",
                  "backend=%s reason=\"%s\"", hwplan_backend_name(s->o.backend),
                  why);
        return -ENODEV;
    }
    s->backend = (hwplan_backend_t)b;
    if (s->o.backend == HWPLAN_AUTO)
        log_info(MOD, "Backend chosen.", "backend=%s reason=\"%s\"",
                 hwplan_backend_name(s->backend), why);
    if (s->vi < 0)
        return 0;
    hwplan_encode_t enc = {
        .segment_s = s->o.segment_s,
        .live = !s->o.vod,
        .bframes = s->o.bframes,
        .preset = s->o.preset,
        .low_latency = s->o.part_s > 0 && !s->o.vod,
    };
    const char *codec = avcodec_get_name(s->src->streams[s->vi].par->codec_id);
    /* A CUDA device without a working NVDEC (or none for this codec)
     * still encodes: decode on the CPU (and upload for NVENC). */
    enc.sw_decode = hwplan_decode_on_cpu(s->backend, dev, codec);
    int ret = hwplan_build(s->backend, &s->ladder, codec, &enc, &s->plan, why,
                           sizeof(why));
    if (ret < 0) {
        log_error(MOD, "Cannot plan the session.", "backend=%s reason=\"%s\"",
                  hwplan_backend_name(s->backend), why);
        return ret == -ENOSYS ? AVERROR_ENCODER_NOT_FOUND : ret;
    }
    for (int i = 0; i < s->nrend; i++) {
        s->rend[i].pe = &s->plan.enc[i];
        s->rend[i].size = s->plan.enc[i].size;
    }
    /* The thumbnail comes from the smallest size at least 180 lines high. */
    s->thumb_size = s->plan.nsizes ? 0 : -1;
    for (int k = 0; k < s->plan.nsizes; k++) {
        if (s->plan.sizes[k].height >= 180)
            s->thumb_size = k;
    }
    if (s->backend != HWPLAN_SOFTWARE && !s->plan.hw_decode)
        log_info(MOD, "The source is decoded in software.",
                 "backend=%s codec=%s reason=\"%s\"",
                 hwplan_backend_name(s->backend), codec,
                 enc.sw_decode ? "the device has no working decoder"
                               : "no hardware decoder for this codec");
    log_debug(MOD, "Filter graph planned.", "graph=\"%s\" graph_sw=\"%s\"",
              s->plan.graph, s->plan.graph_sw);
    return 0;
}
