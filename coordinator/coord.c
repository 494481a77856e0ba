/* The coordinator's event loop: leadership, the control socket, timers. */

/*
 * How this works
 *
 * One thread runs coord_run's zmq_poll loop and owns everything: the control
 * ROUTER (CURVE, ZAP allowlist, ROUTER_MANDATORY, every send ZMQ_DONTWAIT so
 * a slow or gone peer costs a counted failure, never a stall), the inproc
 * ROUTER the HTTP thread asks through (coord_api.c), the PostgreSQL socket
 * (store.c) and the timers. No locks guard farm state because no other
 * thread touches it.
 *
 * Leadership: the loop first connects to PostgreSQL and takes the advisory
 * lock ha_lock_key with pg_try_advisory_lock, retrying every ha_retry_ms.
 * Only then does it reload the streams the database says are live (state
 * RECOVERING), bind the control socket and start the API. The lock belongs
 * to the database session: when the leader dies its session ends and a
 * standby's next try succeeds. A leader whose connection breaks keeps
 * serving (running streams need nothing from the database) and takes the
 * lock again on reconnect; if another coordinator holds it by then, this one
 * stops (-EBUSY) so that two never place at once.
 *
 * Layers: this file dispatches each control message and runs the timers;
 * the work is done below it, each file calling only those under it:
 *   publish.c, worker_proto.c, ingest_proto.c  the protocol (publishes;
 *                  workers' Register, LoadReport, Ack; ingests' Hello,
 *                  StreamEnd, IngestStats; the timed checks)
 *   ops.c          placement operations and the session failure policy
 *   release.c      Releases kept until the worker acknowledges them
 *   rows.c         every SQL statement, the row writers, the shared JSON
 *   farm.c         the tables (workers, devices, ingests, streams), their
 *                  indices and lookups, sending an envelope
 * coord_api.c answers the HTTP API from ops.c, release.c, rows.c and
 * farm.c's functions; struct coord (coord_int.h) is the layers' alone.
 */
#include "coord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "publish.h"
#include "publish_hook.h"
#include "clock.h"
#include "coord_api.h"
#include "coord_http.h"
#include "coord_int.h"
#include "db_migrate.h"
#include "idmap.h"
#include "ingest_proto.h"
#include "log.h"
#include "ops.h"
#include "release.h"
#include "rows.h"
#include "webhook.h"
#include "worker_proto.h"
#include "zctx.h"
#include "zsock.h"

#define MOD "coord"

/* ---------------------------------------------------------------- limits */

/*
 * Messages the control socket queues per peer, each way, ten times zsock's
 * default. Sends never wait: a full queue is a counted send failure. A
 * worker is sent a few messages per stream when many move at once (a
 * failover, the reconciliation after a restart), so this leaves room for a
 * worker carrying thousands of streams; a queue that still fills belongs
 * to a peer that has stopped reading.
 */
#define CONTROL_HWM 10000

/*
 * Control messages handled in one go before the loop turns to the API,
 * PostgreSQL and its timers: a flood on the control socket holds them up
 * for this many messages at most.
 */
#define CONTROL_BATCH_MAX 1000

/*
 * The timed checks (dead workers, unacknowledged Assigns and Releases, the
 * reconnect and reconcile graces, silent ingests) run this many times per
 * report interval: a worker is declared dead at most report_ms / 4 after
 * its deadline.
 */
#define CHECKS_PER_REPORT 4

/*
 * Longest zmq_poll wait. The timers (heartbeats, pending retries, the
 * allowlist re-read) run when the poll returns, so this is how late one
 * can be when no message wakes the loop.
 */
#define POLL_MAX_MS 100

/* The start-up's PostgreSQL backoff sleeps in slices this long, so a stop
 * signal during a long backoff is seen within one. */
#define STOP_CHECK_MS 50

/* ---------------------------------------------------------------- control */

