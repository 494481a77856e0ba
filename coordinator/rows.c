/* The coordinator's rows in PostgreSQL: its SQL, row writers, shared JSON. */
#include "rows.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_int.h"
#include "log.h"

#define MOD "coord"

static const char SQL_LOCK[] = "SELECT pg_try_advisory_lock($1::bigint)";
static const char SQL_LOAD_STREAMS[] =
    "SELECT s.id, s.channel_id, c.name, c.priority, s.ingest_id, "
    "coalesce(s.worker_id, ''), s.generation, "
    "coalesce(s.subscribe_token, ''), s.source::text, s.media_sequence, "
    "coalesce(p.document::text, ''), s.protocol, coalesce(s.profile, '') "
    "FROM streams s JOIN channels c ON c.id = s.channel_id LEFT JOIN "
    "ladder_profiles p ON p.name = coalesce(s.profile, c.profile) "
    "WHERE s.state <> 'ended'";
static const char SQL_CHANNEL_BY_ID[] =
    "SELECT c.id, c.name, c.priority, c.profile, encode(c.key_salt, 'hex'), "
    "encode(c.key_hash, 'hex'), coalesce(p.document::text, ''), c.disabled "
    "FROM channels c LEFT JOIN ladder_profiles p ON p.name = c.profile "
    "WHERE c.id = $1::bigint";
static const char SQL_CHANNEL_UPSERT[] =
    "INSERT INTO channels AS c (name, priority, profile, key_salt, key_hash) "
    "VALUES ($1, coalesce($3::smallint, 50), coalesce($2, 'default'), "
    "decode($4, 'hex'), decode($5, 'hex')) ON CONFLICT (name) DO UPDATE SET "
    "priority = coalesce($3::smallint, c.priority), "
    "profile = coalesce($2, c.profile) "
    "RETURNING c.id, c.name, c.priority, c.profile, encode(c.key_salt, 'hex'), "
    "encode(c.key_hash, 'hex'), coalesce((SELECT p.document::text FROM "
    "ladder_profiles p WHERE p.name = c.profile), ''), c.disabled";
static const char SQL_WORKER_UPSERT[] =
    "INSERT INTO workers (id, host, state, draining, software, last_seen) "
    "VALUES ($1, $2, $3, $4::boolean, $5, now()) ON CONFLICT (id) DO UPDATE "
    "SET host = EXCLUDED.host, state = EXCLUDED.state, draining = "
    "EXCLUDED.draining, software = EXCLUDED.software, last_seen = now()";
static const char SQL_DEVICES_DELETE[] =
    "DELETE FROM devices WHERE worker_id = $1";
static const char SQL_DEVICES_INSERT[] =
    "INSERT INTO devices (worker_id, device_index, kind, name, path, "
    "max_sessions, encode_budget, decode_budget, memory_bytes, codecs, "
    "hw_encode, note) SELECT $1, x.index, x.kind, x.name, x.path, "
    "x.max_sessions, x.encode_budget, x.decode_budget, x.memory_bytes, "
    "ARRAY(SELECT jsonb_array_elements_text(x.encode_codecs)), x.hw_encode, "
    "x.note FROM jsonb_to_recordset($2::jsonb) AS x(index int, kind text, "
    "name text, path text, max_sessions int, encode_budget bigint, "
    "decode_budget bigint, memory_bytes bigint, encode_codecs jsonb, "
    "hw_encode boolean, note text)";
static const char SQL_STREAM_UPSERT[] =
    "INSERT INTO streams (id, channel_id, state, ingest_id, protocol, "
    "profile, worker_id, device_index, generation, subscribe_token, source, "
    "renditions, media_sequence, last_error) VALUES ($1::uuid, $2::bigint, "
    "$3, $4, $5, $6, $7, $8::int, $9::bigint, $10, $11::jsonb, $12::jsonb, "
    "$13::bigint, $14) ON CONFLICT (id) DO UPDATE SET state = "
    "EXCLUDED.state, ingest_id = EXCLUDED.ingest_id, worker_id = "
    "EXCLUDED.worker_id, device_index = EXCLUDED.device_index, generation = "
    "EXCLUDED.generation, source = EXCLUDED.source, renditions = "
    "EXCLUDED.renditions, media_sequence = EXCLUDED.media_sequence, "
    "last_error = EXCLUDED.last_error, updated_at = now()";
static const char SQL_STREAM_END[] =
    "UPDATE streams SET state = 'ended', ended_at = now(), end_reason = $2, "
    "updated_at = now() WHERE id = $1::uuid AND state <> 'ended'";
