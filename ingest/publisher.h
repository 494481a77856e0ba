/* A publisher: its stream in the hub, its packets, timestamps, stats, end. */
#ifndef PRISM_PUBLISHER_H
#define PRISM_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "rtmp_conn.h"
#include "stream_hub.h"

/*
 * How this works. A publisher is one admitted publish, RTMP or SRT: a
 * stream opened in the hub under the coordinator's stream id and token,
 * and what the coordinator is told about it (codecs, size, rate, client).
 * The live publishers sit in one publisher_list_t, which the event loop
 * owns; everything here runs on the loop's thread.
 *
 * RTMP hands over FLV tag bodies (publisher_rtmp_media): the tag is
 * parsed, the first configuration record or packet of a track defines it
 * in the hub, and the 32-bit millisecond timestamps are unwrapped per
 * track before the packet goes into the hub (which makes each track's dts
 * rise). When onMetaData gave no size, the video's packets are parsed for
 * one (video_size.h). SRT hands over tracks and packets the demuxer
 * thread already made (publisher_srt_track, publisher_packet).
 *
 * A change the coordinator waits for before it places the stream (the
 * size, or an audio-only stream found) marks the list's stats as due, so
 * the loop sends them at once rather than at the next interval.
 */

typedef struct publisher publisher_t;
typedef struct publisher_list publisher_list_t;

/* Sends env (borrowed) to the coordinator. */
typedef void (*publisher_send_fn)(void *opaque, Prism__Envelope *env);

/* An empty list on hub (borrowed); send and opaque carry the StreamEnd
 * and IngestStats messages. Returns NULL when out of memory. */
publisher_list_t *publisher_list_new(hub_t *hub, publisher_send_fn send,
                                     void *opaque);

/* Ends every publisher still live with why, then frees the list; sets *lp
 * to NULL; accepts NULL. Call before the hub is freed. */
void publisher_list_free(publisher_list_t **lp, const char *why);

/* Publishers live now; any thread may read it. */
uint64_t publisher_list_live(const publisher_list_t *l);

/* Whether a change asks for the stats before the next interval. */
bool publisher_list_stats_due(const publisher_list_t *l);

/* Sends each publisher's IngestStats, with the rates measured since the
 * last call (now in monotonic ms), and clears the due mark. */
void publisher_list_send_stats(publisher_list_t *l, int64_t now);

/* Marks a stream audio-only once its audio has waited long enough for a
 * video that did not come (checked every call; now in monotonic ms). */
void publisher_list_scan(publisher_list_t *l, int64_t now);

/* Opens stream_id in the hub with token (both copied) and adds the
 * publisher to l. Returns NULL when the hub refuses (the stream is live
 * already, the hub is full) or memory runs out. */
publisher_t *publisher_open(publisher_list_t *l, const char *stream_id,
                            const char *token);

/* Logs the end with why, tells the coordinator (StreamEnd), closes the
 * stream in the hub, frees the publisher and sets *pp to NULL; accepts
 * NULL. */
void publisher_end(publisher_t **pp, const char *why);

/* The stream id the publisher was opened with. */
const char *publisher_stream_id(const publisher_t *p);

/* The encoder's name, as told to the coordinator (copied). */
void publisher_set_client(publisher_t *p, const char *client);

/* A track the hub cannot keep (no memory for its extradata, extradata
 * over 1 MiB): the publish cannot go on. */
#define PUBLISHER_ETRACK (-5001)

/*
 * One RTMP audio (video false) or video message: the FLV tag body of len
 * bytes at off in buf (borrowed; the hub takes its own references), with
 * the message's 32-bit timestamp ts. Returns 0, FLV_EINVAL for a malformed
 * tag, FLV_EUNSUPPORTED for a codec Prism does not carry or
 * PUBLISHER_ETRACK, with the reason in why[whylen] for the last two. The
 * publisher stays open either way.
 */
int publisher_rtmp_media(publisher_t *p, bool video, uint32_t ts, pktbuf_t *buf,
                         uint32_t off, uint32_t len, char *why, size_t whylen);

/* onMetaData's values (borrowed): size, rate, client. Returns 0,
 * FLV_EUNSUPPORTED when it names a legacy FLV video codec Prism does not
 * carry, or PUBLISHER_ETRACK when the new size cannot be kept, with the
 * reason in why[whylen]. */
int publisher_rtmp_metadata(publisher_t *p, const rtmp_meta_t *m, char *why,
                            size_t whylen);

/* An SRT track at index track (info borrowed), with the rate the stream
 * declares (0 unknown) and the encoder's name ("" unknown). A track the
 * hub cannot keep is logged and left as it was. */
void publisher_srt_track(publisher_t *p, uint32_t track,
                         const hub_track_info_t *info, double fps,
                         const char *client);

/* One packet as it is (borrowed), into the hub. Out of memory drops the
 * packet (counted in the hub), not the publisher. */
void publisher_packet(publisher_t *p, const hub_pkt_t *pkt);

#endif