/* Handles up to CONTROL_BATCH_MAX control messages; false when more wait. */
static bool handle_control(coord_t *c)
{
    for (int i = 0; i < CONTROL_BATCH_MAX; i++) {
        envelope_peer_t peer;
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(c->control, ZMQ_DONTWAIT, &peer, &env, NULL);
        if (rc == -EAGAIN)
            return true;
        if (rc < 0) {
            c->n.messages_bad++;
            if (rc == -ETERM)
                return true;
            continue;
        }
        c->n.messages_in++;
        /* Any message from a worker counts as a heartbeat. */
        long wi = -1;
        if (peer.user_id[0] && farm_find_worker(c, peer.user_id, &wi) &&
            c->workers[wi].state == WORKER_LIVE)
            c->workers[wi].last_seen_ms = clock_mono_ms();
        switch (env->body_case) {
        case PRISM__ENVELOPE__BODY_HELLO:
            ingest_proto_hello(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_REGISTER:
            worker_proto_register(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_LOAD_REPORT:
            worker_proto_report(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_ACK:
            worker_proto_ack(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_PUBLISH_REQUEST:
            publish_admit(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_STREAM_END:
            ingest_proto_stream_end(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_INGEST_STATS:
            ingest_proto_stats(c, &peer, env);
            break;
        case PRISM__ENVELOPE__BODY_HEARTBEAT: {
            coord_ingest_t *in = farm_find_ingest(
                c, peer.user_id[0] ? peer.user_id : env->sender);
            if (in)
                in->last_seen_ms = clock_mono_ms();
            /* Unknown, or known only from what it said of its streams
             * (after a take-over, before its Hello): without its media
             * endpoint no worker can subscribe, so it says hello again. */
            if ((!in || !in->endpoint[0]) && wi < 0)
                farm_send_not_registered(c, &peer, env->sender);
            break;
        }
        default: {
            char who[256];
            log_warn(MOD, "Unexpected message ignored.", "peer=\"%s\" body=%s",
                     envelope_peer_str(&peer, who, sizeof(who)),
                     envelope_body_name(env));
            c->n.messages_bad++;
            break;
        }
        }
        envelope_free(&env);
    }
    return false;
}

/* ---------------------------------------------------------------- timers */

/*
 * The loop looked at the clock at NOW. More than a report interval since it
 * last did means it was held up (the process descheduled or stopped, a VM
 * paused, a slow call): what workers and ingests said meanwhile waits in
 * the control socket, so that silence is the coordinator's own and is not
 * counted against them (a peer heard since is not moved past NOW). Looked
 * at after the poll and again after handling what it returned, so that a
 * stall in either is forgiven before the dead-peer check reads the clock.
 */
static void loop_clock(coord_t *c, int64_t now)
{
    int64_t gap = c->loop_ms ? now - c->loop_ms : 0;
    c->loop_ms = now;
    if (gap <= c->cfg.report_ms)
        return;
    for (size_t i = 0; i < c->nworkers; i++) {
        coord_worker_t *w = &c->workers[i];
        if (w->state == WORKER_LIVE)
            w->last_seen_ms =
                w->last_seen_ms + gap < now ? w->last_seen_ms + gap : now;
    }
    for (size_t i = 0; i < c->ningests; i++) {
        int64_t *seen = &c->ingests[i].last_seen_ms;
        *seen = *seen + gap < now ? *seen + gap : now;
    }
    log_warn(MOD,
             "The coordinator's loop was held up; its workers' and ingests' "
             "silence meanwhile is not counted against them.",
             "stall_ms=%lld", (long long)gap);
}

static void heartbeat_all(coord_t *c)
{
    Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    hb.seq = ++c->hb_seq;
    hb.leader = true;
    env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    for (size_t i = 0; i < c->nworkers; i++)
        if (c->workers[i].state == WORKER_LIVE)
            farm_send(c, c->workers[i].rid, c->workers[i].rid_len, &env,
                      c->workers[i].id);
    for (size_t i = 0; i < c->ningests; i++)
        farm_send(c, c->ingests[i].rid, c->ingests[i].rid_len, &env,
                  c->ingests[i].id);
}

/* ---------------------------------------------------------------- leader */

static int start_serving(coord_t *c);

static void load_cb(void *ud, const PGresult *res, const char *err)
{
    coord_t *c = ud;
    if (!res) {
        log_error(MOD, "Loading streams from PostgreSQL failed.", "err=\"%s\"",
                  err ? err : "");
        c->next_lock_try_ms = clock_mono_ms() + c->cfg.ha_retry_ms;
        c->loaded = false;
        return;
    }
    int64_t now = clock_mono_ms();
    int n = PQntuples(res), kept = 0;
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, ROWS_LOAD_ID);
        if (farm_find_stream(c, id))
            continue;
        coord_stream_t *s = farm_stream_alloc(c);
        if (!s)
            break;
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->channel_id =
            strtoll(PQgetvalue(res, i, ROWS_LOAD_CHANNEL_ID), NULL, 10);
        if (farm_stream_index(c, s) < 0) {
            s->id[0] = '\0';
            farm_stream_free(c, s);
            break;
        }
        snprintf(s->channel, sizeof(s->channel), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_CHANNEL));
        s->priority =
            (uint32_t)strtoul(PQgetvalue(res, i, ROWS_LOAD_PRIORITY), NULL, 10);
        snprintf(s->ingest, sizeof(s->ingest), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_INGEST));
        s->generation =
            strtoull(PQgetvalue(res, i, ROWS_LOAD_GENERATION), NULL, 10);
        snprintf(s->token, sizeof(s->token), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_TOKEN));
        s->media_sequence =
            strtoull(PQgetvalue(res, i, ROWS_LOAD_MEDIA_SEQUENCE), NULL, 10);
        rows_source_parse(PQgetvalue(res, i, ROWS_LOAD_SOURCE), &s->src_info);
        snprintf(s->protocol, sizeof(s->protocol), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_PROTOCOL));
        snprintf(s->profile, sizeof(s->profile), "%s",
                 PQgetvalue(res, i, ROWS_LOAD_PROFILE));
        envelope_source_to_ladder(&s->src_info, &s->source);
        /* A source whose size was not known yet: the ingest's stats bring
         * it, and the ladder is fitted then (ingest_proto.c). */
        if (publish_load_profile(s->profile,
                                 PQgetvalue(res, i, ROWS_LOAD_PROFILE_DOC),
                                 &s->prof) < 0 ||
            ladder_apply(&s->prof, &s->source, &s->ladder) < 0) {
            s->ladder.n = 0;
            s->awaiting_source = true;
        }
        s->kept = 0;
        s->placements = 1;   /* a later placement continues the playlists */
        s->live_said = true; /* said before the restart, or about to be */
        s->state = STREAM_RECOVERING;
        s->recover_deadline_ms = now + c->cfg.reconcile_grace_ms;
        s->media_ms = now; /* its publisher counts as sending */
        kept++;
    }
    log_info(MOD, "Streams reloaded from PostgreSQL; waiting for workers.",
             "streams=%d grace_ms=%lld", kept,
             (long long)c->cfg.reconcile_grace_ms);
    c->loaded = true;
    int rc = start_serving(c);
    if (rc < 0)
        c->stop = rc; /* coord_run returns this code */
}