static const char SQL_ASSIGN_INSERT[] =
    "INSERT INTO assignments (stream_id, generation, worker_id, "
    "device_index, renditions) VALUES ($1::uuid, $2::bigint, $3, $4::int, "
    "$5::jsonb) ON CONFLICT DO NOTHING";
static const char SQL_ASSIGN_RUNNING[] =
    "UPDATE assignments SET state = 'running', acked_at = now() WHERE "
    "stream_id = $1::uuid AND generation = $2::bigint AND state = 'assigned'";
static const char SQL_ASSIGN_CLOSE[] =
    "UPDATE assignments SET state = $3, released_at = now() WHERE stream_id "
    "= $1::uuid AND generation = $2::bigint AND state IN ('assigned', "
    "'running')";
/* at: when the coordinator decided, not when the row arrived (writes wait
 * in the store's queue while the database is away). */
static const char SQL_EVENT[] =
    "INSERT INTO events (kind, worker_id, stream_id, coordinator, detail, at) "
    "VALUES ($1, $2, $3::uuid, $4, $5::jsonb, "
    "to_timestamp($6::double precision / 1000))";
static const char SQL_STATS[] =
    "INSERT INTO stream_stats (stream_id, bitrate_kbps, fps, "
    "keyframe_interval_s, dropped_packets, bytes_in, subscribers, speed, "
    "worker_id, generation) VALUES ($1::uuid, $2::real, $3::real, $4::real, "
    "$5::bigint, $6::bigint, $7::int, $8::real, $9, $10::bigint)";

static const char SQL_CHANNELS[] =
    "SELECT c.id, c.name, c.priority, c.profile, c.created_at, s.id, "
    "c.disabled FROM channels c LEFT JOIN streams s ON s.channel_id = c.id "
    "AND s.ended_at IS NULL ORDER BY c.id";
static const char SQL_CHANNEL_GET[] =
    "SELECT c.id, c.name, c.priority, c.profile, c.created_at, s.id, "
    "c.disabled FROM channels c LEFT JOIN streams s ON s.channel_id = c.id "
    "AND s.ended_at IS NULL WHERE c.name = $1";
static const char SQL_CHANNEL_UPDATE[] =
    "UPDATE channels SET name = coalesce($2, name), "
    "priority = coalesce($3::smallint, priority), "
    "profile = coalesce($4, profile), disabled = coalesce($5::boolean, "
    "disabled) WHERE name = $1 RETURNING id, name, priority, profile, "
    "created_at, NULL, disabled";
static const char SQL_CHANNEL_SET_KEY[] =
    "UPDATE channels SET key_salt = decode($2, 'hex'), "
    "key_hash = decode($3, 'hex') WHERE id = $1::bigint RETURNING id";
static const char SQL_CHANNEL_FORGET_STREAMS[] =
    "DELETE FROM streams WHERE channel_id = $1::bigint "
    "AND ended_at IS NOT NULL";
static const char SQL_CHANNEL_DELETE[] =
    "DELETE FROM channels WHERE id = $1::bigint RETURNING id";
static const char SQL_PROFILES[] =
    "SELECT p.name, p.document::text, p.updated_at, (SELECT count(*) FROM "
    "channels c WHERE c.profile = p.name) FROM ladder_profiles p";
static const char SQL_PROFILES_ORDER[] = " ORDER BY p.name";
static const char SQL_PROFILE_WHERE[] = " WHERE p.name = $1";
static const char SQL_PROFILE_PUT[] =
    "INSERT INTO ladder_profiles (name, document) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (name) DO UPDATE SET document = EXCLUDED.document, "
    "updated_at = now() RETURNING (xmax = 0), updated_at";
static const char SQL_PROFILE_DELETE[] =
    "DELETE FROM ladder_profiles WHERE name = $1 RETURNING name";
static const char SQL_EVENTS[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), kind, stream_id, worker_id, "
    "coordinator, detail::text FROM events "
    "WHERE ($1::uuid IS NULL OR stream_id = $1::uuid) "
    "AND ($2::text IS NULL OR worker_id = $2) "
    "AND ($3::text IS NULL OR kind LIKE $3 || '%') "
    "ORDER BY id DESC LIMIT $4::int";
static const char SQL_CHANNEL_NEXTID[] =
    "SELECT nextval(pg_get_serial_sequence('channels', 'id'))";
