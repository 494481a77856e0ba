/* `prism-worker calibrate`: timed encodes that measure device budgets. */
#include "calibrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/dict.h>
#include <libavutil/hwcontext.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

#include "avlog.h"
#include "clock.h"
#include "config.h"
#include "hwplan.h"
#include "log.h"
#include "probe.h"

#define MOD "calibrate"

int calibrate_load(const char *path, calibrate_budget_t *out, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[512];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        calibrate_budget_t b = {0};
        unsigned long long e, d;
        if (sscanf(p, "%63s %llu %llu", b.path, &e, &d) != 3 || n >= max) {
            log_error(MOD, "The budgets file has a bad line.",
                      "path=\"%s\" line=%d", path, lineno);
            fclose(f);
            return -EINVAL;
        }
        b.encode_budget = e;
        b.decode_budget = d;
        out[n++] = b;
    }
    fclose(f);
    return n;
}

int calibrate_save(const char *path, const calibrate_budget_t *b, int n)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        log_error(MOD, "Cannot write the budgets file.",
                  "call=fopen path=\"%s\" err=\"%s\"", tmp, strerror(e));
        return -e;
    }
    fprintf(f, "# Device budgets in luma pixels per second, measured by\n"
               "# `prism-worker calibrate`: PATH ENCODE DECODE\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s %" PRIu64 " %" PRIu64 "\n", b[i].path,
                b[i].encode_budget, b[i].decode_budget);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int e = errno;
        log_error(MOD, "Cannot write the budgets file.",
                  "call=rename path=\"%s\" err=\"%s\"", path, strerror(e));
        return -e;
    }
    return 0;
}

/* A moving gradient, so the encoder has motion to work on. */
static void fill_frame(AVFrame *fr, int i)
{
    for (int y = 0; y < fr->height; y++)
        for (int x = 0; x < fr->width; x++)
            fr->data[0][y * fr->linesize[0] + x] = (uint8_t)(x + y + i * 3);
    for (int y = 0; y < fr->height / 2; y++)
        for (int x = 0; x < fr->width / 2; x++) {
            fr->data[1][y * fr->linesize[1] + x] = (uint8_t)(128 + y + i * 2);
            fr->data[2][y * fr->linesize[2] + x] = (uint8_t)(64 + x + i * 5);
        }
}

/* Frees a pool made by make_pool. */
static void free_pool(AVFrame **pool)
{
    for (int i = 0; i < CALIBRATE_POOL; i++)
        av_frame_free(&pool[i]);
}

/* CALIBRATE_POOL distinct yuv420p frames, made before any timing so the
 * timed loops measure the device, not the frame generator. */
static int make_pool(AVFrame **pool, int w, int h)
{
    memset(pool, 0, CALIBRATE_POOL * sizeof(*pool));
    for (int i = 0; i < CALIBRATE_POOL; i++) {
        pool[i] = av_frame_alloc();
        if (!pool[i])
            return AVERROR(ENOMEM);
        pool[i]->format = AV_PIX_FMT_YUV420P;
        pool[i]->width = w;
        pool[i]->height = h;
        int ret = av_frame_get_buffer(pool[i], 0);
        if (ret < 0)
            return ret;
        fill_frame(pool[i], i);
    }
    return 0;
}

/* Sends a reference to pool frame n (pts n) to an encoder. */
static int send_pooled(AVCodecContext *enc, AVFrame *const *pool, int n)
{
    AVFrame *f = av_frame_clone(pool[n % CALIBRATE_POOL]);
    if (!f)
        return AVERROR(ENOMEM);
    f->pts = n;
    int ret = avcodec_send_frame(enc, f);
    av_frame_free(&f);
    return ret;
}