static void lock_cb(void *ud, const PGresult *res, const char *err)
{
    coord_t *c = ud;
    c->lock_query_out = false;
    bool got = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    if (!res)
        log_warn(MOD, "Advisory lock query failed.", "err=\"%s\"",
                 err ? err : "");
    if (got && !c->leader) {
        c->leader = true;
        log_info(MOD, "Took the leader lock; this coordinator leads.",
                 "id=%s key=%lld", c->cfg.id, (long long)c->cfg.ha_lock_key);
        if (rows_load_streams(c, load_cb, c) < 0)
            c->leader = false;
        return;
    }
    if (!got && c->leader) {
        log_error(MOD,
                  "Another coordinator holds the leader lock; stepping down.",
                  "id=%s", c->cfg.id);
        c->stop = 3;
        return;
    }
    if (!got)
        c->next_lock_try_ms = clock_mono_ms() + c->cfg.ha_retry_ms;
}

static void ask_lock(coord_t *c)
{
    if (rows_try_lock(c, c->cfg.ha_lock_key, lock_cb, c) == 0)
        c->lock_query_out = true;
}

static void db_up(void *ud)
{
    coord_t *c = ud;
    /* A new session holds no lock: (re)take it before anything else. */
    ask_lock(c);
}

static void db_down(void *ud, const char *err)
{
    coord_t *c = ud;
    c->lock_query_out = false;
    rows_event(c, "db.down", NULL, NULL, json_pack("{s:s}", "error", err));
}

