/* The API's channels and ladder profiles: /api/channels, /api/profiles.
 * Each answer comes from a database callback on the loop thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_api_int.h"
#include "farm.h"
#include "ladder.h"
#include "placement.h"
#include "log.h"
#include "publish.h"
#include "rows.h"
#include "streamkey.h"

#define MOD "api"

/* A channel's priority is 0..100, 50 when the request gives none; the
 * channels table checks the same range. */
#define CHANNEL_PRIORITY_MAX     100
#define CHANNEL_PRIORITY_DEFAULT 50

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= CHANNEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* Answers 503 for a query that could not be queued; false (answered). */
static bool db_away(api_req_t *r)
{
    api_reply_error(r, 503, "db_unavailable",
                    "database unavailable, try again shortly");
    return false;
}

/* A failed query's answer, by what PostgreSQL said: a duplicate name
 * 409, a foreign key FK_STATUS with FK_CODE and FK_MSG (0: not expected),
 * else 503. Frees r. */
static void db_failed(api_req_t *r, const char *err, int fk_status,
                      const char *fk_code, const char *fk_msg)
{
    if (err && strstr(err, "duplicate"))
        api_reply_error(r, 409, "exists", "a channel with this name exists");
    else if (err && fk_status && strstr(err, "foreign key"))
        api_reply_error(r, fk_status, fk_code, fk_msg);
    else
        api_reply_error(r, 503, "db_unavailable",
                        err ? "database refused the change"
                            : "database unavailable");
    api_req_free(r);
}

#define UNKNOWN_PROFILE 400, "unknown_profile", "no ladder profile of that name"
#define NO_FK           0, NULL, NULL

/* The live stream of the channel named NAME, or NULL. */
static const coord_stream_t *live_stream_named(coord_t *c, const char *name)
{
    for (size_t i = 0; i < farm_stream_slots(c); i++) {
        const coord_stream_t *s = farm_stream_at(c, i);
        if (s && !strcmp(s->channel, name))
            return s;
    }
    return NULL;
}

/* A channel row (rows_channel_get's columns) as the API shows it. */
static json_t *channel_json(const PGresult *res, int i)
{
    return json_pack(
        "{s:I, s:s, s:i, s:s, s:s, s:s?, s:b, s:b}", "id",
        (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "name",
        PQgetvalue(res, i, 1), "priority", atoi(PQgetvalue(res, i, 2)),
        "profile", PQgetvalue(res, i, 3), "created_at", PQgetvalue(res, i, 4),
        "stream", PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5), "live",
        !PQgetisnull(res, i, 5), "disabled", PQgetvalue(res, i, 6)[0] == 't');
}

/* The channel a rows_channel_get read found: true with r->id and r->name
 * set; false when the read failed or found none (answered, r freed). */
static bool found_channel(api_req_t *r, const PGresult *res, const char *err)
{
    if (!res) {
        db_failed(r, err, NO_FK);
        return false;
    }
    if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such channel");
        api_req_free(r);
        return false;
    }
    r->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(r->name, sizeof(r->name), "%s", PQgetvalue(res, 0, 1));
    return true;
}

/* A new stream key for channel r->id: the key in r's body ("_key", wiped
 * when answered), salt and hash (hex) for the row. False when it could not
 * be made (answered, r freed). */
static bool new_key(api_req_t *r, char *salt, char *hash)
{
    char key[STREAMKEY_MAX];
    if (streamkey_new(r->id, key, salt, hash) < 0) {
        api_reply_error(r, 500, "internal", "could not make a stream key");
        api_req_free(r);
        return false;
    }
    json_object_set_new(r->body, "_key", json_string(key));
    memset(key, 0, sizeof(key));
    return true;
}

/* ---------------------------------------------------------------- list */

static void channels_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        db_failed(r, err, NO_FK);
        return;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(a, channel_json(res, i));
    api_reply_json(r, 200, a);
    api_req_free(r);
}

bool coord_api_channels_list(coord_t *c, api_req_t *r,
                             const coord_api_loop_t *loop,
                             const char *const *params, const char *query)
{
    (void)loop, (void)params, (void)query;
    return rows_channels(c, channels_cb, r) == 0 || db_away(r);
}

/* One channel by name: 404 when there is none. */
static void channel_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res)
        db_failed(r, err, NO_FK);
    else if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such channel");
        api_req_free(r);
    } else {
        api_reply_json(r, 200, channel_json(res, 0));
        api_req_free(r);
    }
}

bool coord_api_channel_get(coord_t *c, api_req_t *r,
                           const coord_api_loop_t *loop,
                           const char *const *params, const char *query)
{
    (void)loop, (void)query;
    return rows_channel_get(c, params[0], channel_cb, r) == 0 || db_away(r);
}

/* ---------------------------------------------------------------- create */

