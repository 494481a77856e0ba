/* A publisher: its stream in the hub, its packets, timestamps, stats, end. */
#include "publisher.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "flv_tag.h"
#include "log.h"
#include "video_size.h"

#define RTMP_TB_DEN 1000
#define TRACK_VIDEO 0
#define TRACK_AUDIO 1
/* Video packets read for the size when onMetaData gave none; then the
 * search stops (logged). */
#define VSIZE_MAX_PACKETS 600
/* How long a stream with audio waits for video before it is audio-only. */
#define AUDIO_ONLY_AFTER_MS 2000

struct publisher {
    publisher_t *next, *prev;
    publisher_list_t *list;
    hub_stream_t *stream;
    char stream_id[128];
    char client[128];
    uint32_t vcodec, acodec;
    uint32_t width, height, sample_rate, channels;
    double meta_fps;
    uint32_t last_ts[HUB_MAX_TRACKS];
    int64_t ts_hi[HUB_MAX_TRACKS];
    bool ts_seen[HUB_MAX_TRACKS];
    uint64_t prev_bytes, prev_frames;
    int64_t prev_ms;
    double fps, kbps;
    int64_t audio_since_ms; /* first scan with audio and no video */
    bool audio_only;        /* no video AUDIO_ONLY_AFTER_MS after audio */
    video_size_t *vsize;    /* RTMP without a size in onMetaData */
    uint32_t vsize_packets;
};

struct publisher_list {
    hub_t *hub;
    publisher_send_fn send;
    void *opaque;
    publisher_t *head;
    atomic_ullong live;
    bool stats_due;
};

/* ------------------------------------------------------------ the list */

publisher_list_t *publisher_list_new(hub_t *hub, publisher_send_fn send,
                                     void *opaque)
{
    publisher_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->hub = hub;
    l->send = send;
    l->opaque = opaque;
    return l;
}

void publisher_list_free(publisher_list_t **lp, const char *why)
{
    if (!lp || !*lp)
        return;
    publisher_list_t *l = *lp;
    while (l->head) {
        publisher_t *p = l->head;
        publisher_end(&p, why);
    }
    free(l);
    *lp = NULL;
}

uint64_t publisher_list_live(const publisher_list_t *l)
{
    return atomic_load(&l->live);
}

bool publisher_list_stats_due(const publisher_list_t *l)
{
    return l->stats_due;
}

/* The IngestStats of p, rates measured over the secs since the last. */
static void send_stats(publisher_list_t *l, publisher_t *p, int64_t now,
                       double secs)
{
    const hub_stream_stats_t *st = hub_stream_stats(p->stream);
    p->kbps = (double)(st->bytes_in - p->prev_bytes) * 8 / 1000 / secs;
    p->fps = (double)(st->video_frames - p->prev_frames) / secs;
    p->prev_bytes = st->bytes_in;
    p->prev_frames = st->video_frames;
    p->prev_ms = now;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__IngestStats is = PRISM__INGEST_STATS__INIT;
    Prism__SourceInfo src = PRISM__SOURCE_INFO__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_INGEST_STATS;
    env.ingest_stats = &is;
    is.stream_id = p->stream_id;
    is.source = &src;
    /* Audio-only (radio, music): the audio codec is said only with video,
     * or once publisher_list_scan found none (the coordinator places a
     * stream naming audio and no video as audio-only). */
    src.video_codec = (Prism__Codec)p->vcodec;
    src.audio_codec =
        (Prism__Codec)(p->vcodec || p->audio_only ? p->acodec : 0);
    src.width = p->width;
    src.height = p->height;
    /* The encoder's declared rate (onMetaData) when it gave one: the rate
     * measured over the first second is off, and the ladder is fitted to
     * it. */
    double rate = p->meta_fps > 0 ? p->meta_fps : p->fps;
    src.fps_num = (uint32_t)(rate * 1000 + 0.5);
    src.fps_den = 1000;
    src.sample_rate = p->sample_rate;
    src.channels = p->channels;
    src.video_kbps = (uint32_t)p->kbps;
    src.client = p->client;
    is.bitrate_kbps = p->kbps;
    is.fps = p->fps;
    is.keyframe_interval_s = st->key_interval_s;
    is.dropped_packets = st->dropped;
    is.bytes_in = st->bytes_in;
    is.subscribers = st->subscribers;
    l->send(l->opaque, &env);
    log_debug("ingest", "Stream stats.",
              "stream=%s kbps=%.0f fps=%.1f gop_s=%.2f dropped=%llu "
              "subscribers=%u client=\"%s\"",
              p->stream_id, p->kbps, p->fps, st->key_interval_s,
              (unsigned long long)st->dropped, st->subscribers, p->client);
}

