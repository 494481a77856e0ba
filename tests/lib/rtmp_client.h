/* An RTMP publisher for the ingest tests (blocking, one connection), and
 * the command encoding and status decoding the bench's publishers share. */
#ifndef PRISM_TEST_RTMP_CLIENT_H
#define PRISM_TEST_RTMP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtmp_chunk.h"

typedef struct {
    int fd;
    rtmp_chunk_reader_t rd;
    char status[128]; /* last onStatus code */
    char desc[256];   /* its description */
    int results;      /* _result messages seen */
    uint32_t out_chunk;
} rtmp_client_t;

/* Connects to 127.0.0.1:port and handshakes (digest or plain); 0 or -1. */
int rtmp_client_open(rtmp_client_t *c, int port, int digest);

/* Closes the connection; the reader is reset. */
void rtmp_client_close(rtmp_client_t *c);

/* Sends one message in c->out_chunk-byte chunks; 0 or -1. */
int rtmp_client_send(rtmp_client_t *c, uint32_t csid, uint8_t type,
                     uint32_t msid, uint32_t ts, const uint8_t *p,
                     uint32_t len);

/* Reads server messages until cond(c) holds or timeout_ms; 0 or -1. */
int rtmp_client_pump(rtmp_client_t *c, int timeout_ms,
                     bool (*cond)(rtmp_client_t *));

/* Whether an onStatus came (a cond for rtmp_client_pump). */
bool rtmp_client_has_status(rtmp_client_t *c);

/* Sends command `name` (see rtmp_client_encode_command) on stream msid. */
int rtmp_client_command(rtmp_client_t *c, const char *name, double tid,
                        const char *arg, uint32_t msid);

/* Runs connect, createStream and publish(key). Returns 0 once the server
 * answered with an onStatus (its code in c->status), -1 otherwise. */
int rtmp_client_publish(rtmp_client_t *c, const char *key);

/*
 * Encodes an AMF0 command into b[cap]: name, transaction tid, then for
 * "connect" an object with app "live", flashVer flash_ver and, when given,
 * tcUrl tc_url; for any other command null and arg when given. Returns its
 * length.
 */
size_t rtmp_client_encode_command(uint8_t *b, size_t cap, const char *name,
                                  double tid, const char *arg,
                                  const char *flash_ver, const char *tc_url);

/* What a server's AMF0 command message says. */
typedef struct {
    bool result; /* a _result */
    bool status; /* an onStatus; then, when has_code, has_desc: */
    bool has_code, has_desc;
    char code[128]; /* its code */
    char desc[256]; /* its description */
} rtmp_client_reply_t;

/* Decodes m (any type); false when it is not an AMF0 command. */
bool rtmp_client_decode_reply(const rtmp_msg_t *m, rtmp_client_reply_t *out);

#endif