static void channel_insert_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    coord_t *c = r->c;
    /* The key was computed before the insert; it travels in r->body. */
    json_t *k = json_object_get(r->body, "_key");
    if (!res) {
        db_failed(r, err, UNKNOWN_PROFILE);
        return;
    }
    rows_event(
        c, "channel.created", NULL, NULL,
        json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", r->name));
    api_reply_json(r, 201,
                   json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:s}", "id",
                             (json_int_t)r->id, "name", r->name, "priority",
                             r->priority, "profile", r->profile, "created_at",
                             PQgetvalue(res, 0, 0), "stream_key",
                             k ? json_string_value(k) : "", "note",
                             "the stream key is shown only once; store it"));
    if (k) /* wipe the key from memory */
        memset((char *)json_string_value(k), 0, strlen(json_string_value(k)));
    api_req_free(r);
}

static void channel_id_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    coord_t *c = r->c;
    (void)err;
    if (!res || PQntuples(res) != 1) {
        db_failed(r, NULL, NO_FK);
        return;
    }
    r->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    char salt[STREAMKEY_SALT_HEX + 1], hash[STREAMKEY_HASH_HEX + 1];
    if (!new_key(r, salt, hash))
        return;
    if (rows_channel_insert(c, r->id, r->name, r->priority, r->profile, salt,
                            hash, channel_insert_cb, r) < 0) {
        db_away(r);
        api_req_free(r);
    }
}

/* Reads "priority" (0..100) and "profile" (a name) of r's body into
 * *priority and *profile when present; false (answered 400) when bad. */
static bool body_priority_profile(api_req_t *r, int *priority,
                                  const char **profile)
{
    json_t *pj = json_object_get(r->body, "priority");
    json_t *fj = json_object_get(r->body, "profile");
    if (pj && (!json_is_integer(pj) || json_integer_value(pj) < 0 ||
               json_integer_value(pj) > CHANNEL_PRIORITY_MAX)) {
        api_reply_error(r, 400, "bad_request",
                        "\"priority\" must be an integer 0..100");
        return false;
    }
    if (fj && !valid_name(json_string_value(fj))) {
        api_reply_error(r, 400, "bad_request", "bad \"profile\" name");
        return false;
    }
    if (pj)
        *priority = (int)json_integer_value(pj);
    if (fj)
        *profile = json_string_value(fj);
    return true;
}

bool coord_api_channel_create(coord_t *c, api_req_t *r,
                              const coord_api_loop_t *loop,
                              const char *const *params, const char *query)
{
    (void)loop, (void)params, (void)query;
    const char *name = json_string_value(json_object_get(r->body, "name"));
    const char *prof = "default";
    int priority = CHANNEL_PRIORITY_DEFAULT;
    if (!valid_name(name)) {
        api_reply_error(r, 400, "bad_request",
                        "body needs \"name\": 1-63 letters, digits, _ - .");
        return false;
    }
    if (!body_priority_profile(r, &priority, &prof))
        return false;
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->profile, sizeof(r->profile), "%s", prof);
    r->priority = priority;
    return rows_channel_next_id(c, channel_id_cb, r) == 0 || db_away(r);
}

/* ---------------------------------------------------------------- change */

static void channel_update_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        db_failed(r, err, UNKNOWN_PROFILE);
        return;
    }
    if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such channel");
        api_req_free(r);
        return;
    }
    int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    publish_forget_channel(r->c, id);
    rows_event(r->c, "channel.changed", NULL, NULL,
               json_pack("{s:I, s:s, s:O}", "id", (json_int_t)id, "name",
                         PQgetvalue(res, 0, 1), "change", r->body));
    api_reply_json(r, 200, channel_json(res, 0));
    api_req_free(r);
}

bool coord_api_channel_patch(coord_t *c, api_req_t *r,
                             const coord_api_loop_t *loop,
                             const char *const *params, const char *query)
{
    (void)loop, (void)query;
    json_t *nj = json_object_get(r->body, "name");
    json_t *dj = json_object_get(r->body, "disabled");
    const char *profile = NULL;
    int priority = -1;
    if (!body_priority_profile(r, &priority, &profile))
        return false;
    if (nj && !valid_name(json_string_value(nj))) {
        api_reply_error(r, 400, "bad_request",
                        "\"name\": 1-63 letters, digits, _ - .");
        return false;
    }
    if (dj && !json_is_boolean(dj)) {
        api_reply_error(r, 400, "bad_request", "\"disabled\": true or false");
        return false;
    }
    /* The playlists of a live stream are under its channel's name. */
    if (nj && live_stream_named(c, params[0]) &&
        strcmp(json_string_value(nj), params[0])) {
        api_reply_error(r, 409, "live",
                        "the channel is live: rename it when it is offline");
        return false;
    }
    return rows_channel_update(c, params[0], json_string_value(nj), priority,
                               profile, dj ? json_is_true(dj) : -1,
                               channel_update_cb, r) == 0 ||
           db_away(r);
}