void publisher_list_send_stats(publisher_list_t *l, int64_t now)
{
    l->stats_due = false;
    for (publisher_t *p = l->head; p; p = p->next) {
        double secs = (now - p->prev_ms) / 1000.0;
        if (secs > 0)
            send_stats(l, p, now, secs);
    }
}

/*
 * A stream whose audio came and whose video has not come
 * AUDIO_ONLY_AFTER_MS later is audio-only; its stats are due at once (the
 * coordinator waits for them to place it).
 */
void publisher_list_scan(publisher_list_t *l, int64_t now)
{
    for (publisher_t *p = l->head; p; p = p->next) {
        if (!p->acodec || p->vcodec || p->audio_only)
            continue;
        if (!p->audio_since_ms)
            p->audio_since_ms = now;
        if (now - p->audio_since_ms < AUDIO_ONLY_AFTER_MS)
            continue;
        p->audio_only = true;
        l->stats_due = true;
        log_info("ingest", "Audio-only stream: no video came.",
                 "stream=%s codec=%u waited_ms=%lld", p->stream_id, p->acodec,
                 (long long)(now - p->audio_since_ms));
    }
}

/* ------------------------------------------------------------ a publisher */

publisher_t *publisher_open(publisher_list_t *l, const char *stream_id,
                            const char *token)
{
    publisher_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->stream = hub_stream_open(l->hub, stream_id, token);
    if (!p->stream) {
        free(p);
        return NULL;
    }
    p->list = l;
    snprintf(p->stream_id, sizeof(p->stream_id), "%s", stream_id);
    p->prev_ms = clock_mono_ms();
    p->next = l->head;
    if (l->head)
        l->head->prev = p;
    l->head = p;
    atomic_fetch_add(&l->live, 1);
    return p;
}

void publisher_end(publisher_t **pp, const char *why)
{
    publisher_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    publisher_list_t *l = p->list;
    log_info("ingest", "Stream ended.", "stream=%s why=\"%s\" ts_raised=%llu",
             p->stream_id, why,
             (unsigned long long)hub_stream_stats(p->stream)->ts_raised);
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__StreamEnd end = PRISM__STREAM_END__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
    env.stream_end = &end;
    end.stream_id = p->stream_id;
    end.reason = (char *)why;
    l->send(l->opaque, &env);
    hub_stream_close(l->hub, &p->stream, why);
    if (p->prev)
        p->prev->next = p->next;
    else
        l->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    atomic_fetch_sub(&l->live, 1);
    video_size_free(&p->vsize);
    free(p);
    *pp = NULL;
}

const char *publisher_stream_id(const publisher_t *p)
{
    return p->stream_id;
}

void publisher_set_client(publisher_t *p, const char *client)
{
    snprintf(p->client, sizeof(p->client), "%s", client);
}

void publisher_packet(publisher_t *p, const hub_pkt_t *pkt)
{
    hub_stream_packet(p->list->hub, p->stream, pkt);
}

/* ------------------------------------------------------------ RTMP */

/* A 32-bit RTMP timestamp of track on the publisher's 64-bit timeline. */
static int64_t unwrap(publisher_t *p, uint32_t track, uint32_t ts)
{
    if (p->ts_seen[track] && ts < p->last_ts[track] &&
        p->last_ts[track] - ts > 0x80000000u)
        p->ts_hi[track] += 1ll << 32;
    p->ts_seen[track] = true;
    p->last_ts[track] = ts;
    return p->ts_hi[track] + ts;
}

/* Sets track i of the publisher's stream; a track the hub cannot keep (no
 * memory for its extradata, extradata over 1 MiB) is logged here and its
 * error returned, with the reason in why[whylen]. */
static int set_track(publisher_t *p, uint32_t i, const hub_track_info_t *t,
                     char *why, size_t whylen)
{
    int r = hub_stream_set_track(p->list->hub, p->stream, i, t);
    if (r < 0) {
        const char *kind =
            t->kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO ? "video" : "audio";
        if (t->extradata_len > HUB_EXTRADATA_MAX)
            snprintf(why, whylen,
                     "cannot keep the %s track: codec configuration of %u "
                     "bytes, over %u",
                     kind, t->extradata_len, HUB_EXTRADATA_MAX);
        else
            snprintf(why, whylen, "cannot keep the %s track: %s", kind,
                     strerror(-r));
        log_error("ingest", "Cannot set a track.",
                  "call=hub_stream_set_track stream=%s track=%u "
                  "extradata_bytes=%u err=\"%s\"",
                  p->stream_id, i, t->extradata_len, strerror(-r));
    }
    return r;
}

/* Sets the RTMP video track; x == NULL keeps the extradata we have (a
 * size change from onMetaData, or a codec without a sequence header). */