static int start_serving(coord_t *c)
{
    if (c->control)
        return 0;
    int rc = curve_keys_load_secret(c->cfg.key_file, &c->keys);
    if (rc < 0)
        return rc;
    c->zap = zap_new(c->cfg.allow_dir, c->cfg.zap_domain);
    if (!c->zap)
        return -EINVAL;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.router_mandatory = true;
    o.sndtimeo_ms = 0;
    o.sndhwm = CONTROL_HWM;
    o.rcvhwm = CONTROL_HWM;
    o.max_msg_size = ENVELOPE_MAX_BYTES;
    /* Each call below logs its own failure, naming the call and the
     * library's error text; the code it returns goes back unchanged. */
    c->control = zsock_new(ZMQ_ROUTER, &o);
    if (!c->control)
        return -ENOMEM; /* zsock_new returns no code; see its log line */
    if ((rc = zsock_curve_server(c->control, c->keys, c->cfg.zap_domain)) < 0 ||
        (rc = zsock_bind(c->control, c->cfg.control_bind)) < 0)
        return rc;
    zsock_opts_t ao;
    zsock_opts_default(&ao);
    ao.router_mandatory = true;
    ao.sndtimeo_ms = 0;
    c->api_sock = zsock_new(ZMQ_ROUTER, &ao);
    if (!c->api_sock)
        return -ENOMEM; /* zsock_new returns no code; see its log line */
    snprintf(c->api_endpoint, sizeof(c->api_endpoint), "inproc://coord-api-%p",
             (void *)c);
    if ((rc = zsock_bind(c->api_sock, c->api_endpoint)) < 0)
        return rc;
    if (c->cfg.http_port > 0) {
        c->http = coord_http_start(c->cfg.http_bind, (int)c->cfg.http_port,
                                   c->cfg.api_token, c->cfg.api_read_token,
                                   c->api_endpoint);
        /* coord_http_start returns no code: it has logged the cause (a bad
         * address, or libmicrohttpd's own line with the bind error). */
        if (!c->http)
            return -EIO;
    }
    webhook_config_t wc = coord_webhook_config(&c->cfg);
    if (wc.urls[0] && !(c->hooks = webhooks_start(&wc)))
        return -EIO; /* webhooks_start has logged why */
    publish_hook_config_t pc = coord_publish_hook_config(&c->cfg);
    bool failed;
    c->phook = publish_hook_start(&pc, &failed);
    if (failed)
        return -EIO; /* publish_hook_start has logged why */
    char ep[256] = "";
    zsock_last_endpoint(c->control, ep, sizeof(ep));
    log_info(MOD, "Serving.", "control=%s http=%s:%lld allow_keys=%d", ep,
             c->cfg.http_bind, (long long)c->cfg.http_port,
             zap_key_count(c->zap));
    rows_event(c, "coordinator.leader", NULL, NULL,
               json_pack("{s:s}", "control", ep));
    return 0;
}

/* ---------------------------------------------------------------- loop */

