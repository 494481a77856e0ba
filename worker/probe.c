/* Device probe: CUDA (NVDEC, NVENC by opening sessions), VAAPI, CPU. */
#include "probe.h"
#include "avlog.h"
#include "nvml.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/log.h>
#include <va/va.h>
#include <va/va_drm.h>
#include <va/va_str.h>

#define FFNV_LOG_FUNC(logctx, msg, ...)
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...)
#include <ffnvcodec/dynlink_loader.h>

/* FFmpeg's log lines while an NVENC session is being opened. */
static char nvenc_log[1024];

probe_nvenc_t probe_classify_nvenc(int averr, const char *log_text)
{
    const char *t = log_text ? log_text : "";
    if (averr >= 0)
        return PROBE_NVENC_OK;
    if (strstr(t, "OpenEncodeSessionEx failed: out of memory (10)") ||
        strstr(t, "incompatible client key (21)"))
        return PROBE_NVENC_SESSION_LIMIT;
    if (strstr(t, "No capable devices found") ||
        strstr(t, "unsupported device (2)") ||
        strstr(t, "Cannot load libnvidia-encode") ||
        strstr(t, "no encode device (1)"))
        return PROBE_NVENC_ABSENT;
    if (strstr(t, "Driver does not support the required nvenc API version"))
        return PROBE_NVENC_DRIVER;
    return PROBE_NVENC_ERROR;
}

const char *probe_nvenc_name(probe_nvenc_t v)
{
    switch (v) {
    case PROBE_NVENC_OK:
        return "ok";
    case PROBE_NVENC_ABSENT:
        return "absent";
    case PROBE_NVENC_SESSION_LIMIT:
        return "session_limit";
    case PROBE_NVENC_DRIVER:
        return "driver_too_old";
    case PROBE_NVENC_ERROR:
        break;
    }
    return "error";
}

/* A CUDA device (its primary context) and a small frames pool on it. */
static int cuda_frames(int index, AVBufferRef **dev, AVBufferRef **frames)
{
    char idx[16];
    AVDictionary *o = NULL;
    snprintf(idx, sizeof(idx), "%d", index);
    av_dict_set(&o, "primary_ctx", "1", 0);
    int ret = av_hwdevice_ctx_create(dev, AV_HWDEVICE_TYPE_CUDA, idx, o, 0);
    av_dict_free(&o);
    if (ret < 0)
        return ret;
    *frames = av_hwframe_ctx_alloc(*dev);
    if (!*frames)
        return AVERROR(ENOMEM);
    AVHWFramesContext *fc = (AVHWFramesContext *)(*frames)->data;
    fc->format = AV_PIX_FMT_CUDA;
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = 256;
    fc->height = 256;
    return av_hwframe_ctx_init(*frames);
}

/* Opens one encode session on the frames' device into *out. */
static int nvenc_open(const AVCodec *codec, AVBufferRef *frames,
                      AVCodecContext **out)
{
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    if (!ctx)
        return AVERROR(ENOMEM);
    ctx->width = 256;
    ctx->height = 256;
    ctx->pix_fmt = AV_PIX_FMT_CUDA;
    ctx->time_base = (AVRational){1, 30};
    ctx->hw_frames_ctx = av_buffer_ref(frames);
    int ret =
        ctx->hw_frames_ctx ? avcodec_open2(ctx, codec, NULL) : AVERROR(ENOMEM);
    if (ret < 0)
        avcodec_free_context(&ctx);
    *out = ctx;
    return ret;
}

/* FFmpeg's last line of the capture into err, else the error's text. */
static void capture_error(int ret, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", avlog_capture_last(nvenc_log));
    if (!err[0])
        av_strerror(ret, err, errlen);
}

