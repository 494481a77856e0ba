/* The audio of a transcode session: AAC copied, or decoded and encoded once. */

/*
 * One audio stream feeds every rendition. AAC is copied; anything else
 * (and ADTS AAC for fMP4) is decoded, resampled by a small filter graph
 * (aresample, aformat) and encoded once to AAC. The packets go to
 * hls_output_emit for every rendition; the hold that keeps each
 * rendition's audio until its video has passed it is in hls_output.c.
 * Where a continued audio-only stream begins is the session's decision
 * (transcode.c), made before a packet comes here.
 */
#include "transcode_audio.h"

#include <stdio.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>

#include "hls_output.h"
#include "hls_master.h"
#include "log.h"

#define MOD "transcode"

static int drain_audio_encoder(transcode_session_t *s)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;
    if (!pkt)
        return AVERROR(ENOMEM);
    for (;;) {
        ret = avcodec_receive_packet(s->aenc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            log_error(MOD, "The audio encoder failed.",
                      "call=avcodec_receive_packet err=\"%s\"", ERRSTR(ret));
            break;
        }
        ret = hls_output_emit(s, -1, pkt, s->aenc->time_base, true);
        av_packet_unref(pkt);
        if (ret < 0)
            break;
    }
    av_packet_free(&pkt);
    return ret;
}

static int configure_agraph(transcode_session_t *s, const AVFrame *f)
{
    char args[512], layout[128], outl[64];
    int ret;

    s->agraph = avfilter_graph_alloc();
    if (!s->agraph)
        return AVERROR(ENOMEM);
    AVChannelLayout cl;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&cl, f->ch_layout.nb_channels);
    else
        av_channel_layout_copy(&cl, &f->ch_layout);
    av_channel_layout_describe(&cl, layout, sizeof(layout));
    av_channel_layout_uninit(&cl);
    av_channel_layout_describe(&s->aenc->ch_layout, outl, sizeof(outl));
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             s->atb.num, s->atb.den, f->sample_rate,
             av_get_sample_fmt_name(f->format), layout);
    ret =
        avfilter_graph_create_filter(&s->absrc, avfilter_get_by_name("abuffer"),
                                     "ain", args, NULL, s->agraph);
    if (ret < 0)
        goto end;
    ret = avfilter_graph_create_filter(&s->asink,
                                       avfilter_get_by_name("abuffersink"),
                                       "aout", NULL, NULL, s->agraph);
    if (ret < 0)
        goto end;
    AVFilterContext *res, *fmt;
    snprintf(args, sizeof(args),
             "sample_fmts=fltp:sample_rates=%d:"
             "channel_layouts=%s",
             s->aenc->sample_rate, outl);
    if ((ret = avfilter_graph_create_filter(
             &res, avfilter_get_by_name("aresample"), "ares", "async=1", NULL,
             s->agraph)) < 0 ||
        (ret =
             avfilter_graph_create_filter(&fmt, avfilter_get_by_name("aformat"),
                                          "afmt", args, NULL, s->agraph)) < 0)
        goto end;
    if ((ret = avfilter_link(s->absrc, 0, res, 0)) < 0 ||
        (ret = avfilter_link(res, 0, fmt, 0)) < 0 ||
        (ret = avfilter_link(fmt, 0, s->asink, 0)) < 0)
        goto end;
    ret = avfilter_graph_config(s->agraph, NULL);
    if (ret < 0)
        goto end;
    av_buffersink_set_frame_size(s->asink, (unsigned)s->aenc->frame_size);
end:
    if (ret < 0)
        log_error(MOD, "Cannot build the audio filter graph.",
                  "call=avfilter_graph_config args=\"%s\" err=\"%s\"", args,
                  ERRSTR(ret));
    return ret;
}

static int pull_audio(transcode_session_t *s)
{
    AVFrame *f = av_frame_alloc();
    int ret = 0;
    if (!f)
        return AVERROR(ENOMEM);
    for (;;) {
        ret = av_buffersink_get_frame(s->asink, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0)
            break;
        ret = avcodec_send_frame(s->aenc, f);
        av_frame_unref(f);
        if (ret < 0) {
            log_error(MOD, "The audio encoder refused a frame.",
                      "call=avcodec_send_frame err=\"%s\"", ERRSTR(ret));
            break;
        }
        if ((ret = drain_audio_encoder(s)) < 0)
            break;
    }
    av_frame_free(&f);
    return ret;
}