static const char SQL_CHANNEL_INSERT[] =
    "INSERT INTO channels (id, name, priority, profile, key_salt, key_hash) "
    "VALUES ($1::bigint, $2, $3::smallint, $4, decode($5, 'hex'), "
    "decode($6, 'hex')) RETURNING created_at";

static void db_write(coord_t *c, const char *sql, int n,
                     const char *const *params)
{
    if (!c->db)
        return;
    if (store_query(c->db, sql, n, params, STORE_WRITE, NULL, NULL) < 0)
        c->n.writes_dropped++;
}

void rows_event(coord_t *c, const char *kind, const char *worker,
                const char *stream, json_t *detail)
{
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    char at[24];
    snprintf(at, sizeof(at), "%lld", (long long)clock_wall_ms());
    const char *p[6] = {kind,
                        worker && worker[0] ? worker : NULL,
                        stream && stream[0] ? stream : NULL,
                        c->cfg.id,
                        d ? d : "{}",
                        at};
    if (c->db &&
        store_query(c->db, SQL_EVENT, 6, p, STORE_WRITE, NULL, NULL) < 0)
        c->n.events_dropped++;
    log_info(MOD, "Event.", "kind=%s worker=%s stream=%s detail=%s", kind,
             worker ? worker : "", stream ? stream : "", d ? d : "{}");
    free(d);
    json_decref(detail);
}

json_t *rows_source_json(const coord_stream_t *s)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s}", "codec",
                     envelope_codec_name(s->src_info.video_codec), "width",
                     s->source.width, "height", s->source.height, "fps_num",
                     s->source.fps_num, "fps_den", s->source.fps_den,
                     "bitrate_kbps", s->source.bitrate_kbps, "audio_codec",
                     envelope_codec_name(s->src_info.audio_codec));
}

json_t *rows_renditions_json(const coord_stream_t *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->ladder.n; i++) {
        if (!(s->kept & (1u << i)))
            continue;
        const ladder_rendition_t *r = &s->ladder.r[i];
        json_array_append_new(
            a,
            json_pack("{s:s, s:b, s:i, s:i, s:f, s:i, s:s}", "name", r->name,
                      "remux", r->remux, "width", r->width, "height", r->height,
                      "fps", ladder_rendition_fps(r), "bitrate_kbps",
                      r->bitrate_kbps, "codec", ladder_codec_name(r->codec)));
    }
    return a;
}

void rows_stream(coord_t *c, const coord_stream_t *s)
{
    char chan[24], dev[16], gen[24], mseq[24];
    snprintf(chan, sizeof(chan), "%" PRId64, s->channel_id);
    snprintf(dev, sizeof(dev), "%d", farm_device_index(c, s));
    snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
    snprintf(mseq, sizeof(mseq), "%" PRIu64, s->media_sequence);
    json_t *src = rows_source_json(s), *ren = rows_renditions_json(s);
    char *srcs = json_dumps(src, JSON_COMPACT);
    char *rens = json_dumps(ren, JSON_COMPACT);
    const char *wid = farm_worker_id(c, s->worker);
    const char *p[14] = {s->id,
                         chan,
                         farm_stream_state_name(s->state),
                         s->ingest,
                         s->protocol[0] ? s->protocol : "rtmp",
                         s->profile[0] ? s->profile : NULL,
                         wid[0] ? wid : NULL,
                         s->device >= 0 ? dev : NULL,
                         gen,
                         s->token,
                         srcs ? srcs : "{}",
                         rens ? rens : "[]",
                         mseq,
                         s->last_error[0] ? s->last_error : NULL};
    db_write(c, SQL_STREAM_UPSERT, 14, p);
    free(srcs);
    free(rens);
    json_decref(src);
    json_decref(ren);
}

/* Writes the worker's row; with `devices`, replaces its device rows. */
void rows_worker(coord_t *c, long wi, bool devices)
{
    coord_worker_t *w = &c->workers[wi];
    const char *state = w->state != WORKER_LIVE      ? "dead"
                        : c->pworkers[wi].overloaded ? "overloaded"
                                                     : "live";
    const char *p[5] = {w->id, w->host, state,
                        c->pworkers[wi].draining ? "true" : "false",
                        w->software};
    db_write(c, SQL_WORKER_UPSERT, 5, p);
    if (!devices)
        return;
    json_t *devs = rows_devices_json(c, wi);
    char *d = json_dumps(devs, JSON_COMPACT);
    const char *q[2] = {w->id, d ? d : "[]"};
    db_write(c, SQL_DEVICES_DELETE, 1, q);
    db_write(c, SQL_DEVICES_INSERT, 2, q);
    free(d);
    json_decref(devs);
}