coord_t *coord_new(const coord_config_t *cfg)
{
    coord_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cfg = *cfg;
    if (placement_policy_parse(cfg->policy, &c->pcfg.policy) < 0) {
        log_error(MOD, "Unknown placement policy.", "policy=%s", cfg->policy);
        free(c);
        return NULL;
    }
    c->pcfg.headroom = cfg->headroom;
    c->lcfg.report_ms = cfg->report_ms;
    c->lcfg.missed_reports = (int)cfg->missed_reports;
    c->lcfg.hung_ms = cfg->hung_ms;
    c->lcfg.slow_reports = (int)cfg->slow_reports;
    c->lcfg.slow_speed = cfg->slow_speed;
    c->lctl = (load_ctl_config_t){cfg->load_tau_ms, cfg->slow_speed,
                                  cfg->slow_move_ms, cfg->slow_cooldown_ms,
                                  cfg->slow_avoid_ms};
    c->worker_ids = idmap_new();
    c->stream_ids = idmap_new();
    c->channel_streams = idmap_new();
    c->badkeys =
        addr_limit_new((uint32_t)cfg->bad_key_addrs, 0,
                       (uint32_t)cfg->bad_key_limit, cfg->bad_key_window_ms);
    c->chans = chan_cache_new((size_t)cfg->channel_cache);
    if (!c->worker_ids || !c->stream_ids || !c->channel_streams ||
        !c->badkeys || !c->chans) {
        idmap_free(&c->worker_ids);
        idmap_free(&c->stream_ids);
        idmap_free(&c->channel_streams);
        addr_limit_free(&c->badkeys);
        chan_cache_free(&c->chans);
        free(c);
        return NULL;
    }
    return c;
}

void coord_stop(coord_t *c)
{
    c->stop = 1;
}

void coord_reload(coord_t *c)
{
    c->reload = 1;
}

/*
 * Brings the schema up to date before the loop starts (db_migrate is
 * synchronous by design and serialised by its own advisory lock). A database
 * that cannot be reached is retried with backoff; a schema this binary must
 * not touch (edited or newer migrations) stops the start.
 */
static int migrate(coord_t *c)
{
    int64_t backoff = c->cfg.db_backoff_min_ms;
    for (;;) {
        if (c->stop)
            return -EINTR;
        PGconn *conn = PQconnectdb(c->cfg.pg_url);
        if (PQstatus(conn) == CONNECTION_OK) {
            char err[512];
            int rc = db_migrate(conn, err, sizeof(err));
            PQfinish(conn);
            if (rc == 0)
                return 0;
            if (rc != DB_MIGRATE_ERR_PG)
                return -EINVAL; /* logged by db_migrate */
        } else {
            const char *e = PQerrorMessage(conn);
            log_warn(MOD, "PostgreSQL unreachable at start; retrying.",
                     "err=\"%.*s\" retry_ms=%lld", (int)strcspn(e, "\n"), e,
                     (long long)backoff);
            PQfinish(conn);
        }
        for (int64_t t = 0; t < backoff && !c->stop; t += STOP_CHECK_MS)
            usleep(STOP_CHECK_MS * 1000);
        backoff *= 2;
        if (backoff > c->cfg.db_backoff_max_ms)
            backoff = c->cfg.db_backoff_max_ms;
    }
}

