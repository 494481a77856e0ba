/* `prism-worker calibrate`: timed encodes that measure device budgets. */
#include "calibrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

#include "clock.h"
#include "config.h"
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

int calibrate_measure(const char *encoder, const char *options, int w, int h,
                      double seconds, double *enc_pps, double *dec_pps)
{
    const AVCodec *ec = avcodec_find_encoder_by_name(encoder);
    AVCodecContext *enc = NULL, *dec = NULL;
    AVFrame *fr = NULL;
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
    fr = av_frame_alloc();
    if (!enc || !fr || !pkt) {
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
    fr->format = AV_PIX_FMT_YUV420P;
    fr->width = w;
    fr->height = h;
    if ((ret = av_frame_get_buffer(fr, 0)) < 0)
        goto end;
    int64_t t0 = clock_mono_us();
    bool flushing = false;
    for (;;) {
        if (!flushing) {
            if ((ret = av_frame_make_writable(fr)) < 0)
                goto end;
            fill_frame(fr, frames);
            fr->pts = frames++;
            ret = avcodec_send_frame(enc, fr);
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
    av_frame_free(&fr);
    avcodec_free_context(&enc);
    avcodec_free_context(&dec);
    return ret < 0 ? ret : 0;
}

typedef struct {
    char output[1024];
    double seconds;
    int64_t width, height;
    char preset[32];
    double headroom;
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
};
#undef F
#undef S

int calibrate_cmd(int argc, char **argv)
{
    calib_cfg_t cfg;
    config_args_t args = {0};
    char err[512];
    const char *usage = "prism-worker calibrate [-o FILE] [--seconds S]";
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
        if (p.cuda[i].nvenc_h264 != PROBE_NVENC_OK)
            continue;
        char opts[64];
        double e, d;
        snprintf(opts, sizeof(opts), "gpu=%d:preset=p4", p.cuda[i].index);
        if (calibrate_measure("h264_nvenc", opts, w, h, cfg.seconds, &e, &d) <
            0)
            continue;
        snprintf(b[n].path, sizeof(b[n].path), "cuda:%d", p.cuda[i].index);
        b[n].encode_budget = (uint64_t)(e * cfg.headroom);
        b[n].decode_budget = (uint64_t)(d * cfg.headroom);
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
