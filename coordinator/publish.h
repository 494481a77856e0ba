/* Publish admission: the stream key, the channel, the ladder, a new stream. */
#ifndef PRISM_COORD_PUBLISH_H
#define PRISM_COORD_PUBLISH_H

#include "envelope.h"
#include "farm.h"

/*
 * A PublishRequest from an ingest: refused at once (unknown ingest, no
 * database, too many bad keys from the address, a malformed key, a full
 * farm), else the channel row is read and the key checked (salted SHA-256,
 * constant time); a publish with the key of a channel whose stream is
 * live continues that stream, otherwise a new stream is fitted to the
 * channel's ladder profile and placed. With a publish hook configured
 * (publish_hook.h) the platform decides instead of the key's hash, and
 * names the channel. The PublishReply goes back to the ingest when the
 * answer is known.
 */
void publish_admit(coord_t *c, const envelope_peer_t *peer,
                   const Prism__Envelope *env);

/* Forgets what admission kept of channel CHANNEL_ID (its key hash, for
 * outages): its row changed (a new key, a rename, deleted). */
void publish_forget_channel(coord_t *c, int64_t channel_id);

/* Goes on with the publishes the platform's hook answered (the loop calls
 * it when publish_hook_fd is readable). */
void publish_hook_drain(coord_t *c);

/* The ladder profile from its ladder_profiles document (doc), else the
 * built-in default (logged when doc is unusable). 0 or the ladder's code. */
int publish_load_profile(const char *name, const char *doc,
                         ladder_profile_t *out);

#endif