int calibrate_measure(const char *encoder, const char *options, int w, int h,
                      double seconds, double *enc_pps, double *dec_pps)
{
    const AVCodec *ec = avcodec_find_encoder_by_name(encoder);
    AVCodecContext *enc = NULL, *dec = NULL;
    AVFrame *pool[CALIBRATE_POOL] = {0};
    AVPacket *pkt = av_packet_alloc();
    AVPacket **kept = NULL;
    int nkept = 0, cap = 0, frames = 0, ret;
    AVDictionary *o = NULL;
    *enc_pps = *dec_pps = 0;
    if (!ec) {
        log_error(MOD, "No such encoder in this FFmpeg.", "encoder=%s",
                  encoder);
        ret = AVERROR_ENCODER_NOT_FOUND;
        goto end;
    }
    enc = avcodec_alloc_context3(ec);
    if (!enc || !pkt) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 30};
    enc->framerate = (AVRational){30, 1};
    enc->gop_size = 60;
    enc->max_b_frames = 0;
    enc->bit_rate = (int64_t)w * h * 3;
    if (options && *options)
        av_dict_parse_string(&o, options, "=", ":", 0);
    if ((ret = avcodec_open2(enc, ec, &o)) < 0) {
        log_error(MOD, "Cannot open the encoder.",
                  "call=avcodec_open2 encoder=%s err=\"%s\"", encoder,
                  av_err2str(ret));
        goto end;
    }
    if ((ret = make_pool(pool, w, h)) < 0)
        goto end;
    int64_t t0 = clock_mono_us();
    bool flushing = false;
    for (;;) {
        if (!flushing) {
            ret = send_pooled(enc, pool, frames++);
            if ((clock_mono_us() - t0) / 1e6 >= seconds) {
                avcodec_send_frame(enc, NULL);
                flushing = true;
            }
        }
        while ((ret = avcodec_receive_packet(enc, pkt)) >= 0) {
            if (nkept == cap) {
                cap = cap ? cap * 2 : 256;
                AVPacket **k = realloc(kept, (size_t)cap * sizeof(*k));
                if (!k) {
                    ret = AVERROR(ENOMEM);
                    goto end;
                }
                kept = k;
            }
            kept[nkept++] = av_packet_clone(pkt);
            av_packet_unref(pkt);
        }
        if (ret == AVERROR_EOF)
            break;
        if (ret != AVERROR(EAGAIN))
            goto end;
    }
    double el = (clock_mono_us() - t0) / 1e6;
    *enc_pps = el > 0 ? (double)frames * w * h / el : 0;

    /* Decode what was made: the decode budget of the same device class. */
    const AVCodec *dc = avcodec_find_decoder(ec->id);
    dec = dc ? avcodec_alloc_context3(dc) : NULL;
    if (dec && enc->extradata_size) {
        dec->extradata = av_mallocz((size_t)enc->extradata_size +
                                    AV_INPUT_BUFFER_PADDING_SIZE);
        if (dec->extradata) {
            memcpy(dec->extradata, enc->extradata, (size_t)enc->extradata_size);
            dec->extradata_size = enc->extradata_size;
        }
    }
    if (dec && avcodec_open2(dec, dc, NULL) >= 0) {
        AVFrame *out = av_frame_alloc();
        int decoded = 0;
        t0 = clock_mono_us();
        for (int i = 0; out && i <= nkept; i++) {
            avcodec_send_packet(dec, i < nkept ? kept[i] : NULL);
            while (avcodec_receive_frame(dec, out) >= 0)
                decoded++;
        }
        el = (clock_mono_us() - t0) / 1e6;
        *dec_pps = el > 0 ? (double)decoded * w * h / el : 0;
        av_frame_free(&out);
    }
    ret = 0;
end:
    for (int i = 0; i < nkept; i++)
        av_packet_free(&kept[i]);
    free(kept);
    av_dict_free(&o);
    av_packet_free(&pkt);
    free_pool(pool);
    avcodec_free_context(&enc);
    avcodec_free_context(&dec);
    return ret < 0 ? ret : 0;
}

/* ------------------------------------------------------------- CUDA */

/* `n` packets of an H.264 stream (libx264, Annex B, one closed GOP) of the
 * pool's frames, for the decoder to read again and again. */
static int make_packets(AVFrame *const *pool, int w, int h, AVPacket **pkts,
                        int n)
{
    const AVCodec *c = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc = c ? avcodec_alloc_context3(c) : NULL;
    AVDictionary *o = NULL;
    int got = 0, sent = 0, ret;
    if (!enc)
        return AVERROR_ENCODER_NOT_FOUND;
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 30};
    enc->gop_size = n;
    enc->max_b_frames = 0;
    enc->bit_rate = (int64_t)w * h * 3;
    av_dict_set(&o, "preset", "ultrafast", 0);
    ret = avcodec_open2(enc, c, &o);
    av_dict_free(&o);
    while (ret >= 0 && got < n) {
        ret = sent < n ? send_pooled(enc, pool, sent++)
                       : avcodec_send_frame(enc, NULL);
        if (ret == AVERROR_EOF)
            break;
        AVPacket *pkt = av_packet_alloc();
        while (pkt && got < n && avcodec_receive_packet(enc, pkt) >= 0) {
            pkts[got++] = pkt;
            pkt = av_packet_alloc();
        }
        av_packet_free(&pkt);
    }
    avcodec_free_context(&enc);
    return ret < 0 && ret != AVERROR_EOF ? ret : got;
}