/* Opens one NVENC session on a CUDA device with a small CUDA frame. */
static probe_nvenc_t try_nvenc(int index, const char *encoder, char *err,
                               size_t errlen)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    AVBufferRef *dev = NULL, *frames = NULL;
    AVCodecContext *ctx = NULL;
    int ret;

    if (!codec) {
        snprintf(err, errlen, "FFmpeg has no %s", encoder);
        return PROBE_NVENC_ERROR;
    }
    avlog_capture_begin(nvenc_log, sizeof(nvenc_log));
    if ((ret = cuda_frames(index, &dev, &frames)) >= 0)
        ret = nvenc_open(codec, frames, &ctx);
    avlog_capture_end();
    avcodec_free_context(&ctx);
    av_buffer_unref(&frames);
    av_buffer_unref(&dev);
    if (ret < 0)
        /* FFmpeg's last line names the NVENC status. */
        capture_error(ret, err, errlen);
    return probe_classify_nvenc(ret, nvenc_log);
}

/*
 * Learns how many h264_nvenc sessions the device runs side by side:
 * opens them, held, until one is refused or PROBE_NVENC_SESSIONS_MAX are
 * open, then closes them all. The refusal's words go to d->nvenc_limit.
 */
static void count_nvenc(probe_cuda_t *d)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("h264_nvenc");
    AVBufferRef *dev = NULL, *frames = NULL;
    AVCodecContext *ctx[PROBE_NVENC_SESSIONS_MAX] = {0};
    int n = 0, ret;
    avlog_capture_begin(nvenc_log, sizeof(nvenc_log));
    ret = codec ? cuda_frames(d->index, &dev, &frames)
                : AVERROR_ENCODER_NOT_FOUND;
    while (ret >= 0 && n < PROBE_NVENC_SESSIONS_MAX &&
           (ret = nvenc_open(codec, frames, &ctx[n])) >= 0)
        n++;
    avlog_capture_end();
    d->nvenc_sessions = n;
    if (ret < 0)
        capture_error(ret, d->nvenc_limit, sizeof(d->nvenc_limit));
    for (int i = 0; i < n; i++)
        avcodec_free_context(&ctx[i]);
    av_buffer_unref(&frames);
    av_buffer_unref(&dev);
}

/* Whether NVDEC decodes 8-bit 4:2:0 of this codec (a context is current). */
static bool nvdec_caps(CuvidFunctions *cv, cudaVideoCodec codec)
{
    CUVIDDECODECAPS caps = {0};
    caps.eCodecType = codec;
    caps.eChromaFormat = cudaVideoChromaFormat_420;
    caps.nBitDepthMinus8 = 0;
    return cv->cuvidGetDecoderCaps(&caps) == CUDA_SUCCESS && caps.bIsSupported;
}

static void probe_cuda(probe_t *p)
{
    CudaFunctions *cu = NULL;
    CuvidFunctions *cv = NULL;
    int n = 0;

    if (cuda_load_functions(&cu, NULL) < 0) {
        snprintf(p->cuda_error, sizeof(p->cuda_error),
                 "no CUDA driver (libcuda.so.1 not found)");
        goto end;
    }
    CUresult r = cu->cuInit(0);
    if (r != CUDA_SUCCESS || cu->cuDeviceGetCount(&n) != CUDA_SUCCESS ||
        n == 0) {
        snprintf(p->cuda_error, sizeof(p->cuda_error),
                 "CUDA driver present but no device (cuInit=%d)", (int)r);
        goto end;
    }
    p->cuda_driver = true;
    bool have_cuvid =
        cuvid_load_functions(&cv, NULL) >= 0 && cv->cuvidGetDecoderCaps;
    for (int i = 0; i < n && p->ncuda < PROBE_MAX_CUDA; i++) {
        probe_cuda_t *d = &p->cuda[p->ncuda++];
        CUdevice dev;
        CUcontext ctx = NULL, dummy;
        d->index = i;
        if (cu->cuDeviceGet(&dev, i) != CUDA_SUCCESS)
            continue;
        cu->cuDeviceGetName(d->name, sizeof(d->name), dev);
        if (have_cuvid && cu->cuCtxCreate(&ctx, 0, dev) == CUDA_SUCCESS) {
            d->nvdec_h264 = nvdec_caps(cv, cudaVideoCodec_H264);
            d->nvdec_hevc = nvdec_caps(cv, cudaVideoCodec_HEVC);
            d->nvdec_av1 = nvdec_caps(cv, cudaVideoCodec_AV1);
            cu->cuCtxPopCurrent(&dummy);
            cu->cuCtxDestroy(ctx);
        }
        d->nvenc_h264 =
            try_nvenc(i, "h264_nvenc", d->nvenc_error, sizeof(d->nvenc_error));
        char herr[256];
        d->nvenc_hevc = try_nvenc(i, "hevc_nvenc", herr, sizeof(herr));
        if (d->nvenc_h264 == PROBE_NVENC_OK && d->nvenc_hevc != PROBE_NVENC_OK)
            snprintf(d->nvenc_error, sizeof(d->nvenc_error), "%s", herr);
        if (d->nvenc_h264 == PROBE_NVENC_OK)
            count_nvenc(d);
    }
end:
    cuvid_free_functions(&cv);
    cuda_free_functions(&cu);
}