static int set_video_track(publisher_t *p, const uint8_t *x, uint32_t xlen,
                           uint32_t codec, char *why, size_t whylen)
{
    const hub_track_info_t *old = hub_stream_track(p->stream, TRACK_VIDEO);
    hub_track_info_t t = {PRISM__TRACK_KIND__TRACK_KIND_VIDEO,
                          codec,
                          x,
                          xlen,
                          p->width,
                          p->height,
                          0,
                          0,
                          1,
                          RTMP_TB_DEN};
    if (!x && old && old->codec == codec) {
        t.extradata = old->extradata;
        t.extradata_len = old->extradata_len;
    }
    return set_track(p, TRACK_VIDEO, &t, why, whylen);
}

/* Sets the RTMP audio track; x (the AudioSpecificConfig) may be NULL. */
static int set_audio_track(publisher_t *p, const uint8_t *x, uint32_t xlen,
                           uint32_t codec, uint32_t sample_rate,
                           uint32_t channels, char *why, size_t whylen)
{
    p->acodec = codec;
    p->sample_rate = sample_rate;
    p->channels = channels;
    hub_track_info_t t = {PRISM__TRACK_KIND__TRACK_KIND_AUDIO,
                          codec,
                          x,
                          xlen,
                          0,
                          0,
                          sample_rate,
                          channels,
                          1,
                          RTMP_TB_DEN};
    return set_track(p, TRACK_AUDIO, &t, why, whylen);
}

/*
 * The size from the stream when onMetaData did not give it (FFmpeg's
 * -flvflags no_metadata, encoders that send none): the video's packets are
 * parsed with the sequence header's record until a slice gives the size.
 * Without it the coordinator would never place the stream. Returns 0, or
 * PUBLISHER_ETRACK (reason in why) when the found size cannot be kept.
 */
static int learn_video_size(publisher_t *p, const uint8_t *data, uint32_t size,
                            int64_t dts, char *why, size_t whylen)
{
    const hub_track_info_t *v = hub_stream_track(p->stream, TRACK_VIDEO);
    if ((p->width && p->height) || !v || p->vsize_packets >= VSIZE_MAX_PACKETS)
        return 0;
    enum AVCodecID id = v->codec == FLV_CODEC_H264   ? AV_CODEC_ID_H264
                        : v->codec == FLV_CODEC_HEVC ? AV_CODEC_ID_HEVC
                        : v->codec == FLV_CODEC_AV1  ? AV_CODEC_ID_AV1
                                                     : AV_CODEC_ID_NONE;
    if (id == AV_CODEC_ID_NONE)
        return 0;
    if (!p->vsize &&
        !(p->vsize = video_size_new(id, v->extradata, (int)v->extradata_len))) {
        log_warn("ingest", "Cannot watch for the video size.",
                 "call=video_size_new stream=%s codec=%s", p->stream_id,
                 avcodec_get_name(id));
        p->vsize_packets = VSIZE_MAX_PACKETS;
        return 0;
    }
    video_size_info_t info;
    if (!video_size_feed(p->vsize, data, (int)size, dts,
                         (AVRational){1, RTMP_TB_DEN}, &info)) {
        if (++p->vsize_packets == VSIZE_MAX_PACKETS) {
            log_warn("ingest", "No video size in the stream.",
                     "stream=%s packets=%u", p->stream_id, p->vsize_packets);
            video_size_free(&p->vsize);
        }
        return 0;
    }
    video_size_free(&p->vsize);
    p->width = (uint32_t)info.width;
    p->height = (uint32_t)info.height;
    if (p->meta_fps <= 0)
        p->meta_fps = info.fps;
    log_info("ingest", "Video size found in the stream.",
             "stream=%s width=%d height=%d fps=%.2f", p->stream_id, info.width,
             info.height, info.fps);
    if (set_video_track(p, NULL, 0, v->codec, why, whylen) < 0)
        return PUBLISHER_ETRACK;
    /* Placing waits for the size: say it now, when the rate is known too
     * (a rate measured now would span a moment). */
    if (p->meta_fps > 0)
        p->list->stats_due = true;
    return 0;
}

/* The reason an accepted publish of an unsupported codec ends with. */
static void codec_refusal(bool video, const char *codec, char *why,
                          size_t whylen)
{
    snprintf(why, whylen, "unsupported %s codec: %s; Prism takes %s",
             video ? "video" : "audio", codec,
             video ? "H.264, HEVC or AV1" : "AAC or MP3");
}