int transcode_audio_packet(transcode_session_t *s, const AVPacket *pkt)
{
    if (s->acopy)
        return hls_output_emit(s, -1, pkt, s->atb, true);
    AVFrame *f = av_frame_alloc();
    int ret;
    if (!f)
        return AVERROR(ENOMEM);
    ret = avcodec_send_packet(s->adec, pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
        transcode_count_corrupt(s, "audio_packet", ret);
        s->skip_to_key = s->vi >= 0; /* audio has no keyframes to wait for */
        ret = 0;
        goto end;
    }
    for (;;) {
        ret = avcodec_receive_frame(s->adec, f);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            transcode_count_corrupt(s, "audio_frame", ret);
            ret = 0;
            break;
        }
        f->pts = f->best_effort_timestamp;
        if (!s->agraph && (ret = configure_agraph(s, f)) < 0)
            break;
        ret = av_buffersrc_add_frame_flags(s->absrc, f, 0);
        av_frame_unref(f);
        if (ret < 0) {
            log_error(MOD, "The audio filter refused a frame.",
                      "call=av_buffersrc_add_frame_flags err=\"%s\"",
                      ERRSTR(ret));
            break;
        }
        if ((ret = pull_audio(s)) < 0)
            break;
    }
end:
    av_frame_free(&f);
    return ret;
}

int transcode_audio_flush(transcode_session_t *s)
{
    int ret;
    if (s->agraph) {
        if ((ret = av_buffersrc_add_frame(s->absrc, NULL)) < 0 ||
            (ret = pull_audio(s)) < 0)
            return ret;
    }
    if ((ret = avcodec_send_frame(s->aenc, NULL)) < 0 ||
        (ret = drain_audio_encoder(s)) < 0)
        return ret;
    return 0;
}

int transcode_audio_open(transcode_session_t *s)
{
    const AVCodecParameters *par = s->src->streams[s->ai].par;
    int ret;

    s->atb = s->src->streams[s->ai].time_base;
    /* ADTS AAC (no extradata) cannot go into fMP4 as is: re-encode it. */
    if (par->codec_id == AV_CODEC_ID_AAC &&
        (!s->o.fmp4 || par->extradata_size > 0)) {
        s->acopy = true;
        hls_codec_aac(par->profile, s->acodec, sizeof(s->acodec));
        return 0;
    }
    const AVCodec *dec = avcodec_find_decoder(par->codec_id);
    const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!dec)
        /* transcode_plan_check_codecs said why. */
        return AVERROR_DECODER_NOT_FOUND;
    if (!enc) {
        log_error(MOD, "This FFmpeg has no AAC encoder.",
                  "call=avcodec_find_encoder input=\"%s\"", s->src->name);
        return AVERROR_ENCODER_NOT_FOUND;
    }
    s->adec = avcodec_alloc_context3(dec);
    s->aenc = avcodec_alloc_context3(enc);
    if (!s->adec || !s->aenc)
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(s->adec, par)) < 0)
        return ret;
    s->adec->pkt_timebase = s->atb;
    if ((ret = avcodec_open2(s->adec, dec, NULL)) < 0) {
        log_error(MOD, "Cannot open the audio decoder.",
                  "call=avcodec_open2 codec=%s err=\"%s\"", dec->name,
                  ERRSTR(ret));
        return ret;
    }
    static const int rates[] = {48000, 44100, 32000, 24000, 22050, 16000};
    int rate = 48000;
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (par->sample_rate == rates[i])
            rate = rates[i];
    }
    int ch = par->ch_layout.nb_channels >= 2 ? 2 : 1;
    av_channel_layout_default(&s->aenc->ch_layout, ch);
    s->aenc->sample_rate = rate;
    s->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    s->aenc->bit_rate = (int64_t)s->o.audio_kbps * 1000 * ch / 2;
    s->aenc->time_base = (AVRational){1, rate};
    s->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(s->aenc, enc, NULL)) < 0) {
        log_error(MOD, "Cannot open the AAC encoder.",
                  "call=avcodec_open2 err=\"%s\"", ERRSTR(ret));
        return ret;
    }
    hls_codec_aac(s->aenc->profile >= 0 ? s->aenc->profile : 1, s->acodec,
                  sizeof(s->acodec));
    return 0;
}