/* ---------------------------------------------------------------- key */

static void channel_key_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res || PQntuples(res) != 1) {
        db_failed(r, err, NO_FK);
        return;
    }
    json_t *k = json_object_get(r->body, "_key");
    publish_forget_channel(r->c, r->id);
    rows_event(
        r->c, "channel.key_rotated", NULL, NULL,
        json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", r->name));
    api_reply_json(
        r, 200,
        json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "name",
                  r->name, "stream_key", k ? json_string_value(k) : "", "note",
                  "the old key no longer publishes; a live stream on it goes "
                  "on until it ends; the new key is shown only once"));
    if (k) /* wipe the key from memory */
        memset((char *)json_string_value(k), 0, strlen(json_string_value(k)));
    api_req_free(r);
}

/* The channel to rotate, read by name: a new key for its id. */
static void key_channel_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    char salt[STREAMKEY_SALT_HEX + 1], hash[STREAMKEY_HASH_HEX + 1];
    if (!found_channel(r, res, err) || !new_key(r, salt, hash))
        return;
    if (rows_channel_set_key(r->c, r->id, salt, hash, channel_key_cb, r) < 0) {
        db_away(r);
        api_req_free(r);
    }
}

bool coord_api_channel_key(coord_t *c, api_req_t *r,
                           const coord_api_loop_t *loop,
                           const char *const *params, const char *query)
{
    (void)loop, (void)query;
    return rows_channel_get(c, params[0], key_channel_cb, r) == 0 || db_away(r);
}

/* ---------------------------------------------------------------- delete */

static void channel_delete_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        db_failed(r, err, NO_FK);
        return;
    }
    publish_forget_channel(r->c, r->id);
    rows_event(
        r->c, "channel.deleted", NULL, NULL,
        json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", r->name));
    api_reply_json(r, 200,
                   json_pack("{s:I, s:s, s:b}", "id", (json_int_t)r->id, "name",
                             r->name, "deleted", true));
    api_req_free(r);
}

static void delete_channel_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!found_channel(r, res, err))
        return;
    if (!PQgetisnull(res, 0, 5) || farm_find_channel_stream(r->c, r->id)) {
        api_reply_error(r, 409, "live",
                        "the channel is live: stop its stream first "
                        "(DELETE /api/streams/{id})");
        api_req_free(r);
        return;
    }
    if (rows_channel_delete(r->c, r->id, channel_delete_cb, r) < 0) {
        db_away(r);
        api_req_free(r);
    }
}

bool coord_api_channel_delete(coord_t *c, api_req_t *r,
                              const coord_api_loop_t *loop,
                              const char *const *params, const char *query)
{
    (void)loop, (void)query;
    return rows_channel_get(c, params[0], delete_channel_cb, r) == 0 ||
           db_away(r);
}

/* ---------------------------------------------------------------- profiles */

static json_t *profile_json(const PGresult *res, int i)
{
    json_t *doc = json_loads(PQgetvalue(res, i, 1), 0, NULL);
    return json_pack("{s:s, s:o, s:s, s:I}", "name", PQgetvalue(res, i, 0),
                     "document", doc ? doc : json_null(), "updated_at",
                     PQgetvalue(res, i, 2), "channels",
                     (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL, 10));
}

static void profiles_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        db_failed(r, err, NO_FK);
        return;
    }
    if (r->name[0] && PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such ladder profile");
    } else if (r->name[0]) {
        api_reply_json(r, 200, profile_json(res, 0));
    } else {
        json_t *a = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(a, profile_json(res, i));
        api_reply_json(r, 200, a);
    }
    api_req_free(r);
}

bool coord_api_profiles_list(coord_t *c, api_req_t *r,
                             const coord_api_loop_t *loop,
                             const char *const *params, const char *query)
{
    (void)loop, (void)params, (void)query;
    return rows_profiles(c, NULL, profiles_cb, r) == 0 || db_away(r);
}

bool coord_api_profile_get(coord_t *c, api_req_t *r,
                           const coord_api_loop_t *loop,
                           const char *const *params, const char *query)
{
    (void)loop, (void)query;
    snprintf(r->name, sizeof(r->name), "%s", params[0]);
    return rows_profiles(c, r->name, profiles_cb, r) == 0 || db_away(r);
}

/* What no live worker could run of profile P: a rung whose codec no live
 * device encodes, or whose pixel rate is above every live device's encode
 * budget. New array of sentences; [] when all fits. */