int publisher_rtmp_media(publisher_t *p, bool video, uint32_t ts, pktbuf_t *buf,
                         uint32_t off, uint32_t len, char *why, size_t whylen)
{
    flv_pkt_t f;
    const uint8_t *body = buf->data + off;
    int r =
        video ? flv_parse_video(body, len, &f) : flv_parse_audio(body, len, &f);
    if (r == FLV_EUNSUPPORTED) {
        char name[96];
        codec_refusal(video,
                      flv_codec_describe(video, body, len, name, sizeof(name)),
                      why, whylen);
        return r;
    }
    if (r < 0)
        return r;
    if (f.skip || f.eos)
        return 0;
    uint32_t track = video ? TRACK_VIDEO : TRACK_AUDIO;
    if (f.config) {
        if (video) {
            p->vcodec = f.codec;
            video_size_free(&p->vsize); /* the new record parses from now */
            r = set_video_track(p, body + f.offset, f.size, f.codec, why,
                                whylen);
        } else {
            uint32_t sr = f.sample_rate, ch = f.channels;
            if (f.codec == FLV_CODEC_AAC)
                flv_aac_asc_info(body + f.offset, f.size, &sr, &ch);
            r = set_audio_track(p, body + f.offset, f.size, f.codec, sr, ch,
                                why, whylen);
        }
        return r < 0 ? PUBLISHER_ETRACK : 0;
    }
    if (!hub_stream_track(p->stream, track)) {
        /* A codec without a configuration record (MP3): the first packet
         * defines the track. */
        if (video) {
            p->vcodec = f.codec;
            r = set_video_track(p, NULL, 0, f.codec, why, whylen);
        } else {
            r = set_audio_track(p, NULL, 0, f.codec, f.sample_rate, f.channels,
                                why, whylen);
        }
        if (r < 0)
            return PUBLISHER_ETRACK;
    }
    if (f.size == 0)
        return 0;
    int64_t dts = unwrap(p, track, ts);
    if (video &&
        learn_video_size(p, body + f.offset, f.size, dts, why, whylen) < 0)
        return PUBLISHER_ETRACK;
    hub_pkt_t hp = {buf,
                    off + f.offset,
                    f.size,
                    track,
                    dts + f.cts,
                    dts,
                    0,
                    video ? f.keyframe : true,
                    clock_mono_us()};
    publisher_packet(p, &hp);
    return 0;
}

int publisher_rtmp_metadata(publisher_t *p, const rtmp_meta_t *m, char *why,
                            size_t whylen)
{
    publisher_set_client(p, m->client);
    /* A legacy FLV video codec id (1-15) other than H.264 (7) and HEVC
     * (12) is refused now, before the size lets the stream be placed;
     * larger numbers are Enhanced RTMP FourCCs, judged by their packets. */
    int vid = (int)m->videocodecid;
    if (m->videocodecid == vid && vid >= 1 && vid <= 15 && vid != 7 &&
        vid != 12) {
        uint8_t tag = (uint8_t)vid;
        char name[96];
        codec_refusal(true,
                      flv_codec_describe(true, &tag, 1, name, sizeof(name)),
                      why, whylen);
        return FLV_EUNSUPPORTED;
    }
    bool had_size = p->width && p->height;
    if (m->width > 0 && m->width < 65536)
        p->width = (uint32_t)m->width;
    if (m->height > 0 && m->height < 65536)
        p->height = (uint32_t)m->height;
    p->meta_fps = m->framerate;
    /* The coordinator fits the ladder and places the stream once it knows
     * the size: the stats are due now, not at the next interval. */
    if (!had_size && p->width && p->height)
        p->list->stats_due = true;
    const hub_track_info_t *v = hub_stream_track(p->stream, TRACK_VIDEO);
    if (v && (v->width != p->width || v->height != p->height) &&
        set_video_track(p, NULL, 0, v->codec, why, whylen) < 0)
        return PUBLISHER_ETRACK;
    return 0;
}

/* ------------------------------------------------------------ SRT */

void publisher_srt_track(publisher_t *p, uint32_t track,
                         const hub_track_info_t *info, double fps,
                         const char *client)
{
    char why[160];
    /* A track the hub cannot keep is logged by set_track; the stream goes
     * on with the one it had, as the SRT thread owns the connection. */
    if (set_track(p, track, info, why, sizeof(why)) < 0)
        return;
    if (info->kind == PRISM__TRACK_KIND__TRACK_KIND_VIDEO) {
        /* Placing waits for the size: say it now, not at the next stats
         * interval, when the rate is known too (a rate measured now would
         * span a moment). */
        if (!(p->width && p->height) && info->width && info->height && fps > 0)
            p->list->stats_due = true;
        p->vcodec = info->codec;
        p->width = info->width;
        p->height = info->height;
        /* The rate the stream declares, as onMetaData's for RTMP: the
         * stats sent at once measure too short a window to fit the ladder
         * to. */
        if (fps > 0)
            p->meta_fps = fps;
    } else {
        p->acodec = info->codec;
        p->sample_rate = info->sample_rate;
        p->channels = info->channels;
    }
    if (client[0])
        publisher_set_client(p, client);
}
