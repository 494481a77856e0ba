/* One SRT publisher's MPEG-TS streams as Prism tracks: the codec check,
 * TRACK items, and the video size watched for after the probe. */
#ifndef PRISM_SRT_TRACKS_H
#define PRISM_SRT_TRACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "srt_queue.h"
#include "video_size.h"

/*
 * Learning a video size after the probe. avformat_find_stream_info reads
 * the start of the stream only (max_analyze_duration); when the video's
 * parameter sets are not in it, the size stays 0 and the coordinator never
 * places the stream. A stream joined mid-way looks like that (a relay, a
 * sender whose first packets were lost), and its parameter sets come again
 * only with the next IDR. So every video track still without a size gets a
 * parser that reads its packets until an SPS gives the size, and the track
 * is then posted again with it. Video that never gets a key frame with a
 * size is closed (need_key, see srt_conn.c): GStreamer 1.22's
 * `mpegtsmux ! srtsink` sends no key frame at all (srtsink drops the
 * buffers mpegtsmux flags as headers, which are the key frames' packets),
 * and waiting for one would hold the key with nothing to show for it.
 */

/* Demuxer streams looked at; later ones are ignored. */
#define SRT_TRACKS_MAX_STREAMS 64

typedef struct srt_tracks {
    int map[SRT_TRACKS_MAX_STREAMS];      /* demuxer stream -> track, or -1 */
    video_size_t *probes[HUB_MAX_TRACKS]; /* video still without a size */
    uint32_t n;
    bool need_key; /* video, but no key frame with a known size yet */
    /* Borrowed from the connection, which outlives this. */
    srt_queue_t *queue;
    void *publisher;
    const char *addr, *stream_id;
} srt_tracks_t;

/* Sets up t for publisher pub (opaque), posting to q; addr and stream_id
 * name the connection in log lines. */
void srt_tracks_init(srt_tracks_t *t, srt_queue_t *q, void *pub,
                     const char *addr, const char *stream_id);

/*
 * Maps fmt's audio and video streams to tracks, posting a TRACK item each.
 * Returns 0, or -1 when a stream's codec is one Prism does not carry: that
 * is logged and refuse[refuselen] names it (the tracks before it are
 * posted already).
 */
int srt_tracks_open(srt_tracks_t *t, AVFormatContext *fmt, char *refuse,
                    size_t refuselen);

/*
 * Looks at a packet read from fmt: the track it belongs to, or -1 when it
 * is for none (or empty). Posts the track again on new extradata or once
 * its video size is found; clears need_key on a key frame of sized video.
 * packets (read so far) goes into the log line.
 */
int srt_tracks_packet(srt_tracks_t *t, AVFormatContext *fmt,
                      const AVPacket *pkt, uint64_t packets);

/* Frees the size watches. */
void srt_tracks_close(srt_tracks_t *t);

#endif
