/* The thumbnail of a transcode session: a frame now and then as thumb.jpg. */
#include "thumbnail.h"

#include <libavutil/hwcontext.h>
#include <libswscale/swscale.h>

#include "log.h"
#include "output_files.h"

#define MOD "transcode"

void thumbnail(transcode_session_t *s, const AVFrame *in)
{
    AVFrame *sw = NULL, *yuv = NULL;
    AVPacket *pkt = NULL;
    const AVFrame *f = in;
    int ret;

    if (in->hw_frames_ctx) {
        sw = av_frame_alloc();
        if (!sw || av_hwframe_transfer_data(sw, in, 0) < 0)
            goto end;
        f = sw;
    }
    if (!s->jpeg) {
        const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
        if (!c || !(s->jpeg = avcodec_alloc_context3(c)))
            goto end;
        s->jpeg->width = f->width;
        s->jpeg->height = f->height;
        s->jpeg->pix_fmt = AV_PIX_FMT_YUVJ420P;
        s->jpeg->time_base = (AVRational){1, 1};
        s->jpeg->flags |= AV_CODEC_FLAG_QSCALE;
        s->jpeg->global_quality = FF_QP2LAMBDA * 4;
        if ((ret = avcodec_open2(s->jpeg, c, NULL)) < 0) {
            log_warn(MOD, "Cannot open the thumbnail encoder.",
                     "call=avcodec_open2 err=\"%s\"", ERRSTR(ret));
            avcodec_free_context(&s->jpeg);
            s->o.thumbnail_s = 0;
            goto end;
        }
    }
    yuv = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!yuv || !pkt)
        goto end;
    yuv->width = s->jpeg->width;
    yuv->height = s->jpeg->height;
    yuv->format = AV_PIX_FMT_YUVJ420P;
    if (av_frame_get_buffer(yuv, 0) < 0)
        goto end;
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format,
                                  yuv->width, yuv->height, yuv->format,
                                  SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws)
        goto end;
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0,
              f->height, yuv->data, yuv->linesize);
    yuv->pts = s->thumbs++;
    if (avcodec_send_frame(s->jpeg, yuv) < 0 ||
        avcodec_receive_packet(s->jpeg, pkt) < 0)
        goto end;
    output_files_put(s, "thumb.jpg", pkt->data, (size_t)pkt->size);
end:
    av_packet_free(&pkt);
    av_frame_free(&yuv);
    av_frame_free(&sw);
}