void rows_assignment_close(coord_t *c, const char *stream, uint64_t gen,
                           const char *state)
{
    char g[24];
    snprintf(g, sizeof(g), "%" PRIu64, gen);
    const char *p[3] = {stream, g, state};
    db_write(c, SQL_ASSIGN_CLOSE, 3, p);
}

/* Records a placement's assignment row ("assigned"), marks it "running",
 * or closes it ("released", "failed"). */
void rows_assignment(coord_t *c, const coord_stream_t *s, const char *what)
{
    char gen[24], dev[16];
    snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
    if (!strcmp(what, "assigned")) {
        snprintf(dev, sizeof(dev), "%d", farm_device_index(c, s));
        json_t *ren = rows_renditions_json(s);
        char *r = json_dumps(ren, JSON_COMPACT);
        const char *p[5] = {s->id, gen, farm_worker_id(c, s->worker), dev,
                            r ? r : "[]"};
        db_write(c, SQL_ASSIGN_INSERT, 5, p);
        free(r);
        json_decref(ren);
    } else if (!strcmp(what, "running")) {
        const char *p[2] = {s->id, gen};
        db_write(c, SQL_ASSIGN_RUNNING, 2, p);
    } else {
        rows_assignment_close(c, s->id, s->generation, what);
    }
}

/* A load's three dimensions as an object. */
static json_t *load_json(const placement_load_t *l)
{
    return json_pack("{s:i, s:I, s:I}", "sessions", l->sessions,
                     "encode_pixels", (json_int_t)l->encode_pixels,
                     "decode_pixels", (json_int_t)l->decode_pixels);
}

/* What was measured of a device, beside what is reserved on it: the
 * smoothed use (null while unknown), the last sample, where it comes
 * from, a CPU device's cores and the worker's own, and the effective
 * load placement counts (the larger of use and the reported cost). */
static json_t *measured_json(const placement_device_t *d,
                             const coord_device_info_t *di)
{
    json_t *m = load_json(&d->measured);
    json_object_set_new(m, "use",
                        di->use.have ? json_real(di->use.use) : json_null());
    json_object_set_new(m, "last_sample",
                        di->use.last >= 0 ? json_real(di->use.last)
                                          : json_null());
    json_object_set_new(m, "source", json_string(di->measured_source));
    json_object_set_new(m, "cpu_cores", json_real(di->cpu_cores));
    json_object_set_new(m, "process_cores", json_real(di->process_cores));
    json_object_set_new(m, "sm_util", json_integer(di->sm_util));
    json_object_set_new(m, "reported", load_json(&di->reported));
    return m;
}

json_t *rows_devices_json(const coord_t *c, long wi)
{
    json_t *a = json_array();
    const coord_worker_t *w = &c->workers[wi];
    const placement_worker_t *pw = &c->pworkers[wi];
    for (size_t k = 0; k < pw->ndevices; k++) {
        const placement_device_t *d = &c->pdevices[pw->first_device + k];
        const coord_device_info_t *di = &w->dev[k];
        placement_load_t u;
        placement_device_used(d, &u);
        json_t *codecs = json_array();
        for (int cc = 0; cc < 3; cc++)
            if (d->enc_codecs & (1u << cc))
                json_array_append_new(
                    codecs, json_string(ladder_codec_name((ladder_codec_t)cc)));
        json_array_append_new(
            a,
            json_pack(
                "{s:i, s:s, s:s, s:s, s:b, s:o, s:i, s:I, s:I, s:s,"
                " s:{s:i, s:I, s:I}, s:o, s:o, s:f, s:i, s:i, s:I}",
                "index", (int)di->index, "kind", placement_kind_name(d->kind),
                "name", di->name, "path", di->path, "hw_encode", d->hw_encode,
                "encode_codecs", codecs, "max_sessions", d->max_sessions,
                "encode_budget", (json_int_t)d->enc_budget, "decode_budget",
                (json_int_t)d->dec_budget, "note", di->note, "used", "sessions",
                u.sessions, "encode_pixels", (json_int_t)u.encode_pixels,
                "decode_pixels", (json_int_t)u.decode_pixels, "reserved",
                load_json(&d->reserved), "measured", measured_json(d, di),
                "load", placement_device_load(d), "encoder_util",
                di->encoder_util, "decoder_util", di->decoder_util,
                "memory_bytes", (json_int_t)di->memory_bytes));
    }
    return a;
}