static json_t *profile_backend_warnings(coord_t *c, const ladder_profile_t *p)
{
    json_t *w = json_array();
    for (int i = 0; i < p->nrungs; i++) {
        const ladder_rung_t *r = &p->rungs[i];
        if (r->remux)
            continue;
        uint64_t h = (uint64_t)(r->height ? r->height : r->width * 9 / 16);
        uint64_t wd = (uint64_t)(r->width ? r->width : r->height * 16 / 9);
        uint64_t px = wd * h * (uint64_t)(r->fps ? r->fps : 30);
        bool codec = false, budget = false;
        for (size_t wi = 0; wi < farm_worker_count(c); wi++) {
            if (farm_worker(c, (long)wi)->state == WORKER_DEAD)
                continue;
            for (size_t k = 0; k < farm_pworker(c, (long)wi)->ndevices; k++) {
                const placement_device_t *d = farm_device(c, (long)wi, k);
                bool can = (d->enc_codecs & (1u << r->codec)) != 0;
                codec |= can;
                budget |= can && d->enc_budget >= px;
            }
        }
        char msg[200];
        if (!codec)
            snprintf(msg, sizeof(msg),
                     "renditions[%d]: no live worker encodes %s", i,
                     ladder_codec_name(r->codec));
        else if (!budget)
            snprintf(msg, sizeof(msg),
                     "renditions[%d]: %" PRIu64 " pixels/s is above the "
                     "encode budget of every live device that encodes %s",
                     i, px, ladder_codec_name(r->codec));
        if (!codec || !budget)
            json_array_append_new(w, json_string(msg));
    }
    return w;
}

static void profile_put_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res || PQntuples(res) != 1) {
        db_failed(r, err, NO_FK);
        return;
    }
    bool created = PQgetvalue(res, 0, 0)[0] == 't';
    rows_event(r->c, created ? "profile.created" : "profile.changed", NULL,
               NULL, json_pack("{s:s}", "name", r->name));
    json_t *warn = json_incref(json_object_get(r->body, "_warnings"));
    json_object_del(r->body, "_warnings");
    json_t *doc = json_deep_copy(r->body);
    api_reply_json(r, created ? 201 : 200,
                   json_pack("{s:s, s:o, s:s, s:b, s:o}", "name", r->name,
                             "document", doc ? doc : json_null(), "updated_at",
                             PQgetvalue(res, 0, 1), "created", created,
                             "warnings", warn ? warn : json_array()));
    api_req_free(r);
}

/* PUT /api/profiles/{name}: the body is the profile (docs/api.md), checked
 * by the ladder rules every rung must meet; its name is the path's. */
bool coord_api_profile_put(coord_t *c, api_req_t *r,
                           const coord_api_loop_t *loop,
                           const char *const *params, const char *query)
{
    (void)loop, (void)query;
    if (!valid_name(params[0])) {
        api_reply_error(r, 400, "bad_request",
                        "a profile name is 1-63 letters, digits, _ - .");
        return false;
    }
    snprintf(r->name, sizeof(r->name), "%s", params[0]);
    json_object_set_new(r->body, "name", json_string(r->name));
    char *doc = json_dumps(r->body, JSON_COMPACT | JSON_SORT_KEYS);
    ladder_profile_t prof;
    char err[256] = "";
    if (!doc || ladder_profile_parse(doc, &prof, err, sizeof(err)) < 0) {
        api_reply_error(r, 400, "bad_profile", doc ? err : "out of memory");
        free(doc);
        return false;
    }
    int rc = rows_profile_put(c, r->name, doc, profile_put_cb, r);
    free(doc);
    /* Kept (a farm may gain the hardware later), and said. */
    json_object_set_new(r->body, "_warnings",
                        profile_backend_warnings(c, &prof));
    return rc == 0 || db_away(r);
}

static void profile_delete_cb(void *ud, const PGresult *res, const char *err)
{
    api_req_t *r = ud;
    if (!res) {
        db_failed(r, err, 409, "in_use",
                  "channels use this profile: change them first");
        return;
    }
    if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such ladder profile");
    } else {
        rows_event(r->c, "profile.deleted", NULL, NULL,
                   json_pack("{s:s}", "name", r->name));
        api_reply_json(
            r, 200, json_pack("{s:s, s:b}", "name", r->name, "deleted", true));
    }
    api_req_free(r);
}

bool coord_api_profile_delete(coord_t *c, api_req_t *r,
                              const coord_api_loop_t *loop,
                              const char *const *params, const char *query)
{
    (void)loop, (void)query;
    if (!strcmp(params[0], "default")) {
        api_reply_error(r, 409, "in_use",
                        "the default profile is what channels fall back to");
        return false;
    }
    snprintf(r->name, sizeof(r->name), "%s", params[0]);
    return rows_profile_delete(c, r->name, profile_delete_cb, r) == 0 ||
           db_away(r);
}