/* NVDEC only: no software format, or the budget would be the CPU's. */
static enum AVPixelFormat cuda_only(AVCodecContext *ctx,
                                    const enum AVPixelFormat *fmts)
{
    (void)ctx;
    return hwplan_pick_format(AV_PIX_FMT_CUDA, fmts) == AV_PIX_FMT_CUDA
               ? AV_PIX_FMT_CUDA
               : AV_PIX_FMT_NONE;
}

/* buffer (device frames like f) -> scale_cuda to half size -> sink. */
static int scale_graph(AVBufferRef *dev, const AVFrame *f, AVFilterGraph **gp,
                       AVFilterContext **src, AVFilterContext **sink)
{
    AVFilterGraph *g = *gp = avfilter_graph_alloc();
    AVFilterContext *scale = NULL;
    char args[256];
    int ret;
    if (!g)
        return AVERROR(ENOMEM);
    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=1/30:pixel_aspect=1/1",
             f->width, f->height, f->format);
    if ((ret = avfilter_graph_create_filter(src, avfilter_get_by_name("buffer"),
                                            "in", args, NULL, g)) < 0)
        return ret;
    AVBufferSrcParameters *par = av_buffersrc_parameters_alloc();
    if (!par)
        return AVERROR(ENOMEM);
    par->hw_frames_ctx = f->hw_frames_ctx;
    ret = av_buffersrc_parameters_set(*src, par);
    av_free(par);
    snprintf(args, sizeof(args), "w=%d:h=%d:format=yuv420p",
             (f->width / 2) & ~1, (f->height / 2) & ~1);
    if (ret < 0 ||
        (ret = avfilter_graph_create_filter(&scale,
                                            avfilter_get_by_name("scale_cuda"),
                                            "scale", args, NULL, g)) < 0 ||
        (ret = avfilter_graph_create_filter(sink,
                                            avfilter_get_by_name("buffersink"),
                                            "out", NULL, NULL, g)) < 0)
        return ret;
    scale->hw_device_ctx = av_buffer_ref(dev);
    if (!scale->hw_device_ctx)
        return AVERROR(ENOMEM);
    if ((ret = avfilter_link(*src, 0, scale, 0)) < 0 ||
        (ret = avfilter_link(scale, 0, *sink, 0)) < 0)
        return ret;
    return avfilter_graph_config(g, NULL);
}

/* Decodes pkts through NVDEC again and again for `seconds`, each frame
 * scaled on the GPU (scale_cuda), nothing downloaded: source pixels per
 * second. */
static int cuda_decode(AVBufferRef *dev, AVPacket **pkts, int npkts,
                       double seconds, double *pps)
{
    const char *name = hwplan_hw_decoder(HWPLAN_HYBRID, "h264");
    const AVCodec *dc = name ? avcodec_find_decoder_by_name(name) : NULL;
    AVCodecContext *dec = dc ? avcodec_alloc_context3(dc) : NULL;
    AVFilterGraph *g = NULL;
    AVFilterContext *src = NULL, *sink = NULL;
    AVFrame *f = av_frame_alloc(), *out = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int64_t decoded = 0, t0 = 0;
    int ret = npkts > 0 ? AVERROR(ENOMEM) : AVERROR(EINVAL);
    if (!dec || !f || !out || !pkt || npkts <= 0)
        goto end;
    dec->hw_device_ctx = av_buffer_ref(dev);
    dec->get_format = cuda_only;
    if ((ret = avcodec_open2(dec, dc, NULL)) < 0)
        goto end;
    t0 = clock_mono_us();
    for (int i = 0; (clock_mono_us() - t0) / 1e6 < seconds; i++) {
        if ((ret = av_packet_ref(pkt, pkts[i % npkts])) < 0)
            goto end;
        pkt->pts = pkt->dts = i;
        ret = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            goto end;
        while (avcodec_receive_frame(dec, f) >= 0) {
            if (!g && (ret = scale_graph(dev, f, &g, &src, &sink)) < 0)
                goto end;
            if ((ret = av_buffersrc_add_frame(src, f)) < 0)
                goto end;
            while (av_buffersink_get_frame(sink, out) >= 0)
                av_frame_unref(out);
            decoded++;
        }
    }
    double el = (clock_mono_us() - t0) / 1e6;
    *pps =
        el > 0 && npkts ? (double)decoded * dec->width * dec->height / el : 0;
    ret = 0;
end:
    av_packet_free(&pkt);
    av_frame_free(&f);
    av_frame_free(&out);
    avfilter_graph_free(&g);
    avcodec_free_context(&dec);
    return ret;
}

