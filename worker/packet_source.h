/* Packet sources: where a transcode session's compressed input comes from. */
#ifndef PRISM_PACKET_SOURCE_H
#define PRISM_PACKET_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

/*
 * A session reads packets through this small vtable, so the session core
 * never knows whether they come from libavformat (a file, rtmp://, srt://,
 * http://) or are pushed by the ingest over ZeroMQ. A new kind of source
 * fills a packet_source_t with its ops and streams; nothing else changes.
 *
 * Threads: read() is called from one thread at a time (the session's
 * reader thread); interrupt() may be called from any thread and makes a
 * blocked read() return AVERROR_EXIT soon.
 */

#define PACKET_SOURCE_MAX_STREAMS 8

typedef struct {
    enum AVMediaType type;
    AVCodecParameters *par; /* owned by the source */
    AVRational time_base;   /* of the packets' pts/dts */
    AVRational frame_rate;  /* video: average rate, 0/1 when unknown */
} packet_source_stream_t;

typedef struct packet_source packet_source_t;

typedef struct {
    const char *kind; /* "lavf", "zmq", ... for logs */
    /* Fills pkt (stream_index refers to streams[]); 0, AVERROR_EOF, or a
     * negative AVERROR. */
    int (*read)(packet_source_t *src, AVPacket *pkt);
    void (*interrupt)(packet_source_t *src);
    void (*close)(packet_source_t *src); /* frees priv and streams' par */
} packet_source_ops_t;

struct packet_source {
    const packet_source_ops_t *ops;
    void *priv;
    char name[256]; /* URL or stream id, for logs */
    bool live;      /* a live feed: drop on overload instead of blocking */
    /* The live publish the packets come from (the ingest's publish id: a
     * publisher that reconnects gets a new one); 0 when unknown (files). */
    uint64_t publish_id;
    /* Wall clock (Unix us) at which the packet read last arrived where it
     * was published (the ingest's stamp); 0 when unknown. */
    int64_t arrival_unix_us;
    int nb_streams;
    packet_source_stream_t streams[PACKET_SOURCE_MAX_STREAMS];
};

/*
 * Opens a libavformat input (file path or URL) and reads its stream info.
 * realtime paces packets at their timestamps (like ffmpeg -re) and marks
 * the source live; network URLs (rtmp, srt, udp, rtp) are live too.
 * Streams other than audio and video are skipped. Returns NULL and logs one
 * line naming the input and the library's error on failure.
 */
packet_source_t *packet_source_open_url(const char *url, bool realtime);

/* Reads one packet; see packet_source_ops_t.read. */
int packet_source_read(packet_source_t *src, AVPacket *pkt);
/* Makes a blocked read return soon; any thread. */
void packet_source_interrupt(packet_source_t *src);
/* Closes the source and sets *srcp to NULL; accepts NULL. */
void packet_source_free(packet_source_t **srcp);

#endif
