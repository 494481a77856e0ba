/* One RTMP publisher connection: handshake, chunks, commands, media out. */
#ifndef PRISM_RTMP_CONN_H
#define PRISM_RTMP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amf0.h"
#include "flv_tag.h"
#include "pktbuf.h"
#include "rtmp_chunk.h"

/*
 * How this works. rtmp_conn is the protocol only: bytes from the socket go
 * in through rtmp_conn_input, bytes to send collect in a bounded output
 * buffer the caller drains, and what matters to the server comes out as
 * callbacks. The state runs: waiting for C0+C1, waiting for C2, then
 * commands (connect, releaseStream, FCPublish, createStream, publish,
 * deleteStream, FCUnpublish, closeStream). `publish` hands the key to the
 * server (on_publish), which answers later, once the coordinator replied,
 * with rtmp_conn_publish_result: NetStream.Publish.Start, or
 * NetStream.Publish.BadName and the connection closes once the answer is
 * written. Audio and video messages of an accepted publish go to on_media
 * with their buffer reference and the bounds of the FLV body (aggregate
 * messages are split without copying). Every failure (protocol, limit,
 * malformed AMF) is returned as a negative code: the caller closes this
 * connection and nothing else.
 */

typedef struct rtmp_conn rtmp_conn_t;

typedef struct {
    uint32_t max_chunk_size; /* largest Set Chunk Size accepted */
    uint32_t max_message;    /* largest message in bytes */
    uint32_t max_amf_depth;  /* AMF0 nesting bound */
    uint32_t max_streams;    /* createStream calls per connection */
} rtmp_limits_t;

/* What onMetaData and connect said about the stream. */
typedef struct {
    double width, height, framerate;
    double videodatarate, audiodatarate; /* kbit/s */
    double audiosamplerate;
    double videocodecid; /* FLV codec id or FourCC as a number; -1 unsaid */
    char client[128];    /* onMetaData "encoder", else connect's flashVer */
} rtmp_meta_t;

typedef struct {
    /*
     * A publish(key) arrived. The server answers later with
     * rtmp_conn_publish_result. A negative return closes the connection.
     */
    int (*on_publish)(void *opaque, rtmp_conn_t *c, const char *app,
                      const char *key);
    /*
     * An audio (RTMP_MSG_AUDIO) or video message of an accepted publish:
     * the FLV body is buf->data[off .. off+len), the time `ts` ms. `buf` is
     * borrowed: take a reference to keep it. A negative return closes.
     */
    int (*on_media)(void *opaque, rtmp_conn_t *c, uint8_t type, uint32_t ts,
                    pktbuf_t *buf, uint32_t off, uint32_t len);
    /* onMetaData arrived; rtmp_conn_meta holds the values. */
    void (*on_metadata)(void *opaque, rtmp_conn_t *c);
    /* The publisher stopped (deleteStream, FCUnpublish, closeStream). */
    void (*on_unpublish)(void *opaque, rtmp_conn_t *c);
} rtmp_conn_cbs_t;

#define RTMP_CONN_EHANDSHAKE (-4001) /* bad C0 version */
#define RTMP_CONN_EOUTPUT    (-4002) /* output buffer full */
#define RTMP_CONN_ELIMIT     (-4003) /* streams per connection exceeded */
#define RTMP_CONN_EAMF       (-4004) /* malformed AMF */
#define RTMP_CONN_ECLOSED    (-4005) /* the publish was refused */

/* A short text for an error rtmp_conn_input returns: these, the chunk
 * reader's (RTMP_CHUNK_E*) and FLV_EINVAL; "protocol error" for others. */
const char *rtmp_conn_strerror(int rc);

typedef enum {
    RTMP_CONN_HS_C0C1,
    RTMP_CONN_HS_C2,
    RTMP_CONN_COMMANDS,   /* handshake done, no publish yet */
    RTMP_CONN_ADMITTING,  /* publish sent to the server, answer pending */
    RTMP_CONN_PUBLISHING, /* media flows */
    RTMP_CONN_CLOSING,    /* write what is left, then close */
} rtmp_conn_state_t;

/*
 * Returns a new connection or NULL (out of memory). cbs and lim are copied;
 * opaque is passed to every callback.
 */
rtmp_conn_t *rtmp_conn_new(const rtmp_limits_t *lim, const rtmp_conn_cbs_t *cbs,
                           void *opaque);
void rtmp_conn_free(rtmp_conn_t **cp);

/*
 * Feeds bytes read from the socket. Returns 0, or a negative code: the
 * caller closes the connection (after flushing output if the state is
 * RTMP_CONN_CLOSING).
 */
int rtmp_conn_input(rtmp_conn_t *c, const uint8_t *data, size_t len);

/* Bytes waiting to be written: *data and the count. */
size_t rtmp_conn_pending(rtmp_conn_t *c, const uint8_t **data);
/* Marks n pending bytes as written. */
void rtmp_conn_consumed(rtmp_conn_t *c, size_t n);

/*
 * The server's answer to on_publish: accepted (NetStream.Publish.Start,
 * media flows) or refused (NetStream.Publish.BadName with `reason`, state
 * becomes RTMP_CONN_CLOSING).
 */
void rtmp_conn_publish_result(rtmp_conn_t *c, bool accepted,
                              const char *reason);

/*
 * Ends an accepted publish that Prism cannot carry (an unsupported codec):
 * sends onStatus error NetStream.Publish.Rejected with `reason` and the
 * state becomes RTMP_CONN_CLOSING.
 */
void rtmp_conn_publish_fail(rtmp_conn_t *c, const char *reason);

rtmp_conn_state_t rtmp_conn_state(const rtmp_conn_t *c);
const rtmp_meta_t *rtmp_conn_meta(const rtmp_conn_t *c);
/* The publish name (stream key), "" before publish. */
const char *rtmp_conn_key(const rtmp_conn_t *c);
/* Which handshake the client used (RTMP_HS_PLAIN or RTMP_HS_DIGEST). */
int rtmp_conn_handshake_kind(const rtmp_conn_t *c);
uint64_t rtmp_conn_bytes_in(const rtmp_conn_t *c);

/* Server data the caller may hang on the connection. */
void rtmp_conn_set_user(rtmp_conn_t *c, void *user);
void *rtmp_conn_user(const rtmp_conn_t *c);

#endif