typedef struct {
    AVCodecContext *enc;
    AVFrame *const *pool; /* device frames */
    double seconds;
    int64_t frames;
    int ret;
} enc_job_t;

/* One NVENC session fed from frames already on the device. */
static void *enc_thread(void *arg)
{
    enc_job_t *j = arg;
    AVPacket *pkt = av_packet_alloc();
    int64_t t0 = clock_mono_us();
    int ret = pkt ? 0 : AVERROR(ENOMEM);
    while (ret >= 0 && (clock_mono_us() - t0) / 1e6 < j->seconds) {
        ret = send_pooled(j->enc, j->pool, (int)j->frames);
        if (ret >= 0)
            j->frames++;
        else if (ret == AVERROR(EAGAIN))
            ret = 0;
        while (ret >= 0 && (ret = avcodec_receive_packet(j->enc, pkt)) >= 0)
            av_packet_unref(pkt);
        if (ret == AVERROR(EAGAIN))
            ret = 0;
    }
    av_packet_free(&pkt);
    j->ret = ret;
    return NULL;
}

/* Opens h264_nvenc sessions with the options sessions use until the
 * driver refuses one or `max` are open; FFmpeg's words for the refusal go
 * to why. Returns how many opened. */
static int open_sessions(AVBufferRef *frames, int w, int h, int max,
                         AVCodecContext **encs, char *why, size_t whylen)
{
    const AVCodec *c = avcodec_find_encoder_by_name("h264_nvenc");
    ladder_rendition_t r = {.width = w,
                            .height = h,
                            .fps_num = 30,
                            .fps_den = 1,
                            .bitrate_kbps = (int)((int64_t)w * h * 3 / 1000),
                            .codec = LADDER_CODEC_H264};
    hwplan_encode_t e = {.segment_s = 2, .live = true, .bframes = -1};
    char opts[HWPLAN_OPTS_MAX], fflog[512];
    int n = 0;
    if (!c || hwplan_encoder_opts(HWPLAN_NVENC, &r, &e, opts, sizeof(opts)))
        return 0;
    for (; n < max; n++) {
        AVCodecContext *enc = avcodec_alloc_context3(c);
        AVDictionary *o = NULL;
        if (!enc)
            break;
        enc->width = w;
        enc->height = h;
        enc->pix_fmt = AV_PIX_FMT_CUDA;
        enc->time_base = (AVRational){1, 30};
        enc->framerate = (AVRational){30, 1};
        enc->hw_frames_ctx = av_buffer_ref(frames);
        av_dict_parse_string(&o, opts, "=", " ", 0);
        avlog_capture_begin(fflog, sizeof(fflog));
        int ret = avcodec_open2(enc, c, &o);
        avlog_capture_end();
        av_dict_free(&o);
        if (ret < 0) {
            snprintf(why, whylen, "session %d refused: %s (%s)", n + 1,
                     avlog_capture_last(fflog), av_err2str(ret));
            avcodec_free_context(&enc);
            break;
        }
        encs[n] = enc;
    }
    return n;
}

/* The pool on the device: CUDA frames uploaded once, before timing. */
static int upload_pool(AVBufferRef *dev, AVFrame *const *cpu, AVFrame **gpu,
                       AVBufferRef **framesp, int w, int h)
{
    AVBufferRef *fr = *framesp = av_hwframe_ctx_alloc(dev);
    if (!fr)
        return AVERROR(ENOMEM);
    AVHWFramesContext *fc = (AVHWFramesContext *)fr->data;
    fc->format = AV_PIX_FMT_CUDA;
    fc->sw_format = AV_PIX_FMT_YUV420P;
    fc->width = w;
    fc->height = h;
    int ret = av_hwframe_ctx_init(fr);
    for (int i = 0; ret >= 0 && i < CALIBRATE_POOL; i++) {
        gpu[i] = av_frame_alloc();
        if (!gpu[i])
            return AVERROR(ENOMEM);
        if ((ret = av_hwframe_get_buffer(fr, gpu[i], 0)) >= 0)
            ret = av_hwframe_transfer_data(gpu[i], cpu[i], 0);
    }
    return ret;
}