int coord_run(coord_t *c)
{
    int mrc = migrate(c);
    if (mrc < 0)
        return mrc == -EINTR ? 0 : mrc;
    store_config_t sc = {c->cfg.pg_url,
                         (size_t)c->cfg.db_queue_max,
                         c->cfg.db_backoff_min_ms,
                         c->cfg.db_backoff_max_ms,
                         c->cfg.db_connect_timeout_ms,
                         db_up,
                         db_down,
                         c};
    c->started_ms = clock_mono_ms();
    c->db = store_new(&sc);
    if (!c->db)
        return -ENOMEM;
    log_info(MOD, "Started; waiting for the leader lock.", "id=%s", c->cfg.id);
    while (!c->stop) {
        int64_t now = clock_mono_ms();
        zmq_pollitem_t items[4];
        int n = 0, ic = -1, ia = -1, id = -1, ih = -1;
        if (c->control) {
            items[n] = (zmq_pollitem_t){c->control, 0, ZMQ_POLLIN, 0};
            ic = n++;
        }
        if (c->api_sock) {
            items[n] = (zmq_pollitem_t){c->api_sock, 0, ZMQ_POLLIN, 0};
            ia = n++;
        }
        int fd = store_fd(c->db);
        if (fd >= 0 && store_events(c->db)) {
            items[n] = (zmq_pollitem_t){NULL, fd, store_events(c->db), 0};
            id = n++;
        }
        if (c->phook) {
            items[n] = (zmq_pollitem_t){NULL, publish_hook_fd(c->phook),
                                        ZMQ_POLLIN, 0};
            ih = n++;
        }
        int64_t timeout = POLL_MAX_MS;
        if (c->cfg.report_ms / CHECKS_PER_REPORT < timeout)
            timeout = c->cfg.report_ms / CHECKS_PER_REPORT;
        int64_t st = store_tick(c->db, now);
        if (st >= 0 && st < timeout)
            timeout = st;
        int rc = zmq_poll(items, n, (long)timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            log_error(MOD, "zmq_poll failed.", "err=\"%s\"",
                      zmq_strerror(zmq_errno()));
            break;
        }
        now = clock_mono_ms();
        loop_clock(c, now);
        if (id >= 0 && items[id].revents)
            store_io(c->db, items[id].revents, now);
        bool drained = true;
        if (ic >= 0 && (items[ic].revents & ZMQ_POLLIN))
            drained = handle_control(c);
        if (ih >= 0 && (items[ih].revents & ZMQ_POLLIN))
            publish_hook_drain(c);
        if (ia >= 0 && (items[ia].revents & ZMQ_POLLIN)) {
            coord_api_loop_t loop = {c->api_sock, c->leader,
                                     c->zap ? zap_denied(c->zap) : 0, c->hooks,
                                     c->phook};
            coord_api_handle(c, &loop);
        }
        now = clock_mono_ms();
        loop_clock(c, now);
        if (!c->leader) {
            if (store_up(c->db) && !c->lock_query_out &&
                now >= c->next_lock_try_ms)
                ask_lock(c);
            continue;
        }
        if (!c->control)
            continue;
        /* Not while reports may still wait behind a full batch, for up
         * to a report interval. */
        if (now >= c->next_check_ms &&
            (drained || now - c->last_check_ms >= c->cfg.report_ms)) {
            worker_proto_check(c, now);
            ingest_proto_check(c, now);
            release_resend_due(c, now);
            c->next_check_ms = now + c->cfg.report_ms / CHECKS_PER_REPORT;
            c->last_check_ms = now;
        }
        if (c->reload) { /* SIGHUP: read it whatever its mtime says */
            int before = zap_key_count(c->zap);
            int keys = zap_reload(c->zap);
            log_info(MOD, "Allowlist re-read.", "keys=%d before=%d", keys,
                     before);
            c->reload = 0;
        } else if (c->cfg.allow_reload_ms > 0 &&
                   now >= c->next_allow_reload_ms) {
            zap_reload_if_changed(c->zap); /* zap logs what it loads */
        }
        if (now >= c->next_allow_reload_ms)
            c->next_allow_reload_ms = now + c->cfg.allow_reload_ms;
        if (now >= c->next_hb_ms) {
            heartbeat_all(c);
            c->next_hb_ms = now + c->cfg.heartbeat_ms;
        }
        if (c->pending_dirty || now >= c->next_pending_ms ||
            (c->next_retry_ms && now >= c->next_retry_ms)) {
            ops_place_pending(c, "capacity changed");
            ops_upgrade_partial(c, now);
            c->next_pending_ms = now + c->cfg.pending_retry_ms;
        }
    }
    if (c->stop < 0) /* start_serving failed with this code */
        return c->stop;
    return c->stop == 3 ? -EBUSY : 0;
}

void coord_free(coord_t **cp)
{
    coord_t *c = *cp;
    if (!c)
        return;
    coord_http_stop(&c->http);
    webhooks_stop(&c->hooks);
    publish_hook_stop(&c->phook);
    store_free(&c->db);
    zsock_close(&c->control);
    zsock_close(&c->api_sock);
    zap_free(&c->zap);
    curve_keypair_free(&c->keys);
    free(c->workers);
    free(c->pworkers);
    free(c->pdevices);
    free(c->ingests);
    free(c->streams);
    free(c->releases);
    idmap_free(&c->worker_ids);
    idmap_free(&c->stream_ids);
    idmap_free(&c->channel_streams);
    addr_limit_free(&c->badkeys);
    chan_cache_free(&c->chans);
    free(c);
    *cp = NULL;
}