void rows_stream_end(coord_t *c, const char *id, const char *why)
{
    const char *p[2] = {id, why};
    db_write(c, SQL_STREAM_END, 2, p);
}

void rows_stats(coord_t *c, const coord_stream_t *s,
                const Prism__IngestStats *st)
{
    char b[32], f[32], k[32], d[32], by[32], sub[16], sp[32];
    snprintf(b, sizeof(b), "%.3f", st->bitrate_kbps);
    snprintf(f, sizeof(f), "%.3f", st->fps);
    snprintf(k, sizeof(k), "%.3f", st->keyframe_interval_s);
    snprintf(d, sizeof(d), "%" PRIu64, st->dropped_packets);
    snprintf(by, sizeof(by), "%" PRIu64, st->bytes_in);
    snprintf(sub, sizeof(sub), "%u", st->subscribers);
    snprintf(sp, sizeof(sp), "%.3f", s->speed);
    char gen[24];
    snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
    const char *wid = farm_worker_id(c, s->worker);
    const char *p[10] = {s->id, b, f, k, d, by, sub, sp, wid[0] ? wid : NULL,
                         gen};
    db_write(c, SQL_STATS, 10, p);
}

void rows_source_parse(const char *text, Prism__SourceInfo *out)
{
    Prism__SourceInfo def = PRISM__SOURCE_INFO__INIT;
    *out = def;
    json_t *src = json_loads(text, 0, NULL);
#define SRCI(k) (uint32_t) json_integer_value(json_object_get(src, k))
    out->width = SRCI("width");
    out->height = SRCI("height");
    out->fps_num = SRCI("fps_num");
    out->fps_den = SRCI("fps_den");
    out->video_kbps = SRCI("bitrate_kbps");
#undef SRCI
    out->video_codec =
        envelope_codec_parse(json_string_value(json_object_get(src, "codec")));
    out->audio_codec = envelope_codec_parse(
        json_string_value(json_object_get(src, "audio_codec")));
    json_decref(src);
}

/* ---------------------------------------------------------------- reads */

int rows_try_lock(coord_t *c, int64_t key, store_cb_t cb, void *ud)
{
    char k[24];
    snprintf(k, sizeof(k), "%lld", (long long)key);
    const char *p[1] = {k};
    return store_query(c->db, SQL_LOCK, 1, p, STORE_READ | STORE_FRONT, cb, ud);
}

int rows_load_streams(coord_t *c, store_cb_t cb, void *ud)
{
    return store_query(c->db, SQL_LOAD_STREAMS, 0, NULL,
                       STORE_READ | STORE_FRONT, cb, ud);
}

int rows_channel_by_id(coord_t *c, int64_t id, store_cb_t cb, void *ud)
{
    char k[24];
    snprintf(k, sizeof(k), "%" PRId64, id);
    const char *p[1] = {k};
    return store_query(c->db, SQL_CHANNEL_BY_ID, 1, p, STORE_READ, cb, ud);
}

int rows_channel_upsert(coord_t *c, const char *name, const char *profile,
                        int priority, const char *salt, const char *hash,
                        store_cb_t cb, void *ud)
{
    char prio[16];
    snprintf(prio, sizeof(prio), "%d", priority);
    const char *p[5] = {name, profile[0] ? profile : NULL,
                        priority >= 0 ? prio : NULL, salt, hash};
    return store_query(c->db, SQL_CHANNEL_UPSERT, 5, p, STORE_READ, cb, ud);
}

int rows_channel_row(const PGresult *res, chan_row_t *out)
{
    memset(out, 0, sizeof(*out));
    if (PQntuples(res) != 1)
        return -ENOENT;
    out->id = strtoll(PQgetvalue(res, 0, ROWS_CHAN_ID), NULL, 10);
    snprintf(out->name, sizeof(out->name), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_NAME));
    out->priority =
        (uint32_t)strtoul(PQgetvalue(res, 0, ROWS_CHAN_PRIORITY), NULL, 10);
    snprintf(out->profile, sizeof(out->profile), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_PROFILE));
    snprintf(out->salt, sizeof(out->salt), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_SALT));
    snprintf(out->hash, sizeof(out->hash), "%s",
             PQgetvalue(res, 0, ROWS_CHAN_HASH));
    out->disabled = PQgetvalue(res, 0, ROWS_CHAN_DISABLED)[0] == 't';
    out->profile_doc = PQgetisnull(res, 0, ROWS_CHAN_PROFILE_DOC)
                           ? NULL
                           : PQgetvalue(res, 0, ROWS_CHAN_PROFILE_DOC);
    return 0;
}