/* Runs NVENC sessions (as many as open, up to max) side by side. */
static int cuda_encode(AVBufferRef *dev, AVFrame *const *cpu, int w, int h,
                       int max, double seconds, calibrate_cuda_t *out)
{
    AVFrame *gpu[CALIBRATE_POOL] = {0};
    AVBufferRef *frames = NULL;
    AVCodecContext *encs[CALIBRATE_MAX_SESSIONS] = {0};
    enc_job_t jobs[CALIBRATE_MAX_SESSIONS];
    pthread_t th[CALIBRATE_MAX_SESSIONS];
    int n = 0, started = 0;
    int ret = upload_pool(dev, cpu, gpu, &frames, w, h);
    if (ret < 0)
        goto end;
    if (max > CALIBRATE_MAX_SESSIONS)
        max = CALIBRATE_MAX_SESSIONS;
    n = open_sessions(frames, w, h, max, encs, out->note, sizeof(out->note));
    if (!n) {
        ret = AVERROR(ENODEV);
        goto end;
    }
    int64_t t0 = clock_mono_us(), total = 0;
    for (; started < n; started++) {
        jobs[started] = (enc_job_t){encs[started], gpu, seconds, 0, 0};
        if (pthread_create(&th[started], NULL, enc_thread, &jobs[started]))
            break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].frames;
    }
    double el = (clock_mono_us() - t0) / 1e6;
    out->sessions = started;
    out->encode_pps = el > 0 ? (double)total * w * h / el : 0;
end:
    for (int i = 0; i < n; i++)
        avcodec_free_context(&encs[i]);
    free_pool(gpu);
    av_buffer_unref(&frames);
    return ret;
}

int calibrate_cuda(int index, bool nvenc, int max_sessions, int w, int h,
                   double seconds, calibrate_cuda_t *out)
{
    AVBufferRef *dev = NULL;
    AVDictionary *o = NULL;
    AVFrame *pool[CALIBRATE_POOL] = {0};
    AVPacket *pkts[4 * CALIBRATE_POOL] = {0};
    char idx[16];
    int ret, npkts = 0;
    memset(out, 0, sizeof(*out));
    snprintf(idx, sizeof(idx), "%d", index);
    av_dict_set(&o, "primary_ctx", "1", 0);
    ret = av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_CUDA, idx, o, 0);
    av_dict_free(&o);
    if (ret < 0) {
        snprintf(out->note, sizeof(out->note), "no CUDA device %d: %s", index,
                 av_err2str(ret));
        log_error(MOD, "Cannot open the CUDA device.",
                  "call=av_hwdevice_ctx_create device=%d err=\"%s\"", index,
                  av_err2str(ret));
        return -ENODEV;
    }
    /* Everything the timed loops use is made first. */
    if ((ret = make_pool(pool, w, h)) < 0 ||
        (ret = npkts = make_packets(pool, w, h, pkts, 4 * CALIBRATE_POOL)) < 0)
        goto end;
    if ((ret = cuda_decode(dev, pkts, npkts, seconds, &out->decode_pps)) < 0) {
        snprintf(out->note, sizeof(out->note), "NVDEC decode failed: %s",
                 av_err2str(ret));
        log_error(MOD, "NVDEC could not be measured.",
                  "device=cuda:%d err=\"%s\"", index, av_err2str(ret));
    }
    if (nvenc && cuda_encode(dev, pool, w, h, max_sessions, seconds, out) < 0)
        log_error(MOD, "NVENC could not be measured.",
                  "device=cuda:%d reason=\"%s\"", index, out->note);
    ret = out->decode_pps > 0 || out->encode_pps > 0 ? 0 : -EIO;
end:
    for (int i = 0; i < npkts; i++)
        av_packet_free(&pkts[i]);
    free_pool(pool);
    av_buffer_unref(&dev);
    return ret < 0 ? ret : 0;
}