static void probe_vaapi(probe_t *p)
{
    for (int n = 128; n < 192 && p->nvaapi < PROBE_MAX_VAAPI; n++) {
        char path[64];
        snprintf(path, sizeof(path), "/dev/dri/renderD%d", n);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        probe_vaapi_t *v = &p->vaapi[p->nvaapi++];
        snprintf(v->path, sizeof(v->path), "%s", path);
        VADisplay dpy = vaGetDisplayDRM(fd);
        int major, minor;
        VAStatus st = dpy ? vaInitialize(dpy, &major, &minor)
                          : VA_STATUS_ERROR_INVALID_DISPLAY;
        if (st != VA_STATUS_SUCCESS) {
            snprintf(v->driver_error, sizeof(v->driver_error), "%s",
                     vaErrorStr(st));
            close(fd);
            continue;
        }
        v->ok = true;
        snprintf(v->vendor, sizeof(v->vendor), "%s", vaQueryVendorString(dpy));
        int np = vaMaxNumProfiles(dpy), ne = vaMaxNumEntrypoints(dpy);
        VAProfile profiles[64];
        VAEntrypoint eps[32];
        if (np > 64)
            np = 64;
        if (vaQueryConfigProfiles(dpy, profiles, &np) == VA_STATUS_SUCCESS) {
            for (int i = 0; i < np && v->nprofiles < 48; i++) {
                int cnt = ne > 32 ? 32 : ne;
                if (vaQueryConfigEntrypoints(dpy, profiles[i], eps, &cnt) !=
                    VA_STATUS_SUCCESS)
                    continue;
                probe_vaapi_profile_t *pr = &v->profiles[v->nprofiles++];
                snprintf(pr->profile, sizeof(pr->profile), "%s",
                         vaProfileStr(profiles[i]));
                size_t len = 0;
                for (int k = 0; k < cnt; k++) {
                    bool enc = eps[k] == VAEntrypointEncSlice ||
                               eps[k] == VAEntrypointEncSliceLP;
                    pr->encode |= enc;
                    int w = snprintf(pr->entrypoints + len,
                                     sizeof(pr->entrypoints) - len, "%s%s",
                                     len ? "," : "", vaEntrypointStr(eps[k]));
                    if (w > 0 && (size_t)w < sizeof(pr->entrypoints) - len)
                        len += (size_t)w;
                }
            }
        }
        vaTerminate(dpy);
        close(fd);
    }
}