int rows_channels(coord_t *c, store_cb_t cb, void *ud)
{
    return store_query(c->db, SQL_CHANNELS, 0, NULL, STORE_READ, cb, ud);
}

int rows_channel_next_id(coord_t *c, store_cb_t cb, void *ud)
{
    return store_query(c->db, SQL_CHANNEL_NEXTID, 0, NULL, STORE_READ, cb, ud);
}

int rows_channel_insert(coord_t *c, int64_t id, const char *name, int priority,
                        const char *profile, const char *salt, const char *hash,
                        store_cb_t cb, void *ud)
{
    char k[24], prio[16];
    snprintf(k, sizeof(k), "%" PRId64, id);
    snprintf(prio, sizeof(prio), "%d", priority);
    const char *p[6] = {k, name, prio, profile, salt, hash};
    return store_query(c->db, SQL_CHANNEL_INSERT, 6, p, STORE_READ, cb, ud);
}

bool rows_db_up(const coord_t *c, store_stats_t *stats)
{
    if (stats)
        store_get_stats(c->db, stats);
    return store_up(c->db);
}

/* ------------------------------------------------ channels and profiles */

int rows_channel_get(coord_t *c, const char *name, store_cb_t cb, void *ud)
{
    const char *p[1] = {name};
    return store_query(c->db, SQL_CHANNEL_GET, 1, p, STORE_READ, cb, ud);
}

int rows_channel_update(coord_t *c, const char *name, const char *new_name,
                        int priority, const char *profile, int disabled,
                        store_cb_t cb, void *ud)
{
    char prio[16];
    snprintf(prio, sizeof(prio), "%d", priority);
    const char *p[5] = {name, new_name, priority >= 0 ? prio : NULL, profile,
                        disabled < 0 ? NULL
                        : disabled   ? "true"
                                     : "false"};
    return store_query(c->db, SQL_CHANNEL_UPDATE, 5, p, STORE_READ, cb, ud);
}

int rows_channel_set_key(coord_t *c, int64_t id, const char *salt,
                         const char *hash, store_cb_t cb, void *ud)
{
    char k[24];
    snprintf(k, sizeof(k), "%" PRId64, id);
    const char *p[3] = {k, salt, hash};
    return store_query(c->db, SQL_CHANNEL_SET_KEY, 3, p, STORE_READ, cb, ud);
}

int rows_channel_delete(coord_t *c, int64_t id, store_cb_t cb, void *ud)
{
    char k[24];
    snprintf(k, sizeof(k), "%" PRId64, id);
    const char *p[1] = {k};
    /* Reads run in order: the history goes first, then the row. */
    int rc = store_query(c->db, SQL_CHANNEL_FORGET_STREAMS, 1, p, STORE_READ,
                         NULL, NULL);
    if (rc < 0)
        return rc;
    return store_query(c->db, SQL_CHANNEL_DELETE, 1, p, STORE_READ, cb, ud);
}

int rows_profiles(coord_t *c, const char *name, store_cb_t cb, void *ud)
{
    static char all[sizeof(SQL_PROFILES) + sizeof(SQL_PROFILES_ORDER)];
    static char one[sizeof(SQL_PROFILES) + sizeof(SQL_PROFILE_WHERE)];
    if (!all[0]) {
        snprintf(all, sizeof(all), "%s%s", SQL_PROFILES, SQL_PROFILES_ORDER);
        snprintf(one, sizeof(one), "%s%s", SQL_PROFILES, SQL_PROFILE_WHERE);
    }
    const char *p[1] = {name};
    return store_query(c->db, name ? one : all, name ? 1 : 0, p, STORE_READ, cb,
                       ud);
}

int rows_profile_put(coord_t *c, const char *name, const char *doc,
                     store_cb_t cb, void *ud)
{
    const char *p[2] = {name, doc};
    return store_query(c->db, SQL_PROFILE_PUT, 2, p, STORE_READ, cb, ud);
}

int rows_profile_delete(coord_t *c, const char *name, store_cb_t cb, void *ud)
{
    const char *p[1] = {name};
    return store_query(c->db, SQL_PROFILE_DELETE, 1, p, STORE_READ, cb, ud);
}

int rows_events(coord_t *c, const char *stream, const char *worker,
                const char *kind, int limit, store_cb_t cb, void *ud)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[4] = {stream, worker, kind, lim};
    return store_query(c->db, SQL_EVENTS, 4, p, STORE_READ, cb, ud);
}