typedef struct {
    char output[1024];
    double seconds;
    int64_t width, height;
    char preset[32];
    double headroom;
    int64_t max_sessions;
} calib_cfg_t;

#define F(f) offsetof(calib_cfg_t, f)
#define S(f) sizeof(((calib_cfg_t *)0)->f)
static const config_option_t calib_options[] = {
    {"output", 'o', CONFIG_STRING, "budgets.txt", 0, 0, F(output), S(output),
     "Budgets file to write (the worker's budgets_file)"},
    {"seconds", 0, CONFIG_DOUBLE, "3", 0.5, 120, F(seconds), 0,
     "Encode time per device"},
    {"width", 0, CONFIG_INT, "1280", 64, 7680, F(width), 0, "Test frame width"},
    {"height", 0, CONFIG_INT, "720", 64, 4320, F(height), 0,
     "Test frame height"},
    {"preset", 0, CONFIG_STRING, "veryfast", 0, 0, F(preset), S(preset),
     "x264 preset measured for the CPU (the worker's preset)"},
    {"headroom", 0, CONFIG_DOUBLE, "0.8", 0.1, 1, F(headroom), 0,
     "Fraction of the measured rate written as the budget"},
    {"max-sessions", 0, CONFIG_INT, "8", 1, CALIBRATE_MAX_SESSIONS,
     F(max_sessions), 0,
     "NVENC sessions run side by side at most (fewer when the GPU refuses)"},
};
#undef F
#undef S

int calibrate_cmd(int argc, char **argv)
{
    calib_cfg_t cfg;
    config_args_t args = {0};
    char err[512];
    const char *usage = "prism-worker calibrate [-o FILE] [--seconds S] "
                        "[--max-sessions N]";
    int ret = config_parse(calib_options,
                           sizeof(calib_options) / sizeof(calib_options[0]),
                           &cfg, usage, argc, argv, &args, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "prism-worker calibrate: %s\n", err);
        return 2;
    }
    bool help = args.help;
    config_args_free(&args);
    if (help)
        return 0;
    av_log_set_level(AV_LOG_QUIET);
    static probe_t p;
    probe_run(&p);
    calibrate_budget_t b[CALIBRATE_MAX];
    int n = 0;
    int w = (int)cfg.width & ~1, h = (int)cfg.height & ~1;
    for (int i = 0; i < p.ncuda && n < CALIBRATE_MAX - 1; i++) {
        const probe_cuda_t *c = &p.cuda[i];
        bool nvenc = c->nvenc_h264 == PROBE_NVENC_OK;
        calibrate_cuda_t m;
        if (!nvenc && !c->nvdec_h264)
            continue;
        if (calibrate_cuda(c->index, nvenc, (int)cfg.max_sessions, w, h,
                           cfg.seconds, &m) < 0)
            continue;
        snprintf(b[n].path, sizeof(b[n].path), "cuda:%d", c->index);
        b[n].encode_budget = (uint64_t)(m.encode_pps * cfg.headroom);
        b[n].decode_budget = (uint64_t)(m.decode_pps * cfg.headroom);
        printf("cuda:%d %s: NVENC %d session(s)%s%s; NVDEC + scale_cuda "
               "measured\n",
               c->index, c->name, m.sessions, m.note[0] ? " - " : "", m.note);
        n++;
    }
    char opts[96];
    double e, d;
    snprintf(opts, sizeof(opts), "preset=%s", cfg.preset);
    if (calibrate_measure("libx264", opts, w, h, cfg.seconds, &e, &d) == 0) {
        snprintf(b[n].path, sizeof(b[n].path), "cpu");
        b[n].encode_budget = (uint64_t)(e * cfg.headroom);
        b[n].decode_budget = (uint64_t)(d * cfg.headroom);
        n++;
    }
    for (int i = 0; i < n; i++)
        printf("%-24s encode %8.1f Mpx/s  decode %8.1f Mpx/s\n", b[i].path,
               b[i].encode_budget / 1e6, b[i].decode_budget / 1e6);
    if (!n) {
        fprintf(stderr, "prism-worker calibrate: no device could encode\n");
        return 1;
    }
    if (calibrate_save(cfg.output, b, n) < 0)
        return 1;
    printf("wrote %s (VAAPI devices keep their configured budgets)\n",
           cfg.output);
    return 0;
}
