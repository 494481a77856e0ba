/* RTMP chunk stream: reassembles messages from chunks, writes chunks. */
#ifndef PRISM_RTMP_CHUNK_H
#define PRISM_RTMP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktbuf.h"

/*
 * How this works. RTMP multiplexes messages over chunk streams (csid). A
 * chunk is a basic header (fmt + csid, 1-3 bytes), a message header whose
 * size depends on fmt (0: 11 bytes absolute timestamp, length, type, stream
 * id; 1: 7 bytes delta, length, type; 2: 3 bytes delta; 3: none, everything
 * as before), an optional 4-byte extended timestamp, and up to chunk_size
 * payload bytes. The reader is fed arbitrary slices of the TCP stream; it
 * keeps at most one partial header (18 bytes) and copies payload straight
 * into the message's pktbuf, allocated once at the message's first chunk
 * with the announced length. A complete message goes to the callback,
 * which takes the buffer's reference: no copy after the socket read.
 *
 * Set Chunk Size (type 1) and Abort (type 2) change how chunks are read and
 * are applied here (and also passed on). Everything is bounded: chunk size
 * (max_chunk_size), message size (max_message), chunk streams per
 * connection (RTMP_CHUNK_STREAMS). Any violation is an error and the caller
 * closes the connection.
 */

#define RTMP_CHUNK_STREAMS 16 /* distinct csids one connection may use */

/* RTMP message types. */
enum {
    RTMP_MSG_SET_CHUNK_SIZE = 1,
    RTMP_MSG_ABORT = 2,
    RTMP_MSG_ACK = 3,
    RTMP_MSG_USER_CONTROL = 4,
    RTMP_MSG_WINDOW_ACK_SIZE = 5,
    RTMP_MSG_SET_PEER_BW = 6,
    RTMP_MSG_AUDIO = 8,
    RTMP_MSG_VIDEO = 9,
    RTMP_MSG_DATA_AMF3 = 15,
    RTMP_MSG_COMMAND_AMF3 = 17,
    RTMP_MSG_DATA_AMF0 = 18,
    RTMP_MSG_COMMAND_AMF0 = 20,
    RTMP_MSG_AGGREGATE = 22,
};

/* Errors (negative). */
#define RTMP_CHUNK_EMSGSIZE   (-2001) /* message longer than max_message */
#define RTMP_CHUNK_ESTREAMS   (-2002) /* more chunk streams than allowed */
#define RTMP_CHUNK_ECHUNKSIZE (-2003) /* bad Set Chunk Size value */
#define RTMP_CHUNK_EPROTO     (-2004) /* header that contradicts the state */
#define RTMP_CHUNK_ENOMEM     (-2005)

typedef struct {
    uint32_t csid;
    uint32_t timestamp; /* ms, 32-bit RTMP time */
    uint32_t length;
    uint32_t stream_id;
    uint8_t type;
    pktbuf_t *buf; /* the payload, `length` bytes; owned by the callback */
} rtmp_msg_t;

/*
 * Called for each complete message. It owns msg->buf (pktbuf_unref when
 * done). A negative return stops the feed and is returned from it.
 */
typedef int (*rtmp_msg_cb)(void *opaque, rtmp_msg_t *msg);

typedef struct {
    uint32_t csid;
    uint32_t timestamp;
    uint32_t delta;
    uint32_t length;
    uint32_t stream_id;
    uint32_t got;
    uint8_t type;
    bool ext;
    bool used;
    pktbuf_t *buf;
} rtmp_cs_t;

typedef struct {
    uint32_t chunk_size;     /* incoming chunk size, 128 at start */
    uint32_t max_chunk_size; /* bound on Set Chunk Size */
    uint32_t max_message;    /* bound on a message's length */
    uint64_t bytes_in;       /* total bytes fed */
    rtmp_cs_t cs[RTMP_CHUNK_STREAMS];
    rtmp_cs_t *cur;      /* chunk whose payload is being read, or NULL */
    uint32_t chunk_left; /* payload bytes left in the current chunk */
    uint8_t hdr[18];
    uint32_t hdr_len;
    rtmp_msg_cb cb;
    void *opaque;
} rtmp_chunk_reader_t;

/* Sets up a reader (no allocation). */
void rtmp_chunk_reader_init(rtmp_chunk_reader_t *r, uint32_t max_chunk_size,
                            uint32_t max_message, rtmp_msg_cb cb, void *opaque);

/* Releases partial messages held by the reader. */
void rtmp_chunk_reader_reset(rtmp_chunk_reader_t *r);

/*
 * Consumes all of data[0..len), delivering complete messages to the
 * callback. Returns 0, an RTMP_CHUNK_E* code, or the callback's negative
 * return. After an error the reader must only be reset.
 */
int rtmp_chunk_feed(rtmp_chunk_reader_t *r, const uint8_t *data, size_t len);

/*
 * Writes one message as chunks (fmt 0 first, then fmt 3) of at most
 * chunk_size payload bytes into out[cap]. Returns the bytes written or
 * -ENOSPC when it does not fit (nothing is written then).
 */
long rtmp_chunk_write(uint8_t *out, size_t cap, uint32_t chunk_size,
                      uint32_t csid, uint32_t timestamp, uint8_t type,
                      uint32_t stream_id, const uint8_t *payload, uint32_t len);

/* Bytes rtmp_chunk_write needs for a message of len bytes. */
size_t rtmp_chunk_size_needed(uint32_t chunk_size, uint32_t csid,
                              uint32_t timestamp, uint32_t len);

#endif