void probe_run(probe_t *p)
{
    memset(p, 0, sizeof(*p));
    probe_cuda(p);
    probe_vaapi(p);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    p->cpu_cores = n > 0 ? (int)n : 1;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0)
        p->memory_bytes = (uint64_t)pages * (uint64_t)page;
    /* GPU memory: NVML, when the driver has it (CUDA has no call for it in
     * FFmpeg's loader). */
    nvml_t *nv = p->ncuda ? nvml_open() : NULL;
    for (int i = 0; nv && i < p->ncuda; i++) {
        nvml_sample_t ns;
        if (nvml_sample(nv, (unsigned)p->cuda[i].index, &ns) == 0 &&
            ns.memory_total > 0)
            p->cuda[i].memory_bytes = (uint64_t)ns.memory_total;
    }
    nvml_close(&nv);
    static const char *const sw[] = {"libx264", "libx265", "libsvtav1", "aac"};
    size_t len = 0;
    for (size_t i = 0; i < sizeof(sw) / sizeof(sw[0]); i++) {
        if (!avcodec_find_encoder_by_name(sw[i]))
            continue;
        int w = snprintf(p->sw_encoders + len, sizeof(p->sw_encoders) - len,
                         "%s%s", len ? "," : "", sw[i]);
        if (w > 0)
            len += (size_t)w;
    }
}

/* Whether a profile naming the codec ("VAProfileH264Main") can encode. */
static bool has_encode(const probe_vaapi_t *v, const char *codec)
{
    for (int i = 0; i < v->nprofiles; i++) {
        if (v->profiles[i].encode && strstr(v->profiles[i].profile, codec))
            return true;
    }
    return false;
}

/* Whether a profile naming the codec has the decode entry point (VLD). */
static bool has_decode(const probe_vaapi_t *v, const char *codec)
{
    for (int i = 0; i < v->nprofiles; i++) {
        if (strstr(v->profiles[i].profile, codec) &&
            strstr(v->profiles[i].entrypoints, "VLD"))
            return true;
    }
    return false;
}

void probe_devices(const probe_t *p, hwplan_devices_t *out)
{
    memset(out, 0, sizeof(*out));
    out->cuda_driver = p->cuda_driver && p->ncuda > 0;
    for (int i = 0; i < p->ncuda; i++) {
        out->nvenc_h264 |= p->cuda[i].nvenc_h264 == PROBE_NVENC_OK;
        out->nvenc_hevc |= p->cuda[i].nvenc_hevc == PROBE_NVENC_OK;
        out->nvdec |= p->cuda[i].nvdec_h264;
        out->nvdec_hevc |= p->cuda[i].nvdec_hevc;
        out->nvdec_av1 |= p->cuda[i].nvdec_av1;
    }
    for (int i = 0; i < p->nvaapi; i++) {
        const probe_vaapi_t *v = &p->vaapi[i];
        if (!v->ok || out->vaapi_node)
            continue;
        out->vaapi_node = true;
        out->vaapi_h264 = has_encode(v, "H264");
        out->vaapi_hevc = has_encode(v, "HEVC");
        out->vaapi_av1_decode = has_decode(v, "AV1");
        snprintf(out->vaapi_device, sizeof(out->vaapi_device), "%s", v->path);
    }
}

static void print_text(const probe_t *p, FILE *f)
{
    fprintf(f, "CUDA:\n");
    if (!p->cuda_driver)
        fprintf(f, "  %s\n", p->cuda_error);
    for (int i = 0; i < p->ncuda; i++) {
        const probe_cuda_t *d = &p->cuda[i];
        fprintf(f, "  cuda:%d %s\n", d->index, d->name);
        fprintf(f, "    NVDEC: h264 %s, hevc %s, av1 %s\n",
                d->nvdec_h264 ? "yes" : "no", d->nvdec_hevc ? "yes" : "no",
                d->nvdec_av1 ? "yes" : "no");
        fprintf(f, "    NVENC: h264 %s, hevc %s%s%s\n",
                probe_nvenc_name(d->nvenc_h264),
                probe_nvenc_name(d->nvenc_hevc), d->nvenc_error[0] ? " - " : "",
                d->nvenc_error);
        if (d->nvenc_h264 == PROBE_NVENC_ABSENT && d->nvdec_h264)
            fprintf(f, "    this GPU decodes (NVDEC) but has no NVENC "
                       "encoder\n");
        if (d->nvenc_sessions)
            fprintf(f, "    NVENC sessions side by side: %s%d%s%s\n",
                    d->nvenc_limit[0] ? "" : "at least ", d->nvenc_sessions,
                    d->nvenc_limit[0] ? " - the next refused: " : "",
                    d->nvenc_limit);
        if (d->nvenc_h264 == PROBE_NVENC_SESSION_LIMIT)
            fprintf(f, "    NVENC session limit reached: other encode "
                       "sessions are open (GeForce cards allow a few)\n");
    }
    fprintf(f, "VAAPI:\n");
    if (!p->nvaapi)
        fprintf(f, "  no render node (/dev/dri/renderD*)\n");
    for (int i = 0; i < p->nvaapi; i++) {
        const probe_vaapi_t *v = &p->vaapi[i];
        if (!v->ok) {
            fprintf(f, "  %s: libva failed: %s\n", v->path, v->driver_error);
            continue;
        }
        fprintf(f, "  %s: %s\n", v->path, v->vendor);
        for (int k = 0; k < v->nprofiles; k++)
            fprintf(f, "    %-32s %s\n", v->profiles[k].profile,
                    v->profiles[k].entrypoints);
    }
    fprintf(f, "CPU:\n  %d cores; software encoders: %s\n", p->cpu_cores,
            p->sw_encoders[0] ? p->sw_encoders : "none");
}

static void print_json(const probe_t *p, FILE *f)
{
    json_t *root = json_object(), *cuda = json_object(), *devs = json_array();
    json_object_set_new(cuda, "driver", json_boolean(p->cuda_driver));
    if (!p->cuda_driver)
        json_object_set_new(cuda, "error", json_string(p->cuda_error));
    for (int i = 0; i < p->ncuda; i++) {
        const probe_cuda_t *d = &p->cuda[i];
        json_t *o = json_pack(
            "{s:i, s:s, s:b, s:b, s:b, s:s, s:s, s:s, s:I, s:i, s:s}", "index",
            d->index, "name", d->name, "nvdec_h264", d->nvdec_h264,
            "nvdec_hevc", d->nvdec_hevc, "nvdec_av1", d->nvdec_av1,
            "nvenc_h264", probe_nvenc_name(d->nvenc_h264), "nvenc_hevc",
            probe_nvenc_name(d->nvenc_hevc), "nvenc_error", d->nvenc_error,
            "memory_bytes", (json_int_t)d->memory_bytes, "nvenc_sessions",
            d->nvenc_sessions, "nvenc_limit", d->nvenc_limit);
        if (o)
            json_array_append_new(devs, o);
    }
    json_object_set_new(cuda, "devices", devs);
    json_object_set_new(root, "cuda", cuda);
    json_t *va = json_array();
    for (int i = 0; i < p->nvaapi; i++) {
        const probe_vaapi_t *v = &p->vaapi[i];
        json_t *o = json_object(), *profs = json_array();
        json_object_set_new(o, "path", json_string(v->path));
        json_object_set_new(o, "ok", json_boolean(v->ok));
        json_object_set_new(o, "vendor", json_string(v->vendor));
        if (!v->ok)
            json_object_set_new(o, "error", json_string(v->driver_error));
        for (int k = 0; k < v->nprofiles; k++) {
            json_t *pr =
                json_pack("{s:s, s:s, s:b}", "profile", v->profiles[k].profile,
                          "entrypoints", v->profiles[k].entrypoints, "encode",
                          v->profiles[k].encode);
            if (pr)
                json_array_append_new(profs, pr);
        }
        json_object_set_new(o, "profiles", profs);
        json_array_append_new(va, o);
    }
    json_object_set_new(root, "vaapi", va);
    json_object_set_new(root, "vaapi_error",
                        p->nvaapi ? json_null()
                                  : json_string("no render node"));
    json_t *cpu =
        json_pack("{s:i, s:I, s:s}", "cores", p->cpu_cores, "memory_bytes",
                  (json_int_t)p->memory_bytes, "encoders", p->sw_encoders);
    if (cpu)
        json_object_set_new(root, "cpu", cpu);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        fprintf(f, "%s\n", text);
    free(text);
    json_decref(root);
}

void probe_print(const probe_t *p, bool json, void *out)
{
    if (json)
        print_json(p, out);
    else
        print_text(p, out);
}
