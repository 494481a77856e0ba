/* Integration tests: the real prism-coordinator binary, a throwaway
 * PostgreSQL (PRISM_TEST_PGURL) and simulated workers and ingests speaking
 * the real protocol over CURVE tcp links on 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "http_client.h"
#include "placement.h"
#include "zctx.h"
#include "zsock.h"

#define REPORT_MS 200
#define MAXSESS   32

/* ---------------------------------------------------------------- fixture */

typedef struct {
    char dir[256];
    char pgurl[1400];
    char schema[40];
    char coord_pub[CURVE_KEY_Z85_SIZE];
    int http_port[2];
    int control_port[2];
    pid_t pid[2];
    long lock_key;
    const char *bin;
} fx_t;

static fx_t g_fx;
/* Lines added to the coordinator's config (a test's own options). */
static const char *g_coord_extra = "";
/* The streamer's address the simulated ingest reports in PublishRequest. */
static const char *g_remote = "192.0.2.7";

/*
 * A free TCP port below the ephemeral range (32768 and up), so that no
 * client's local port can take it between this check and the bind.
 */
static int free_port(void)
{
    static unsigned seed;
    static int given[64], ngiven;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)clock_mono_us();
    for (int tries = 0; tries < 200; tries++) {
        seed = seed * 1103515245u + 12345u;
        int port = 20000 + (int)((seed >> 8) % 12000);
        bool dup = false;
        for (int i = 0; i < ngiven && i < 64; i++)
            dup |= given[i] == port;
        if (dup)
            continue;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_true(s >= 0);
        int ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(s);
        if (ok) {
            given[ngiven++ % 64] = port;
            return port;
        }
    }
    fail_msg("no free port found");
    return -1;
}

static PGconn *pg(fx_t *fx)
{
    PGconn *c = PQconnectdb(fx->pgurl);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    return c;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("SQL failed: %s: %.80s", PQerrorMessage(c), sql);
    PQclear(r);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static curve_keypair_t *make_key(fx_t *fx, const char *name, bool allow)
{
    curve_keypair_t *kp = curve_keypair_generate();
    char keys[512], kpath[1024], ppath[1024];
    assert_non_null(kp);
    snprintf(keys, sizeof(keys), "%s/keys", fx->dir);
    assert_int_equal(
        curve_keys_write(kp, keys, name, true, kpath, ppath, sizeof(kpath)), 0);
    if (allow) {
        char dst[1024];
        snprintf(dst, sizeof(dst), "%s/allow/%s.pub", fx->dir, name);
        char line[128];
        snprintf(line, sizeof(line), "public_key = %s\n", kp->public_z85);
        write_file(dst, line);
    }
    return kp;
}

static void fx_setup(fx_t *fx)
{
    memset(fx, 0, sizeof(*fx));
    const char *url = getenv("PRISM_TEST_PGURL");
    assert_non_null(url);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/prism-coord-test-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    char p[512];
    snprintf(p, sizeof(p), "%s/keys", fx->dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/allow", fx->dir);
    mkdir(p, 0700);
    unsigned r = (unsigned)getpid() ^ (unsigned)clock_mono_us();
    snprintf(fx->schema, sizeof(fx->schema), "t_coord_%u", r);
    fx->lock_key = 7000000 + (long)(r % 1000000);
    /* The test's own schema keeps parallel runs apart. */
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", fx->schema);
    pg_exec(c, sql);
    PQfinish(c);
    snprintf(fx->pgurl, sizeof(fx->pgurl), "%s%soptions=-csearch_path%%3D%s",
             url, strchr(url, '?') ? "&" : "?", fx->schema);
    /* Every node's key exists before a coordinator starts. */
    static const char *const allowed[] = {"w1", "w2", "w3", "ing1", "ing2"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        curve_keypair_t *k = make_key(fx, allowed[i], true);
        curve_keypair_free(&k);
    }
    curve_keypair_t *ik = make_key(fx, "intruder", false);
    curve_keypair_free(&ik);
    curve_keypair_t *ck = make_key(fx, "coordinator", false);
    snprintf(fx->coord_pub, sizeof(fx->coord_pub), "%s", ck->public_z85);
    curve_keypair_free(&ck);
    static char bin[1024];
    snprintf(bin, sizeof(bin), "%s/coordinator/prism-coordinator",
             getenv("PRISM_BUILD_DIR"));
    fx->bin = bin;
    for (int i = 0; i < 2; i++) {
        fx->http_port[i] = free_port();
        fx->control_port[i] = free_port();
        fx->pid[i] = -1;
    }
}

static void coord_write_config(fx_t *fx, int i)
{
    char cfg[4096], path[512];
    snprintf(cfg, sizeof(cfg),
             "[coordinator]\nid = coord%d\n"
             "control_bind = tcp://127.0.0.1:%d\n"
             "key_file = %s/keys/coordinator.key\n"
             "allow_dir = %s/allow\nallow_reload_ms = 100\n"
             "http_bind = 127.0.0.1\nhttp_port = %d\n"
             "api_token = test-token-123\n"
             "pg_url = %s\n"
             "report_ms = %d\nmissed_reports = 3\nheartbeat_ms = 200\n"
             "ack_timeout_ms = 1000\npending_retry_ms = 200\n"
             "reconcile_grace_ms = 1500\nha_lock_key = %ld\n"
             "ha_retry_ms = 200\ndb_backoff_min_ms = 100\n"
             "db_backoff_max_ms = 500\nnode_timeout_ms = 5000\n"
             "hung_ms = 3000\nslow_reports = 3\nlog_level = info\n"
             "slow_move_ms = 1000\nslow_cooldown_ms = 60000\n"
             "reconnect_grace_ms = 0\n%s",
             i, fx->control_port[i], fx->dir, fx->dir, fx->http_port[i],
             fx->pgurl, REPORT_MS, fx->lock_key, g_coord_extra);
    snprintf(path, sizeof(path), "%s/coord%d.ini", fx->dir, i);
    write_file(path, cfg);
}

static int http(fx_t *fx, int i, const char *method, const char *path,
                const char *token, const char *body, json_t **out, char *raw,
                size_t rawlen);

static void coord_start(fx_t *fx, int i, bool wait_leader)
{
    coord_write_config(fx, i);
    char cfgpath[512], logpath[512];
    snprintf(cfgpath, sizeof(cfgpath), "%s/coord%d.ini", fx->dir, i);
    snprintf(logpath, sizeof(logpath), "%s/coord%d.log", fx->dir, i);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        /* Nothing of the test's (a proxy's listener) leaks into it. */
        for (int k = 3; k < 1024; k++)
            close(k);
        execl(fx->bin, fx->bin, "--config", cfgpath, (char *)NULL);
        _exit(127);
    }
    fx->pid[i] = pid;
    if (!wait_leader)
        return;
    /* 30 s: a sanitizer build on a loaded host once took over 15. */
    int64_t end = clock_mono_ms() + 30000;
    while (clock_mono_ms() < end) {
        char raw[64];
        if (http(fx, i, "GET", "/metrics", NULL, NULL, NULL, raw,
                 sizeof(raw)) == 200)
            return;
        usleep(50000);
    }
    /* The log goes with the test's directory: show it first. */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", logpath);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log at %s)\n", logpath);
    fail_msg("coordinator %d did not start serving; see %s", i, logpath);
}

/* Whether the file at path contains needle (its first 64 KiB). */
static bool log_contains(const char *path, const char *needle)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void coord_kill(fx_t *fx, int i, int sig)
{
    if (fx->pid[i] <= 0)
        return;
    kill(fx->pid[i], sig);
    int st;
    waitpid(fx->pid[i], &st, 0);
    fx->pid[i] = -1;
}

static void fx_teardown(fx_t *fx)
{
    coord_kill(fx, 0, SIGKILL);
    coord_kill(fx, 1, SIGKILL);
    PGconn *c = PQconnectdb(getenv("PRISM_TEST_PGURL"));
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[128];
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", fx->schema);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
    char cmd[600];
    if (getenv("PRISM_KEEP_TEST_DIR"))
        fprintf(stderr, "kept %s\n", fx->dir);
    else {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fx->dir);
    }
}

/* ---------------------------------------------------------------- HTTP */

static int http(fx_t *fx, int i, const char *method, const char *path,
                const char *token, const char *body, json_t **out, char *raw,
                size_t rawlen)
{
    http_client_opts_t o = {.bearer_token = token,
                            .content_type = "application/json",
                            .body_max = 1 << 20};
    char url[1024], err[256], *b = NULL;
    int status = -1;
    if (out)
        *out = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx->http_port[i], path);
    if (http_client_once(&o, method, url, body, body ? strlen(body) : 0,
                         &status, &b, err, sizeof(err)) < 0)
        return -1;
    if (raw)
        snprintf(raw, rawlen, "%s", b);
    if (out)
        *out = json_loads(b, 0, NULL);
    free(b);
    return status;
}

/* ---------------------------------------------------------------- nodes */

typedef struct {
    char id[64];
    uint64_t gen;
    uint32_t device;
    uint32_t sessions;
    uint64_t pixels;
    int64_t start_ms;
    bool previous_gone; /* as the Assign said */
} sess_t;

typedef struct {
    char id[32];
    bool ingest;
    void *sock;
    curve_keypair_t *kp;
    bool alive;
    bool registered;
    int64_t next_report_ms;
    int64_t last_report_ms;
    uint64_t seq;
    int nsess;
    sess_t sess[MAXSESS];
    uint64_t extra_enc; /* measured load not from our sessions */
    double speed;       /* reported for every session; 0 = 1.0 */
    bool stall;         /* output time stops advancing */
    int64_t stall_pts;
    bool release_at_keyframe;
    const char *fail_error;     /* every session fails at once with this */
    const char *rend_failed;    /* reported dropped from every session */
    uint64_t unordered, filled; /* frame counts reported for every session */
    uint64_t budget;
    int acks, assigns, releases, heartbeats, reg_acks, reg_refused;
    int ignore_releases; /* Releases still to lose (as if dropped) */
    int releases_lost;
    char last_release[64];
    int last_release_reason;
    unsigned release_reasons; /* bit per ReleaseReason seen */
    /* ingest */
    bool have_reply;
    Prism__PublishReply reply;
    char reply_stream[64], reply_worker[64], reply_reason[128];
    char zombie[64]; /* a stream id to claim in Register (stale) */
    bool want;       /* keeps saying hello until registered */
    int64_t next_hello_ms;
} node_t;

static void node_connect(fx_t *fx, node_t *n, int coord_idx_mask)
{
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    n->sock = zsock_new(ZMQ_DEALER, &o);
    assert_non_null(n->sock);
    int one = 1;
    zmq_setsockopt(n->sock, ZMQ_IMMEDIATE, &one, sizeof(one));
    int ivl = 100;
    zmq_setsockopt(n->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    assert_int_equal(zsock_curve_client(n->sock, n->kp, fx->coord_pub), 0);
    for (int i = 0; i < 2; i++) {
        if (!(coord_idx_mask & (1 << i)))
            continue;
        char ep[64];
        snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", fx->control_port[i]);
        assert_int_equal(zsock_connect(n->sock, ep), 0);
    }
    n->alive = true;
}

static void node_send(node_t *n, Prism__Envelope *env)
{
    envelope_send(n->sock, NULL, n->id, env, ZMQ_DONTWAIT);
}

static void worker_register(node_t *n)
{
    Prism__Register r = PRISM__REGISTER__INIT;
    Prism__Device d = PRISM__DEVICE__INIT;
    Prism__Device *dp[1] = {&d};
    Prism__Codec codecs[2] = {PRISM__CODEC__CODEC_H264,
                              PRISM__CODEC__CODEC_HEVC};
    Prism__RunningStream rs[MAXSESS + 1], *rp[MAXSESS + 1];
    d.index = 0;
    d.kind = PRISM__DEVICE_KIND__DEVICE_KIND_NVENC;
    d.name = (char *)"Simulated GPU";
    d.path = (char *)"cuda:0";
    d.n_encode_codecs = 2;
    d.encode_codecs = codecs;
    d.hw_encode = true;
    d.hw_decode = true;
    d.encode_budget = n->budget;
    d.decode_budget = n->budget;
    r.worker_id = n->id;
    r.host = (char *)"127.0.0.1";
    r.n_devices = 1;
    r.devices = dp;
    size_t k = 0;
    for (int i = 0; i < n->nsess; i++) {
        Prism__RunningStream x = PRISM__RUNNING_STREAM__INIT;
        x.stream_id = n->sess[i].id;
        x.generation = n->sess[i].gen;
        x.device_index = n->sess[i].device;
        rs[k] = x;
        rp[k] = &rs[k];
        k++;
    }
    if (n->zombie[0]) {
        Prism__RunningStream x = PRISM__RUNNING_STREAM__INIT;
        x.stream_id = n->zombie;
        x.generation = 1;
        rs[k] = x;
        rp[k] = &rs[k];
        k++;
    }
    r.n_running = k;
    r.running = rp;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER;
    env.register_ = &r;
    node_send(n, &env);
    n->want = true;
    n->next_hello_ms = clock_mono_ms() + 300;
}

static void ingest_hello(node_t *n)
{
    Prism__Hello h = PRISM__HELLO__INIT;
    h.role = PRISM__NODE_ROLE__NODE_ROLE_INGEST;
    h.node_id = n->id;
    h.media_endpoint = (char *)"tcp://127.0.0.1:5999";
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    node_send(n, &env);
    n->want = true;
    n->next_hello_ms = clock_mono_ms() + 300;
}

/* Stats from ING for stream ID: BYTES received from its publisher. */
static void ingest_bytes(node_t *ing, const char *id, uint64_t bytes)
{
    Prism__IngestStats is = PRISM__INGEST_STATS__INIT;
    is.stream_id = (char *)id;
    is.bytes_in = bytes;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_INGEST_STATS;
    env.ingest_stats = &is;
    node_send(ing, &env);
}

static void worker_report(node_t *n)
{
    Prism__LoadReport r = PRISM__LOAD_REPORT__INIT;
    Prism__DeviceLoad dl = PRISM__DEVICE_LOAD__INIT;
    Prism__DeviceLoad *dlp[1] = {&dl};
    Prism__SessionLoad sl[MAXSESS], *slp[MAXSESS];
    Prism__RenditionFailure rf = PRISM__RENDITION_FAILURE__INIT;
    Prism__RenditionFailure *rfp = &rf;
    rf.name = (char *)(n->rend_failed ? n->rend_failed : "");
    rf.error = (char *)"simulated: cannot write the Source output";
    int64_t now = clock_mono_ms();
    dl.index = 0;
    dl.encode_pixels = n->extra_enc;
    dl.encoder_util = -1;
    dl.decoder_util = -1;
    for (int i = 0; i < n->nsess; i++) {
        Prism__SessionLoad x = PRISM__SESSION_LOAD__INIT;
        x.stream_id = n->sess[i].id;
        x.generation = n->sess[i].gen;
        x.device_index = n->sess[i].device;
        x.fps = 30;
        x.speed = n->speed > 0 ? n->speed : 1.0;
        x.speed_10s = x.speed;
        x.last_output_pts_ms =
            n->stall ? n->stall_pts : now - n->sess[i].start_ms;
        x.last_input_pts_ms = now - n->sess[i].start_ms;
        x.frames_unordered = n->unordered;
        x.frames_filled = n->filled;
        if (n->rend_failed) {
            x.n_failed_renditions = 1;
            x.failed_renditions = &rfp;
        }
        sl[i] = x;
        slp[i] = &sl[i];
        dl.sessions += n->sess[i].sessions;
        dl.encode_pixels += n->sess[i].pixels;
    }
    r.seq = ++n->seq;
    r.n_devices = 1;
    r.devices = dlp;
    r.n_sessions = (size_t)n->nsess;
    r.sessions = slp;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_LOAD_REPORT;
    env.load_report = &r;
    node_send(n, &env);
    n->last_report_ms = now;
}

static void send_ack(node_t *n, const char *stream, uint64_t gen,
                     Prism__Ack__Of of)
{
    Prism__Ack ack = PRISM__ACK__INIT;
    ack.stream_id = (char *)stream;
    ack.generation = gen;
    ack.ok = true;
    ack.of = of;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    node_send(n, &env);
}

static void on_assign(node_t *n, const Prism__Assign *a)
{
    if (n->fail_error) {
        /* Like a real worker whose session fails as it starts. */
        Prism__Ack ack = PRISM__ACK__INIT;
        ack.stream_id = a->stream_id;
        ack.generation = a->generation;
        ack.ok = false;
        ack.error = (char *)n->fail_error;
        ack.of = PRISM__ACK__OF__OF_ASSIGN;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_ACK;
        env.ack = &ack;
        node_send(n, &env);
        n->assigns++;
        return;
    }
    sess_t *s = NULL;
    for (int i = 0; i < n->nsess; i++)
        if (!strcmp(n->sess[i].id, a->stream_id))
            s = &n->sess[i];
    if (!s && n->nsess < MAXSESS)
        s = &n->sess[n->nsess++];
    if (s) {
        snprintf(s->id, sizeof(s->id), "%s", a->stream_id);
        s->gen = a->generation;
        s->device = a->device_index;
        s->sessions = 0;
        s->pixels = 0;
        s->start_ms = clock_mono_ms();
        s->previous_gone = a->previous_gone;
        for (size_t i = 0; i < a->n_renditions; i++) {
            const Prism__Rendition *r = a->renditions[i];
            if (r->remux)
                continue;
            s->sessions++;
            s->pixels += (uint64_t)r->width * r->height *
                         (r->fps_den ? r->fps_num / r->fps_den : 30);
        }
    }
    n->assigns++;
    send_ack(n, a->stream_id, a->generation, PRISM__ACK__OF__OF_ASSIGN);
}

static void on_release(node_t *n, const Prism__Release *r)
{
    if (n->ignore_releases > 0) {
        n->ignore_releases--;
        n->releases_lost++;
        return;
    }
    n->releases++;
    snprintf(n->last_release, sizeof(n->last_release), "%s", r->stream_id);
    n->last_release_reason = r->reason;
    n->release_reasons |= 1u << r->reason;
    n->release_at_keyframe |= r->at_keyframe;
    if (!strcmp(r->stream_id, n->zombie))
        n->zombie[0] = '\0';
    for (int i = 0; i < n->nsess; i++) {
        if (!strcmp(n->sess[i].id, r->stream_id) &&
            n->sess[i].gen <= r->generation) {
            n->sess[i] = n->sess[--n->nsess];
            break;
        }
    }
    /* Like the real worker: every Release is acknowledged. */
    send_ack(n, r->stream_id, r->generation, PRISM__ACK__OF__OF_RELEASE);
}

static void node_handle(node_t *n)
{
    for (;;) {
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(n->sock, ZMQ_DONTWAIT, NULL, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        switch (env->body_case) {
        case PRISM__ENVELOPE__BODY_REGISTER_ACK:
            if (env->register_ack->accepted) {
                n->registered = true;
                n->reg_acks++;
            } else {
                n->reg_refused++;
                n->registered = false;
                if (n->ingest)
                    ingest_hello(n);
                else
                    worker_register(n);
            }
            break;
        case PRISM__ENVELOPE__BODY_ASSIGN:
            on_assign(n, env->assign);
            break;
        case PRISM__ENVELOPE__BODY_RELEASE:
            on_release(n, env->release);
            break;
        case PRISM__ENVELOPE__BODY_HEARTBEAT:
            n->heartbeats++;
            break;
        case PRISM__ENVELOPE__BODY_PUBLISH_REPLY: {
            const Prism__PublishReply *p = env->publish_reply;
            n->have_reply = true;
            n->reply.accepted = p->accepted;
            snprintf(n->reply_stream, sizeof(n->reply_stream), "%s",
                     p->stream_id ? p->stream_id : "");
            snprintf(n->reply_worker, sizeof(n->reply_worker), "%s",
                     p->worker_id ? p->worker_id : "");
            snprintf(n->reply_reason, sizeof(n->reply_reason), "%s",
                     p->reason ? p->reason : "");
            break;
        }
        default:
            break;
        }
        envelope_free(&env);
    }
}

/* Runs every alive node for ms milliseconds (or until *flag is set). */
static void pump(node_t **nodes, int nn, int64_t ms, const bool *flag)
{
    int64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end && !(flag && *flag)) {
        zmq_pollitem_t items[16];
        int idx[16], k = 0;
        for (int i = 0; i < nn; i++) {
            if (!nodes[i]->alive)
                continue;
            items[k] = (zmq_pollitem_t){nodes[i]->sock, 0, ZMQ_POLLIN, 0};
            idx[k++] = i;
        }
        zmq_poll(items, k, 20);
        for (int j = 0; j < k; j++)
            if (items[j].revents & ZMQ_POLLIN)
                node_handle(nodes[idx[j]]);
        int64_t now = clock_mono_ms();
        for (int i = 0; i < nn; i++) {
            node_t *n = nodes[i];
            /* Like a real node: say hello again until answered (a send
             * with no connection up is dropped). */
            if (n->alive && n->want && !n->registered &&
                now >= n->next_hello_ms) {
                if (n->ingest)
                    ingest_hello(n);
                else
                    worker_register(n);
            }
            if (!n->alive || !n->registered || now < n->next_report_ms)
                continue;
            if (n->ingest) {
                Prism__Heartbeat hb = PRISM__HEARTBEAT__INIT;
                Prism__Envelope env = PRISM__ENVELOPE__INIT;
                hb.seq = ++n->seq;
                env.body_case = PRISM__ENVELOPE__BODY_HEARTBEAT;
                env.heartbeat = &hb;
                node_send(n, &env);
            } else {
                worker_report(n);
            }
            n->next_report_ms = now + REPORT_MS;
        }
    }
}

static void node_init(fx_t *fx, node_t *n, const char *id, bool ingest,
                      int mask)
{
    char path[512];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->ingest = ingest;
    n->budget = 2000000000ull;
    snprintf(path, sizeof(path), "%s/keys/%s.key", fx->dir, id);
    assert_int_equal(curve_keys_load_secret(path, &n->kp), 0);
    node_connect(fx, n, mask);
}

/* Every node introduces itself (a worker registers, an ingest says
 * hello), then the farm runs 600 ms. */
static void nodes_join(node_t **all, int n)
{
    for (int i = 0; i < n; i++) {
        if (all[i]->ingest)
            ingest_hello(all[i]);
        else
            worker_register(all[i]);
    }
    pump(all, n, 600, NULL);
}

static void node_close(node_t *n)
{
    n->alive = false;
    zsock_close(&n->sock);
    curve_keypair_free(&n->kp);
}

static void publish(node_t **all, int nall, node_t *in, const char *key, int w,
                    int h, int fps)
{
    Prism__PublishRequest p = PRISM__PUBLISH_REQUEST__INIT;
    Prism__SourceInfo s = PRISM__SOURCE_INFO__INIT;
    s.video_codec = PRISM__CODEC__CODEC_H264;
    s.width = (uint32_t)w;
    s.height = (uint32_t)h;
    s.fps_num = (uint32_t)fps;
    s.fps_den = 1;
    s.video_kbps = 3000;
    p.ingest_id = in->id;
    p.stream_key = (char *)key;
    p.protocol = PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_RTMP;
    p.remote_addr = (char *)g_remote;
    p.source = &s;
    p.request_id = 77;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
    env.publish_request = &p;
    in->have_reply = false;
    node_send(in, &env);
    pump(all, nall, 5000, &in->have_reply);
    assert_true(in->have_reply);
}

static char *create_channel(fx_t *fx, const char *name, int prio)
{
    char body[256];
    json_t *j;
    snprintf(body, sizeof(body), "{\"name\": \"%s\", \"priority\": %d}", name,
             prio);
    int st = http(fx, 0, "POST", "/api/channels", "test-token-123", body, &j,
                  NULL, 0);
    assert_int_equal(st, 201);
    const char *k = json_string_value(json_object_get(j, "stream_key"));
    assert_non_null(k);
    char *key = strdup(k);
    json_decref(j);
    return key;
}

static json_t *get_json(fx_t *fx, int i, const char *path)
{
    json_t *j;
    int st = http(fx, i, "GET", path, NULL, NULL, &j, NULL, 0);
    assert_int_equal(st, 200);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Events of a stream, in order, as "kind@worker" joined by spaces. */
static void stream_events(fx_t *fx, const char *stream, char *out, size_t len)
{
    PGconn *c = pg(fx);
    const char *p[1] = {stream};
    PGresult *r = PQexecParams(
        c,
        "SELECT kind, coalesce(worker_id, '') FROM events WHERE stream_id = "
        "$1 ORDER BY id",
        1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        size_t l = strlen(out);
        snprintf(out + l, len - l, "%s%s@%s", i ? " " : "", PQgetvalue(r, i, 0),
                 PQgetvalue(r, i, 1));
    }
    PQclear(r);
    PQfinish(c);
}

/*
 * stream_events until it holds FIRST and, after it, THEN (NULL: FIRST is
 * enough), pumping the nodes meanwhile, for at most MS: the coordinator
 * writes events to PostgreSQL through its queue, so the last one may land
 * after the state the API already shows. Returns whether it came; OUT has
 * the last read.
 */
static bool events_wait(fx_t *fx, node_t **nodes, int nn, const char *stream,
                        const char *first, const char *then, char *out,
                        size_t len, int64_t ms)
{
    int64_t end = clock_mono_ms() + ms;
    for (;;) {
        stream_events(fx, stream, out, len);
        const char *f = strstr(out, first);
        if (f && (!then || strstr(f, then)))
            return true;
        if (clock_mono_ms() >= end)
            return false;
        pump(nodes, nn, 100, NULL);
    }
}

/* ---------------------------------------------------------------- proxy */

/*
 * A TCP proxy in front of PostgreSQL that the test can cut: stopping it
 * closes every connection and the listener, so the coordinator sees the
 * database go away; starting it again brings it back on the same port.
 */
typedef struct {
    int port;        /* where it listens */
    int target_port; /* PostgreSQL's */
    volatile int stop;
    volatile int listening;
    pthread_t th;
    bool running;
} proxy_t;

static void *proxy_main(void *arg)
{
    proxy_t *p = arg;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0) {
        close(ls);
        return NULL;
    }
    p->listening = 1;
    enum { MAXC = 32 };
    int fds[2 * MAXC];
    int n = 0;
    while (!p->stop) {
        struct pollfd pf[1 + 2 * MAXC];
        pf[0] = (struct pollfd){ls, POLLIN, 0};
        for (int i = 0; i < n; i++)
            pf[1 + i] = (struct pollfd){fds[i], POLLIN, 0};
        if (poll(pf, (nfds_t)(1 + n), 50) <= 0)
            continue;
        if ((pf[0].revents & POLLIN) && n + 2 <= 2 * MAXC) {
            int c = accept(ls, NULL, NULL);
            int t = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in ta = {.sin_family = AF_INET,
                                     .sin_port =
                                         htons((uint16_t)p->target_port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (c >= 0 && connect(t, (struct sockaddr *)&ta, sizeof(ta)) == 0) {
                fds[n++] = c;
                fds[n++] = t;
            } else {
                if (c >= 0)
                    close(c);
                close(t);
            }
        }
        for (int i = 0; i < n; i++) {
            if (!(pf[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t k = read(fds[i], buf, sizeof(buf));
            int peer = fds[i ^ 1];
            if (k <= 0 || write(peer, buf, (size_t)k) != k) {
                /* close the pair */
                int base = i & ~1;
                close(fds[base]);
                close(fds[base + 1]);
                fds[base] = fds[n - 2];
                fds[base + 1] = fds[n - 1];
                n -= 2;
                break;
            }
        }
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(ls);
    p->listening = 0;
    return NULL;
}

static void proxy_start(proxy_t *p)
{
    p->stop = 0;
    p->listening = 0;
    assert_int_equal(pthread_create(&p->th, NULL, proxy_main, p), 0);
    p->running = true;
    for (int i = 0; i < 100 && !p->listening; i++)
        usleep(10000);
    assert_true(p->listening);
}

static void proxy_stop(proxy_t *p)
{
    if (!p->running)
        return;
    p->stop = 1;
    pthread_join(p->th, NULL);
    p->running = false;
}

static int metric(fx_t *fx, const char *name)
{
    static char raw[65536];
    if (http(fx, 0, "GET", "/metrics", NULL, NULL, NULL, raw, sizeof(raw)) !=
        200)
        return -1;
    char *l = strstr(raw, name);
    while (l && l > raw && l[-1] != '\n')
        l = strstr(l + 1, name);
    return l ? atoi(l + strlen(name) + 1) : -1;
}

/* Pumps until worker w's registration was acknowledged (8 s at most). */
static void pump_until_registered(node_t **all, int n, node_t *w)
{
    int64_t end = clock_mono_ms() + 8000;
    while (clock_mono_ms() < end && w->reg_acks == 0)
        pump(all, n, 50, NULL);
    assert_true(w->reg_acks > 0);
}

/* Registers the workers in WS one after another, each acknowledged
 * before the next: the coordinator's worker order (least-loaded breaks
 * ties by it) is theirs, however the CURVE handshakes interleave. */
static void register_in_order(node_t **all, int n, node_t **ws, int nws)
{
    for (int i = 0; i < nws; i++) {
        worker_register(ws[i]);
        pump_until_registered(all, n, ws[i]);
    }
}

/* ---------------------------------------------------------------- tests */

/*
 * One farm through its life: API auth, registration, an unlisted key, a
 * wrong stream key, least-loaded placement, drain, a worker killed and its
 * stream re-placed in time, the API against the event log, /metrics, and an
 * operator stopping a stream.
 */
static void test_farm(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);

    /* Mutating calls need the token; errors are JSON with code+message. */
    json_t *j;
    int st = http(fx, 0, "POST", "/api/channels", NULL, "{\"name\":\"x\"}", &j,
                  NULL, 0);
    assert_int_equal(st, 401);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "code")),
        "unauthorized");
    assert_non_null(json_object_get(json_object_get(j, "error"), "message"));
    json_decref(j);
    st = http(fx, 0, "POST", "/api/channels", "wrong-token", "{\"name\":\"x\"}",
              &j, NULL, 0);
    assert_int_equal(st, 401);
    json_decref(j);
    st = http(fx, 0, "GET", "/api/nothing", NULL, NULL, &j, NULL, 0);
    assert_int_equal(st, 404);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "error"), "code")),
        "not_found");
    json_decref(j);

    char *key1 = create_channel(fx, "alice", 1);
    char *key2 = create_channel(fx, "bob", 0);
    /* The key is stored hashed: not in the channels table. */
    {
        PGconn *c = pg(fx);
        const char *p[1] = {key1 + strlen(key1) - 64};
        PGresult *r = PQexecParams(
            c,
            "SELECT count(*) FROM channels WHERE encode(key_hash, 'hex') = $1 "
            "OR encode(key_salt, 'hex') = $1 OR position($1 in name) > 0",
            1, NULL, p, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), "0");
        PQclear(r);
        PQfinish(c);
    }
    j = get_json(fx, 0, "/api/channels");
    assert_int_equal(json_array_size(j), 2);
    assert_null(json_object_get(json_array_get(j, 0), "stream_key"));
    json_decref(j);

    node_t w1, w2, bad, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &bad, "intruder", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &bad, &ing};
    /* w1 is busy with something the coordinator did not place: half of its
     * budget, as its reports say. */
    w1.extra_enc = 1000000000ull;
    node_t *ws[] = {&w1, &w2};
    register_in_order(all, 4, ws, 2);
    worker_register(&bad);
    ingest_hello(&ing);
    pump(all, 4, 1500, NULL);

    /* Registration. */
    assert_true(w1.registered);
    assert_true(w2.registered);
    assert_true(ing.registered);
    assert_true(w1.heartbeats > 0);
    /* An unlisted key never gets an answer nor into the registry. */
    assert_false(bad.registered);
    assert_int_equal(bad.reg_acks + bad.reg_refused, 0);
    j = get_json(fx, 0, "/api/workers");
    assert_int_equal(json_array_size(j), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *w = json_array_get(j, i);
        assert_string_equal(jstr(w, "state"), "live");
        assert_int_equal(json_array_size(json_object_get(w, "devices")), 1);
        assert_string_not_equal(jstr(w, "id"), "intruder");
    }
    json_decref(j);
    st = http(fx, 0, "GET", "/api/workers/intruder", NULL, NULL, &j, NULL, 0);
    assert_int_equal(st, 404);
    json_decref(j);

    /* A wrong stream key is rejected, a malformed one too. */
    char wrong[128];
    snprintf(wrong, sizeof(wrong), "%.*s", (int)(strlen(key1) - 64), key1);
    strcat(wrong, "0000000000000000000000000000000000000000000000000000000000"
                  "000000");
    publish(all, 4, &ing, wrong, 1280, 720, 30);
    assert_false(ing.reply.accepted);
    assert_string_equal(ing.reply_reason, "invalid stream key");
    publish(all, 4, &ing, "not-a-key", 1280, 720, 30);
    assert_false(ing.reply.accepted);

    /* Least loaded: w1 reports half its budget in use, w2 nothing. */
    publish(all, 4, &ing, key1, 1920, 1080, 60);
    assert_true(ing.reply.accepted);
    assert_string_equal(ing.reply_worker, "w2");
    char s1[64];
    snprintf(s1, sizeof(s1), "%s", ing.reply_stream);
    pump(all, 4, 600, NULL);
    assert_int_equal(w2.nsess, 1);
    char path[128];
    snprintf(path, sizeof(path), "/api/streams/%s", s1);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "worker"), "w2");
    assert_string_equal(jstr(j, "state"), "running");
    assert_string_equal(jstr(j, "channel"), "alice");
    assert_true(json_array_size(json_object_get(j, "renditions")) >= 5);
    json_decref(j);

    /* The ingest's stats become per-stream stats rows and show in the API. */
    {
        Prism__IngestStats is = PRISM__INGEST_STATS__INIT;
        is.stream_id = s1;
        is.bitrate_kbps = 5800;
        is.fps = 60;
        is.keyframe_interval_s = 2;
        is.bytes_in = 123456;
        is.subscribers = 1;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_INGEST_STATS;
        env.ingest_stats = &is;
        node_send(&ing, &env);
        pump(all, 4, 400, NULL);
        j = get_json(fx, 0, path);
        assert_true(json_real_value(json_object_get(j, "input_kbps")) > 5799);
        json_decref(j);
        PGconn *c = pg(fx);
        const char *p[1] = {s1};
        PGresult *r = PQexecParams(c,
                                   "SELECT bitrate_kbps, bytes_in FROM "
                                   "stream_stats WHERE stream_id = $1",
                                   1, NULL, p, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(r), 1);
        assert_string_equal(PQgetvalue(r, 0, 0), "5800");
        assert_string_equal(PQgetvalue(r, 0, 1), "123456");
        PQclear(r);
        PQfinish(c);
    }

    /* Drain w2: the next stream goes to w1 though w2 is less loaded. */
    st = http(fx, 0, "POST", "/api/workers/w2/drain", "test-token-123", NULL,
              &j, NULL, 0);
    assert_int_equal(st, 200);
    assert_string_equal(jstr(j, "state"), "draining");
    json_decref(j);
    publish(all, 4, &ing, key2, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    assert_string_equal(ing.reply_worker, "w1");
    char s2[64];
    snprintf(s2, sizeof(s2), "%s", ing.reply_stream);
    st = http(fx, 0, "POST", "/api/workers/w2/undrain", "test-token-123", NULL,
              &j, NULL, 0);
    assert_int_equal(st, 200);
    assert_string_equal(jstr(j, "state"), "live");
    json_decref(j);
    pump(all, 4, 400, NULL);
    assert_int_equal(w1.nsess, 1);

    /* Kill w1: its stream must run on w2 within 3 intervals + 1 s. */
    node_close(&w1);
    int64_t killed = w1.last_report_ms;
    int64_t deadline = killed + 3 * REPORT_MS + 1000;
    int64_t moved_at = -1;
    while (clock_mono_ms() < deadline + 1000) {
        pump(all, 4, 20, NULL);
        bool there = false;
        for (int i = 0; i < w2.nsess; i++) {
            there |= !strcmp(w2.sess[i].id, s2);
            /* Its worker died: nothing else finishes the playlists. */
            if (!strcmp(w2.sess[i].id, s2))
                assert_true(w2.sess[i].previous_gone);
        }
        if (there) {
            moved_at = clock_mono_ms();
            break;
        }
    }
    print_message("re-placed %lld ms after the last report (limit %d)\n",
                  (long long)(moved_at - killed), 3 * REPORT_MS + 1000);
    assert_true(moved_at > 0);
    assert_true(moved_at <= deadline);
    pump(all, 4, 500, NULL);

    /* The API agrees with the event log. */
    snprintf(path, sizeof(path), "/api/streams/%s", s2);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "worker"), "w2");
    assert_int_equal(json_integer_value(json_object_get(j, "generation")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "placements")), 2);
    json_decref(j);
    j = get_json(fx, 0, "/api/workers/w1");
    assert_string_equal(jstr(j, "state"), "dead");
    json_decref(j);
    char ev[1024];
    stream_events(fx, s2, ev, sizeof(ev));
    print_message("events of %s: %s\n", s2, ev);
    assert_non_null(strstr(ev, "stream.started@ stream.placed@w1"));
    assert_non_null(strstr(ev, "stream.replaced@w2"));
    stream_events(fx, s1, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.placed@w2"));
    assert_null(strstr(ev, "replaced"));

    /* Reports are counted; a worker's numbers that never arrived are gaps. */
    assert_true(metric(fx, "prism_worker_reports_total") > 0);
    assert_int_equal(metric(fx, "prism_worker_report_gaps_total"), 0);
    w2.seq += 3; /* three reports lost on the way */
    pump(all, 4, 700, NULL);
    assert_int_equal(metric(fx, "prism_worker_report_gaps_total"), 3);

    /* /metrics is Prometheus text. */
    static char raw[65536];
    st = http(fx, 0, "GET", "/metrics", NULL, NULL, NULL, raw, sizeof(raw));
    assert_int_equal(st, 200);
    regex_t help, type, sample;
    assert_int_equal(
        regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED),
        0);
    assert_int_equal(regcomp(&type,
                             "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
                             "(counter|gauge|histogram|summary|untyped)$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(
        regcomp(&sample,
                "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*"
                "\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})? "
                "-?[0-9.eE+-]+$",
                REG_EXTENDED),
        0);
    int samples = 0, capacity = 0;
    for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n")) {
        bool ok = !regexec(&help, line, 0, NULL, 0) ||
                  !regexec(&type, line, 0, NULL, 0) ||
                  !regexec(&sample, line, 0, NULL, 0);
        if (!ok)
            fail_msg("not Prometheus text: '%s'", line);
        if (line[0] != '#')
            samples++;
        if (!strncmp(line, "prism_workers{state=\"dead\"}", 27))
            assert_string_equal(line, "prism_workers{state=\"dead\"} 1");
        if (!strncmp(line, "prism_replacements_total ", 25))
            assert_string_equal(line, "prism_replacements_total 1");
        if (!strncmp(line, "prism_placements_total ", 23))
            assert_string_equal(line, "prism_placements_total 3");
        if (!strncmp(line, "prism_publish_rejections_total ", 31))
            assert_string_equal(line, "prism_publish_rejections_total 2");
        if (!strncmp(line, "prism_db_up ", 12))
            assert_string_equal(line, "prism_db_up 1");
        /* Used and total, per kind, encode and decode. */
        capacity += !strncmp(line, "prism_capacity_", 15) &&
                    strstr(line, "_pixels_per_second{kind=\"") &&
                    (strstr(line, ",dir=\"encode\"} ") ||
                     strstr(line, ",dir=\"decode\"} "));
    }
    assert_int_equal(capacity, 4 * PLACEMENT_KIND_COUNT);
    assert_true(samples > 20);
    regfree(&help);
    regfree(&type);
    regfree(&sample);

    /* Bad keys are limited per address (bad_key_limit 5): after five, even
     * the right key is refused from there, while others still get in. */
    g_remote = "198.51.100.9";
    for (int i = 0; i < 5; i++) {
        publish(all, 4, &ing, wrong, 1280, 720, 30);
        assert_string_equal(ing.reply_reason, "invalid stream key");
    }
    publish(all, 4, &ing, key1, 1280, 720, 30);
    assert_false(ing.reply.accepted);
    assert_string_equal(ing.reply_reason,
                        "too many bad stream keys from this address");
    /* An IPv6 client counts by its /64: bad keys from several of its
     * addresses add up, and another /64 is not affected. */
    const char *net[] = {"2001:db8:5:6::1", "2001:db8:5:6::2",
                         "2001:db8:5:6:aaaa:bbbb:cccc:dddd"};
    for (int i = 0; i < 5; i++) {
        g_remote = net[i % 3];
        publish(all, 4, &ing, wrong, 1280, 720, 30);
        assert_string_equal(ing.reply_reason, "invalid stream key");
    }
    g_remote = "2001:db8:5:6::9";
    publish(all, 4, &ing, wrong, 1280, 720, 30);
    assert_string_equal(ing.reply_reason,
                        "too many bad stream keys from this address");
    g_remote = "2001:db8:5:7::1";
    publish(all, 4, &ing, wrong, 1280, 720, 30);
    assert_string_equal(ing.reply_reason, "invalid stream key");
    g_remote = "192.0.2.7";
    publish(all, 4, &ing, key1, 1280, 720, 30);
    /* Not limited: refused only because "alice" is live and sending. */
    assert_false(ing.reply.accepted);
    assert_string_equal(ing.reply_reason,
                        "stream key already live: another publisher is "
                        "sending");

    /* The operator stops a stream: the worker is told, the API forgets. */
    snprintf(path, sizeof(path), "/api/streams/%s", s1);
    st = http(fx, 0, "DELETE", path, "test-token-123", NULL, &j, NULL, 0);
    assert_int_equal(st, 200);
    json_decref(j);
    pump(all, 4, 300, NULL);
    assert_int_equal(w2.nsess, 1);
    assert_true(w2.release_reasons &
                (1u << PRISM__RELEASE_REASON__RELEASE_REASON_OPERATOR));
    st = http(fx, 0, "GET", path, NULL, NULL, &j, NULL, 0);
    assert_int_equal(st, 404);
    json_decref(j);

    free(key1);
    free(key2);
    node_close(&w2);
    node_close(&bad);
    node_close(&ing);
}

/*
 * A coordinator restart keeps running streams and reconciles: the stream
 * w1 runs is adopted as it is (same generation, no re-placement), a stale
 * stream w1 claims is released, and the stream of a worker that does not
 * come back is placed again after the grace period.
 */
static void test_restart_reconciles(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    char *k1 = create_channel(fx, "carol", 0);
    char *k2 = create_channel(fx, "dave", 0);
    node_t w1, w2, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &ing};
    worker_register(&w1);
    ingest_hello(&ing);
    pump(all, 3, 600, NULL);
    publish(all, 3, &ing, k1, 1280, 720, 30);
    char s1[64], s2[64];
    snprintf(s1, sizeof(s1), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w1");
    worker_register(&w2);
    pump(all, 3, 400, NULL);
    w2.extra_enc = 0;
    w1.extra_enc = 1500000000ull; /* so the next one lands on w2 */
    pump(all, 3, 400, NULL);
    publish(all, 3, &ing, k2, 1280, 720, 30);
    snprintf(s2, sizeof(s2), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w2");
    pump(all, 3, 600, NULL);
    assert_int_equal(w1.nsess, 1);
    assert_int_equal(w2.nsess, 1);

    /* Restart; while it is down, w2 dies and w1 picks up a stale stream. */
    coord_kill(fx, 0, SIGTERM);
    node_close(&w2);
    snprintf(w1.zombie, sizeof(w1.zombie), "%s",
             "00000000-0000-4000-8000-000000000000");
    w1.registered = false;
    int64_t restarted = clock_mono_ms();
    coord_start(fx, 0, true);
    node_t w3;
    node_init(fx, &w3, "w3", false, 1);
    node_t *all2[] = {&w1, &ing, &w3};
    /* w1 keeps reporting; the new coordinator asks it to register again. */
    w1.registered = true;
    w1.reg_acks = 0;
    pump_until_registered(all2, 3, &w1);
    worker_register(&w3);
    pump(all2, 3, 800, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/api/streams/%s", s1);
    json_t *j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "worker"), "w1");
    assert_string_equal(jstr(j, "state"), "running");
    assert_int_equal(json_integer_value(json_object_get(j, "generation")), 1);
    json_decref(j);
    assert_int_equal(w1.nsess, 1);
    assert_int_equal(w1.zombie[0], '\0'); /* released */
    /* s2's worker is gone: after the grace period it runs on w3. */
    int64_t end = clock_mono_ms() + 6000;
    bool on_w3 = false;
    while (clock_mono_ms() < end && !on_w3) {
        pump(all2, 3, 50, NULL);
        for (int i = 0; i < w3.nsess; i++)
            on_w3 |= !strcmp(w3.sess[i].id, s2);
    }
    assert_true(on_w3);
    print_message("unclaimed stream re-placed %lld ms after the restart\n",
                  (long long)(clock_mono_ms() - restarted));
    snprintf(path, sizeof(path), "/api/streams/%s", s2);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "worker"), "w3");
    assert_int_equal(json_integer_value(json_object_get(j, "generation")), 2);
    json_decref(j);
    char ev[1024];
    stream_events(fx, s1, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.adopted@w1"));
    stream_events(fx, s2, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.unclaimed@"));
    assert_non_null(strstr(ev, "stream.replaced@w3"));
    free(k1);
    free(k2);
    node_close(&w1);
    node_close(&w3);
    node_close(&ing);
}

/*
 * Two coordinators on one database: the second waits on the advisory lock
 * and takes over when the first is killed; the worker, which knows both
 * endpoints, registers with it and its stream is adopted. The ingest's
 * first word to the new leader is its stats, not a heartbeat (which once
 * left the ingest known without its media endpoint, never asked for a
 * Hello, and the stream of a worker that then died never placed again):
 * the next heartbeat is answered with a request for a Hello, and when the
 * worker dies its stream moves to another one.
 */
static void test_standby_takes_over(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    coord_start(fx, 1, false);
    /* The standby is up (it logged its start and runs) before the check
     * that it serves nothing while it waits, and still runs after it: a
     * crashed standby serves nothing either. */
    char logpath[2048];
    snprintf(logpath, sizeof(logpath), "%s/coord1.log", fx->dir);
    bool started = false;
    for (int64_t end = clock_mono_ms() + 10000;
         !started && clock_mono_ms() < end; usleep(20000))
        started = log_contains(logpath, "waiting for the leader lock");
    assert_true(started);
    assert_int_equal(waitpid(fx->pid[1], NULL, WNOHANG), 0);
    char raw[64];
    for (int64_t end = clock_mono_ms() + 1000; clock_mono_ms() < end;
         usleep(100000))
        assert_true(http(fx, 1, "GET", "/metrics", NULL, NULL, NULL, raw,
                         sizeof(raw)) < 0);
    assert_int_equal(waitpid(fx->pid[1], NULL, WNOHANG), 0);
    char *k1 = create_channel(fx, "erin", 0);
    node_t w1, ing;
    node_init(fx, &w1, "w1", false, 3);
    node_init(fx, &ing, "ing1", true, 3);
    node_t *all[] = {&w1, &ing};
    nodes_join(all, 2);
    publish(all, 2, &ing, k1, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char s1[64];
    snprintf(s1, sizeof(s1), "%s", ing.reply_stream);
    pump(all, 2, 400, NULL);
    assert_int_equal(w1.nsess, 1);

    ing.next_report_ms = INT64_MAX; /* no heartbeat until its stats */
    int64_t t0 = clock_mono_ms();
    coord_kill(fx, 0, SIGKILL);
    int64_t end = t0 + 10000;
    bool up = false;
    while (clock_mono_ms() < end && !up) {
        pump(all, 2, 100, NULL);
        up = http(fx, 1, "GET", "/metrics", NULL, NULL, NULL, raw,
                  sizeof(raw)) == 200;
    }
    assert_true(up);
    print_message("standby serving %lld ms after the leader was killed\n",
                  (long long)(clock_mono_ms() - t0));
    w1.reg_acks = 0;
    end = clock_mono_ms() + 8000;
    while (clock_mono_ms() < end && w1.reg_acks == 0)
        pump(all, 2, 50, NULL);
    assert_true(w1.reg_acks > 0);
    for (int i = 0; i < 10; i++) { /* through, once its link is up */
        ingest_bytes(&ing, s1, 1000000u + 1000u * (unsigned)i);
        pump(all, 2, 100, NULL);
    }
    char path[128];
    snprintf(path, sizeof(path), "/api/streams/%s", s1);
    json_t *j;
    assert_int_equal(http(fx, 1, "GET", path, NULL, NULL, &j, NULL, 0), 200);
    assert_string_equal(jstr(j, "worker"), "w1");
    assert_string_equal(jstr(j, "state"), "running");
    json_decref(j);

    /* Its worker dies before the ingest has said where its media is:
     * the stream waits, and says what for. */
    node_t w2;
    node_init(fx, &w2, "w2", false, 3);
    node_t *three[] = {&w1, &ing, &w2};
    worker_register(&w2);
    end = clock_mono_ms() + 3000;
    while (clock_mono_ms() < end && !w2.registered)
        pump(three, 3, 50, NULL);
    assert_true(w2.registered);
    node_close(&w1);
    const char *why = NULL;
    end = clock_mono_ms() + 3 * REPORT_MS + 3000;
    while (clock_mono_ms() < end && !why) {
        pump(three, 3, 100, NULL);
        assert_int_equal(http(fx, 1, "GET", path, NULL, NULL, &j, NULL, 0),
                         200);
        if (!strcmp(jstr(j, "state"), "pending"))
            why = json_string_value(json_object_get(j, "waiting_for"));
        why = why ? strdup(why) : NULL;
        json_decref(j);
    }
    assert_non_null(why);
    assert_string_equal(why, "ingest_hello");
    free((char *)why);
    /* Its next heartbeat is answered with a request for a Hello; once
     * it is accepted, the stream runs on w2. */
    ing.next_report_ms = 0;
    ing.reg_acks = 0;
    end = clock_mono_ms() + 4000;
    while (clock_mono_ms() < end && w2.nsess == 0)
        pump(three, 3, 50, NULL);
    assert_true(ing.reg_refused > 0);
    assert_true(ing.reg_acks > 0);
    assert_int_equal(w2.nsess, 1);
    assert_string_equal(w2.sess[0].id, s1);
    free(k1);
    node_close(&w2);
    node_close(&ing);
}

/*
 * PostgreSQL goes away: running streams go on (and a dead worker's stream
 * is still re-placed), new publishes are refused with a clear reason, the
 * coordinator reconnects with backoff and the writes it queued meanwhile
 * reach the database.
 */
static void test_db_outage(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    static proxy_t px;
    const char *url = getenv("PRISM_TEST_PGURL");
    const char *pp = strstr(url, "127.0.0.1:");
    assert_non_null(pp);
    px.target_port = atoi(pp + 10);
    /* Below the ephemeral range (free_port), so that no reconnect to the
     * stopped proxy can ever be a TCP self-connection on the same port. */
    px.port = free_port();
    proxy_start(&px);
    /* The coordinator reaches PostgreSQL through the proxy. */
    char direct[sizeof(fx->pgurl)];
    memcpy(direct, fx->pgurl, sizeof(direct));
    char port[16], tmp[2 * sizeof(fx->pgurl)];
    snprintf(port, sizeof(port), ":%d", px.target_port);
    char *at = strstr(direct, port);
    assert_non_null(at);
    snprintf(tmp, sizeof(tmp), "%.*s:%d%s", (int)(at - direct), direct, px.port,
             at + strlen(port));
    assert_true(strlen(tmp) < sizeof(fx->pgurl));
    memcpy(fx->pgurl, tmp, strlen(tmp) + 1);
    coord_start(fx, 0, true);
    char *k1 = create_channel(fx, "frank", 0);
    char *k2 = create_channel(fx, "grace", 0);
    char *k3 = create_channel(fx, "heidi", 0);
    node_t w1, w2, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &ing};
    node_t *ws[] = {&w1, &w2};
    register_in_order(all, sizeof(all) / sizeof(all[0]), ws, 2);
    ingest_hello(&ing);
    pump(all, 3, 800, NULL);
    publish(all, 3, &ing, k1, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char s1[64];
    snprintf(s1, sizeof(s1), "%s", ing.reply_stream);
    pump(all, 3, 400, NULL);
    node_t *runs = w1.nsess ? &w1 : &w2, *other = w1.nsess ? &w2 : &w1;
    assert_int_equal(runs->nsess, 1);
    /* heidi went live once and was stopped: the coordinator has read its
     * channel. */
    publish(all, 3, &ing, k3, 640, 360, 30);
    assert_true(ing.reply.accepted);
    char path[128];
    json_t *j = NULL;
    snprintf(path, sizeof(path), "/api/streams/%s", ing.reply_stream);
    assert_int_equal(
        http(fx, 0, "DELETE", path, "test-token-123", NULL, &j, NULL, 0), 200);
    json_decref(j);
    pump(all, 3, 300, NULL);
    int before = w1.nsess + w2.nsess;

    /* The database goes away. */
    proxy_stop(&px);
    int64_t end = clock_mono_ms() + 5000;
    while (clock_mono_ms() < end && metric(fx, "prism_db_up") != 0)
        pump(all, 3, 50, NULL);
    assert_int_equal(metric(fx, "prism_db_up"), 0);
    int64_t down_wall = clock_wall_ms();
    publish(all, 3, &ing, k2, 1280, 720, 30);
    assert_false(ing.reply.accepted);
    assert_string_equal(ing.reply_reason,
                        "database unavailable, try again shortly");
    /* A channel read before goes live from the cache: placed and
     * assigned to a worker at once; a wrong key for it is still wrong. */
    char bad[256];
    snprintf(bad, sizeof(bad), "%s", k3);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    publish(all, 3, &ing, bad, 640, 360, 30);
    assert_false(ing.reply.accepted);
    assert_string_equal(ing.reply_reason, "invalid stream key");
    publish(all, 3, &ing, k3, 640, 360, 30);
    assert_true(ing.reply.accepted);
    char s3[64];
    snprintf(s3, sizeof(s3), "%s", ing.reply_stream);
    end = clock_mono_ms() + 3000;
    while (clock_mono_ms() < end && w1.nsess + w2.nsess == before)
        pump(all, 3, 50, NULL);
    assert_int_equal(w1.nsess + w2.nsess, before + 1);
    assert_int_equal(metric(fx, "prism_publish_cache_admits_total"), 1);
    /* Running streams go on, and failover still works. */
    node_close(runs);
    bool moved = false;
    end = clock_mono_ms() + 3000;
    while (clock_mono_ms() < end && !moved) {
        pump(all, 3, 50, NULL);
        for (int i = 0; i < other->nsess; i++)
            moved = moved || !strcmp(other->sess[i].id, s1);
    }
    assert_true(moved);
    assert_true(metric(fx, "prism_db_queue") > 0);

    /* It comes back: the coordinator reconnects and flushes its queue. */
    pump(all, 3, 300, NULL);
    int64_t replay_wall = clock_wall_ms();
    proxy_start(&px);
    end = clock_mono_ms() + 8000;
    while (clock_mono_ms() < end && metric(fx, "prism_db_up") != 1)
        pump(all, 3, 50, NULL);
    assert_int_equal(metric(fx, "prism_db_up"), 1);
    assert_true(metric(fx, "prism_db_reconnects_total") >= 1);
    pump(all, 3, 500, NULL);
    publish(all, 3, &ing, k2, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char ev[1024];
    memcpy(fx->pgurl, direct, sizeof(direct));
    stream_events(fx, s1, ev, sizeof(ev));
    print_message("events of %s: %s\n", s1, ev);
    assert_non_null(strstr(ev, "stream.replaced@"));
    /* heidi's events of the outage arrived, in order, with the times they
     * happened at (not the replay's). */
    assert_true(events_wait(fx, all, 3, s3, "stream.started@", "stream.placed@",
                            ev, sizeof(ev), 3000));
    print_message("events of %s: %s\n", s3, ev);
    PGconn *c = pg(fx);
    const char *sp[1] = {s3};
    PGresult *er =
        PQexecParams(c,
                     "SELECT (extract(epoch FROM at) * 1000)::bigint, "
                     "detail->>'from_cache' FROM events WHERE stream_id = $1 "
                     "AND kind = 'stream.started'",
                     1, NULL, sp, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(er), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(er), 1);
    int64_t when = strtoll(PQgetvalue(er, 0, 0), NULL, 10);
    assert_true(when >= down_wall - 1000 && when < replay_wall);
    assert_string_equal(PQgetvalue(er, 0, 1), "true");
    PQclear(er);
    PGresult *r = PQexec(c, "SELECT count(*) FROM events WHERE kind = "
                            "'worker.dead' OR kind = 'db.down'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 2);
    PQclear(r);
    PQfinish(c);
    free(k1);
    free(k2);
    free(k3);
    node_close(other);
    node_close(&ing);
    proxy_stop(&px);
}

static const char *stream_worker(fx_t *fx, const char *id, char *out,
                                 size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/streams/%s", id);
    json_t *j = get_json(fx, 0, path);
    snprintf(out, len, "%s", jstr(j, "worker"));
    json_decref(j);
    return out;
}

static bool wait_worker(node_t **all, int n, fx_t *fx, const char *id,
                        const char *want_not, int64_t ms)
{
    char w[64];
    int64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end) {
        pump(all, n, 100, NULL);
        stream_worker(fx, id, w, sizeof(w));
        if (w[0] && strcmp(w, want_not))
            return true;
    }
    return false;
}

/*
 * Streams move: drain with move=true (the old worker is told to stop at the
 * next keyframe after the new one was assigned), a hung session (output
 * stalls while input flows) is placed elsewhere, and a worker whose
 * sessions run under real time becomes overloaded and, after slow_move_ms,
 * moves its lowest-priority stream (one per slow_move_ms), which does not
 * move again within slow_cooldown_ms though slow where it went.
 */
static void test_moves(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    char *ka = create_channel(fx, "low", 10);
    char *kb = create_channel(fx, "high", 90);
    char *kc = create_channel(fx, "mid", 50);
    node_t w1, w2, w3, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &w3, "w3", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &w3, &ing};
    node_t *ws[] = {&w1, &w2, &w3};
    register_in_order(all, 4, ws, 3);
    ingest_hello(&ing);
    pump(all, 4, 800, NULL);
    char sa[64], sb[64], sc[64], w[64];
    publish(all, 4, &ing, ka, 1280, 720, 30);
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w1");
    publish(all, 4, &ing, kb, 1280, 720, 30);
    snprintf(sb, sizeof(sb), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w2");
    publish(all, 4, &ing, kc, 1280, 720, 30);
    snprintf(sc, sizeof(sc), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w3");
    pump(all, 4, 500, NULL);

    /* Drain w1 and move: "low" goes to w2 (tie with w3: lowest index). */
    json_t *j;
    int st = http(fx, 0, "POST", "/api/workers/w1/drain?move=true",
                  "test-token-123", NULL, &j, NULL, 0);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "moved")), 1);
    json_decref(j);
    pump(all, 4, 500, NULL);
    assert_string_equal(stream_worker(fx, sa, w, sizeof(w)), "w2");
    assert_int_equal(w1.nsess, 0);
    assert_true(w1.release_reasons &
                (1u << PRISM__RELEASE_REASON__RELEASE_REASON_MOVED));
    assert_true(w1.release_at_keyframe);
    assert_int_equal(w2.nsess, 2);
    /* A move: the old session runs to its keyframe, so the new one's
     * first segment waits for it. */
    for (int i = 0; i < w2.nsess; i++)
        assert_false(w2.sess[i].previous_gone);

    /* w3's session hangs: "mid" is placed elsewhere (w1 is draining). */
    w3.stall_pts = clock_mono_ms() - w3.sess[0].start_ms;
    w3.stall = true;
    /* hung_ms (3 s), then the failure backoff; a deadline, not a wait,
     * with room for a loaded host (6 s was missed once under CI load). */
    assert_true(wait_worker(all, 4, fx, sc, "w3", 15000));
    assert_string_equal(stream_worker(fx, sc, w, sizeof(w)), "w2");
    w3.stall = false;
    char ev[1024];
    /* Placed again after the failure backoff (the Release's Ack may come
     * between). */
    if (!events_wait(fx, all, 4, sc, "stream.hung@w3 ", "stream.replaced@w2",
                     ev, sizeof(ev), 5000))
        fail_msg("events of %s: %s", sc, ev);

    /* w2 falls behind real time: overloaded, and after slow_move_ms (1 s)
     * it gives up "low" (priority 10) to w3 and keeps "high" and "mid". */
    w2.speed = 0.5;
    assert_true(wait_worker(all, 4, fx, sa, "w2", 4000));
    assert_string_equal(stream_worker(fx, sa, w, sizeof(w)), "w3");
    assert_string_equal(stream_worker(fx, sb, w, sizeof(w)), "w2");
    assert_string_equal(stream_worker(fx, sc, w, sizeof(w)), "w2");
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.slow_moved@w3"));
    j = get_json(fx, 0, "/api/workers/w2");
    assert_string_equal(jstr(j, "state"), "overloaded");
    json_decref(j);
    /* And it takes no new stream while overloaded. */
    char *kd = create_channel(fx, "late", 50);
    publish(all, 4, &ing, kd, 640, 360, 30);
    assert_true(ing.reply.accepted);
    assert_string_equal(ing.reply_worker, "w3");
    /* "low" is slow on w3 too: within slow_cooldown_ms it stays there. */
    w2.speed = 0;
    w3.speed = 0.5;
    pump(all, 4, 2500, NULL);
    assert_string_equal(stream_worker(fx, sa, w, sizeof(w)), "w3");
    stream_events(fx, sa, ev, sizeof(ev));
    const char *mv = strstr(ev, "stream.slow_moved");
    assert_non_null(mv);
    assert_null(strstr(mv + 1, "stream.slow_moved"));
    free(ka);
    free(kb);
    free(kc);
    free(kd);
    node_close(&w1);
    node_close(&w2);
    node_close(&w3);
    node_close(&ing);
}

/* The ingest says the publisher of stream id left. */
static void stream_end(node_t *ing, const char *id)
{
    Prism__StreamEnd e = PRISM__STREAM_END__INIT;
    e.stream_id = (char *)id;
    e.reason = (char *)"publisher left";
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_STREAM_END;
    env.stream_end = &e;
    node_send(ing, &env);
}

/*
 * A Release that is lost is sent again: the old worker of a moved stream
 * drops the first Release and its first re-send (as if it was disconnected
 * for a moment), keeps reporting the old generation, gets the Release
 * again (after ack_timeout_ms, then twice that), stops the session and
 * acknowledges it; the event log and /metrics show it. A Release a dead
 * worker never acknowledged is forgotten with the worker.
 */
static void test_release_resent(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    char *ka = create_channel(fx, "moving", 50);
    char *kb = create_channel(fx, "ending", 50);
    node_t w1, w2, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &ing};
    node_t *ws[] = {&w1, &w2};
    register_in_order(all, sizeof(all) / sizeof(all[0]), ws, 2);
    ingest_hello(&ing);
    pump(all, 3, 800, NULL);
    char sa[64], w[64];
    publish(all, 3, &ing, ka, 1280, 720, 30);
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w1");
    pump(all, 3, 500, NULL);
    assert_int_equal(w1.nsess, 1);

    /* Drain w1 with move: the Release to w1 is lost, and so is the first
     * re-send (after ack_timeout_ms = 1000); the next comes 2000 ms later. */
    w1.ignore_releases = 2;
    int st = http(fx, 0, "POST", "/api/workers/w1/drain?move=true",
                  "test-token-123", NULL, NULL, NULL, 0);
    assert_int_equal(st, 200);
    pump(all, 3, 500, NULL);
    assert_string_equal(stream_worker(fx, sa, w, sizeof(w)), "w2");
    assert_true(w1.releases_lost >= 1);
    assert_int_equal(w1.releases, 0);
    assert_int_equal(w1.nsess, 1); /* still transcoding the old generation */
    assert_int_equal(metric(fx, "prism_releases_unacked"), 1);

    /* It comes again, backing off; w1 stops and acks the third. */
    int64_t end = clock_mono_ms() + 6000;
    while (clock_mono_ms() < end && (w1.nsess || w1.releases == 0))
        pump(all, 3, 100, NULL);
    assert_int_equal(w1.releases_lost, 2);
    assert_int_equal(w1.releases, 1);
    assert_int_equal(w1.nsess, 0);
    assert_true(w1.release_reasons &
                (1u << PRISM__RELEASE_REASON__RELEASE_REASON_MOVED));
    pump(all, 3, 300, NULL);
    assert_int_equal(w2.nsess, 1);
    assert_true(metric(fx, "prism_release_resends_total") >= 2);
    assert_int_equal(metric(fx, "prism_releases_unacked"), 0);
    char ev[2048];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.replaced@w2"));
    assert_non_null(strstr(ev, "stream.release_acked@w1"));
    /* Nothing is sent again once acknowledged. */
    int before = metric(fx, "prism_release_resends_total");
    pump(all, 3, 2500, NULL);
    assert_int_equal(metric(fx, "prism_release_resends_total"), before);
    assert_int_equal(w1.releases, 1);

    /* A worker that dies owing an Ack: its pending Release is forgotten. */
    publish(all, 3, &ing, kb, 640, 360, 30);
    char sb[64];
    snprintf(sb, sizeof(sb), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w2");
    pump(all, 3, 300, NULL);
    w2.ignore_releases = 1000;
    stream_end(&ing, sb);
    pump(all, 3, 2500, NULL);
    assert_true(w2.releases_lost >= 2); /* sent, then sent again */
    assert_int_equal(metric(fx, "prism_releases_unacked"), 1);
    node_close(&w2);
    end = clock_mono_ms() + 4000;
    while (clock_mono_ms() < end && metric(fx, "prism_releases_unacked"))
        pump(all, 3, 200, NULL);
    assert_int_equal(metric(fx, "prism_releases_unacked"), 0);
    json_t *j = get_json(fx, 0, "/api/workers/w2");
    assert_string_equal(jstr(j, "state"), "dead");
    json_decref(j);
    free(ka);
    free(kb);
    node_close(&w1);
    node_close(&ing);
}

/* Whether stream id runs a partial ladder, and how many renditions. */
static bool stream_partial(fx_t *fx, const char *id, int *nren)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/streams/%s", id);
    json_t *j = get_json(fx, 0, path);
    bool p = json_is_true(json_object_get(j, "partial"));
    *nren = (int)json_array_size(json_object_get(j, "renditions"));
    json_decref(j);
    return p;
}

/*
 * Partial ladders get the whole ladder when capacity frees. Each worker
 * holds one whole 720p ladder (48 Mpx/s of encode in a 76.5 Mpx/s budget
 * after headroom) plus the lower rungs of a second one. With two workers
 * full, "c" (priority 10) and "d" (priority 90) are placed partial; a third
 * worker joins and "d", the higher priority, moves to it with its whole
 * ladder while "c" (no room anywhere else) stays partial; then a stream
 * ends and "c" moves to the freed worker with its whole ladder. The old
 * workers get Release (moved, at keyframe); the event log shows
 * stream.upgraded.
 */
static void test_ladder_upgrade(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    char *ka = create_channel(fx, "a", 50);
    char *kb = create_channel(fx, "b", 50);
    char *kc = create_channel(fx, "c", 10);
    char *kd = create_channel(fx, "d", 90);
    node_t w1, w2, w3, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &w3, "w3", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    w1.budget = w2.budget = w3.budget = 90000000ull;
    node_t *all[] = {&w1, &w2, &w3, &ing};
    node_t *ws[] = {&w1, &w2};
    register_in_order(all, sizeof(all) / sizeof(all[0]), ws, 2);
    ingest_hello(&ing);
    pump(all, 4, 800, NULL);
    char sa[64], sb[64], sc[64], sd[64], w[64];
    int nren;
    publish(all, 4, &ing, ka, 1280, 720, 30);
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w1");
    publish(all, 4, &ing, kb, 1280, 720, 30);
    snprintf(sb, sizeof(sb), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w2");
    pump(all, 4, 500, NULL);
    assert_false(stream_partial(fx, sa, &nren));
    assert_int_equal(nren, 5); /* source, 720p, 480p, 360p, 160p */
    publish(all, 4, &ing, kc, 1280, 720, 30);
    snprintf(sc, sizeof(sc), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w1");
    publish(all, 4, &ing, kd, 1280, 720, 30);
    snprintf(sd, sizeof(sd), "%s", ing.reply_stream);
    assert_string_equal(ing.reply_worker, "w2");
    pump(all, 4, 500, NULL);
    assert_true(stream_partial(fx, sc, &nren));
    assert_int_equal(nren, 4); /* 720p dropped */
    assert_true(stream_partial(fx, sd, &nren));
    assert_int_equal(metric(fx, "prism_ladder_upgrades_total"), 0);

    /* A worker joins: "d" (priority 90) gets it, "c" stays partial. */
    worker_register(&w3);
    assert_true(wait_worker(all, 4, fx, sd, "w2", 4000));
    assert_string_equal(stream_worker(fx, sd, w, sizeof(w)), "w3");
    assert_false(stream_partial(fx, sd, &nren));
    assert_int_equal(nren, 5);
    assert_true(w2.release_reasons &
                (1u << PRISM__RELEASE_REASON__RELEASE_REASON_MOVED));
    assert_true(w2.release_at_keyframe);
    pump(all, 4, 1500, NULL);
    assert_string_equal(stream_worker(fx, sc, w, sizeof(w)), "w1");
    assert_true(stream_partial(fx, sc, &nren));
    assert_int_equal(metric(fx, "prism_ladder_upgrades_total"), 1);

    /* "b" ends: "c" moves to w2 with its whole ladder. */
    stream_end(&ing, sb);
    assert_true(wait_worker(all, 4, fx, sc, "w1", 4000));
    assert_string_equal(stream_worker(fx, sc, w, sizeof(w)), "w2");
    assert_false(stream_partial(fx, sc, &nren));
    assert_int_equal(nren, 5);
    pump(all, 4, 500, NULL);
    assert_int_equal(w1.nsess, 1); /* "a" only: the old "c" stopped */
    assert_int_equal(w2.nsess, 1);
    assert_int_equal(w3.nsess, 1);
    assert_int_equal(metric(fx, "prism_ladder_upgrades_total"), 2);
    char ev[2048];
    stream_events(fx, sc, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.upgraded@w2"));
    assert_non_null(strstr(ev, "stream.release_acked@w1"));
    stream_events(fx, sd, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.upgraded@w3"));
    free(ka);
    free(kb);
    free(kc);
    free(kd);
    node_close(&w1);
    node_close(&w2);
    node_close(&w3);
    node_close(&ing);
}

/*
 * A restart storm cannot happen: w1 fails every session of the stream as
 * it starts (the Ack says ok = false with the error). With the policy's
 * numbers scaled down ten times (backoff 50 ms doubling to 3 s, 5
 * failures in 12 s mark it failed, failed streams retried every 3 s, 6 s
 * of running resets it all), the scaled minute (6 s) sees at most 8
 * generations, the stream is "failed" in the API with the worker's error,
 * in an event and in /metrics. Once the worker stops failing, the slow
 * retry runs the stream, a rendition the worker drops is shown without a
 * new placement, and after the reset time the stream leaves the failed
 * state.
 */
static void test_failure_policy(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    g_coord_extra = "fail_backoff_min_ms = 50\nfail_backoff_max_ms = 3000\n"
                    "fail_reset_ms = 6000\nfail_limit = 5\n"
                    "fail_window_ms = 12000\nfail_retry_ms = 3000\n";
    coord_start(fx, 0, true);
    g_coord_extra = "";
    char *ka = create_channel(fx, "flaky", 50);
    node_t w1, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &ing};
    const char *err = "simulated: cannot open encoder h264_nvenc (Invalid "
                      "argument)";
    w1.fail_error = err;
    nodes_join(all, 2);
    publish(all, 2, &ing, ka, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char sa[64], path[128];
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    snprintf(path, sizeof(path), "/api/streams/%s", sa);

    /* The scaled first minute. */
    pump(all, 2, 6000, NULL);
    json_t *j = get_json(fx, 0, path);
    json_int_t gens = json_integer_value(json_object_get(j, "generation"));
    json_t *f = json_object_get(j, "failure");
    print_message("generations in the scaled minute: %lld (assigns %d)\n",
                  (long long)gens, w1.assigns);
    assert_true(gens >= 5); /* it was tried again, and failed each time */
    assert_true(gens <= 8);
    assert_true(w1.assigns <= 8);
    assert_string_equal(jstr(j, "state"), "failed");
    assert_true(json_is_true(json_object_get(f, "failed")));
    assert_string_equal(jstr(f, "last_error"), err);
    assert_true(json_integer_value(json_object_get(f, "failures")) >= 5);
    json_decref(j);
    assert_int_equal(metric(fx, "prism_streams{state=\"failed\"}"), 1);
    assert_int_equal(metric(fx, "prism_streams_failed_total"), 1);
    assert_true(metric(fx, "prism_session_failures_total") >= 5);
    char ev[8192];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.failed@w1"));
    PGconn *c = pg(fx);
    const char *p[1] = {sa};
    PGresult *r = PQexecParams(c,
                               "SELECT state, last_error, (SELECT "
                               "detail->>'error' FROM events WHERE kind = "
                               "'stream.failed' AND stream_id = $1::uuid) "
                               "FROM streams WHERE id = $1::uuid",
                               1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "failed");
    assert_string_equal(PQgetvalue(r, 0, 1), err);
    assert_string_equal(PQgetvalue(r, 0, 2), err);
    PQclear(r);
    PQfinish(c);

    /* The worker is mended: the slow retry (within 3 s) runs it, still
     * marked failed until it has run the reset time. */
    w1.fail_error = NULL;
    w1.rend_failed = "source";
    bool running = false;
    for (int64_t end = clock_mono_ms() + 4000;
         !running && clock_mono_ms() < end;) {
        pump(all, 2, 200, NULL);
        j = get_json(fx, 0, path);
        running = !strcmp(jstr(j, "state"), "running");
        json_decref(j);
    }
    assert_true(running);
    pump(all, 2, 600, NULL);
    j = get_json(fx, 0, path);
    gens = json_integer_value(json_object_get(j, "generation"));
    f = json_object_get(j, "failure");
    assert_true(json_is_true(json_object_get(f, "failed")));
    json_t *rf = json_array_get(json_object_get(f, "failed_renditions"), 0);
    assert_non_null(rf);
    assert_string_equal(jstr(rf, "name"), "source");
    json_decref(j);
    assert_int_equal(metric(fx, "prism_rendition_failures_total"), 1);
    bool recovered = false;
    for (int64_t end = clock_mono_ms() + 8000;
         !recovered && clock_mono_ms() < end;) {
        pump(all, 2, 200, NULL);
        j = get_json(fx, 0, path);
        f = json_object_get(j, "failure");
        recovered = json_is_false(json_object_get(f, "failed"));
        /* A dropped rendition does not place the stream again. */
        assert_int_equal(json_integer_value(json_object_get(j, "generation")),
                         gens);
        assert_string_equal(jstr(j, "state"), "running");
        json_decref(j);
    }
    assert_true(recovered);
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.rendition_failed@w1"));
    assert_non_null(strstr(ev, "stream.recovered@w1"));
    assert_int_equal(metric(fx, "prism_streams{state=\"failed\"}"), 0);
    free(ka);
    node_close(&w1);
    node_close(&ing);
}

/*
 * A publisher that leaves and comes back within reconnect_grace_ms (an
 * encoder's auto-reconnect) continues its stream: no Release while it is
 * away (the worker holds the playlists), the API says how long ago it
 * left, and its publish gets the same stream id and a new generation.
 * One that does not come back ends the stream when the grace runs out.
 */
static void test_publisher_reconnect_grace(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    g_coord_extra = "reconnect_grace_ms = 1500\n";
    coord_start(fx, 0, true);
    g_coord_extra = "";
    char *ka = create_channel(fx, "obs", 50);
    node_t w1, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &ing};
    nodes_join(all, 2);
    publish(all, 2, &ing, ka, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char sa[64], path[128];
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    snprintf(path, sizeof(path), "/api/streams/%s", sa);
    pump(all, 2, 600, NULL);

    /* Away for less than the grace: nothing ends. */
    stream_end(&ing, sa);
    pump(all, 2, 500, NULL);
    assert_int_equal(w1.releases, 0);
    json_t *j = get_json(fx, 0, path);
    assert_true(json_integer_value(json_object_get(j, "publisher_left_ms")) >=
                400);
    json_int_t gen = json_integer_value(json_object_get(j, "generation"));
    json_decref(j);
    publish(all, 2, &ing, ka, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    assert_string_equal(ing.reply_stream, sa);
    pump(all, 2, 2000, NULL); /* past the grace: it is back, so it runs */
    j = get_json(fx, 0, path);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "publisher_left_ms")));
    assert_true(json_integer_value(json_object_get(j, "generation")) > gen);
    assert_string_equal(jstr(j, "state"), "running");
    json_decref(j);
    char ev[4096];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.publisher_left@w1"));
    assert_non_null(strstr(ev, "stream.resumed@w1"));
    assert_null(strstr(ev, "stream.ended"));

    /* Away for good: the stream ends once the grace has passed. */
    int releases = w1.releases;
    stream_end(&ing, sa);
    pump(all, 2, 700, NULL);
    assert_int_equal(w1.releases, releases);
    pump(all, 2, 1800, NULL);
    assert_true(w1.releases > releases);
    assert_true(w1.release_reasons &
                (1u << PRISM__RELEASE_REASON__RELEASE_REASON_STREAM_ENDED));
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.ended@w1"));
    free(ka);
    node_close(&w1);
    node_close(&ing);
}

/*
 * A stream that is not running when its publisher leaves (here: its
 * sessions keep failing, so it waits between tries) still waits the grace
 * for it: no placement and no failure counted while it is away, a publish
 * in time continues it. A stream never placed (no size yet) ends at once.
 */
static void test_publisher_left_while_not_running(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    g_coord_extra = "reconnect_grace_ms = 2000\nfail_backoff_min_ms = 300\n";
    coord_start(fx, 0, true);
    g_coord_extra = "";
    char *ka = create_channel(fx, "blip", 50);
    char *kb = create_channel(fx, "nosize", 50);
    node_t w1, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &ing};
    w1.fail_error = "simulated: the session failed";
    nodes_join(all, 2);
    publish(all, 2, &ing, ka, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char sa[64], path[128];
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    snprintf(path, sizeof(path), "/api/streams/%s", sa);
    pump(all, 2, 500, NULL); /* placed, failed: waiting to be placed again */
    json_t *j = get_json(fx, 0, path);
    assert_string_not_equal(jstr(j, "state"), "running");
    json_int_t failures = json_integer_value(
        json_object_get(json_object_get(j, "failure"), "failures"));
    assert_true(failures >= 1);
    json_decref(j);

    stream_end(&ing, sa);
    pump(all, 2, 100, NULL);
    int assigns = w1.assigns;
    pump(all, 2, 1200, NULL); /* backoffs run out; it is not placed */
    assert_int_equal(w1.assigns, assigns);
    j = get_json(fx, 0, path);
    assert_non_null(j); /* not ended */
    assert_true(json_integer_value(json_object_get(j, "publisher_left_ms")) >=
                1000);
    assert_true(
        json_integer_value(json_object_get(json_object_get(j, "failure"),
                                           "failures")) <= failures + 1);
    json_decref(j);
    char ev[8192];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.publisher_left"));
    assert_null(strstr(ev, "stream.ended"));

    /* Back in time, on a mended worker: the same stream runs. */
    w1.fail_error = NULL;
    publish(all, 2, &ing, ka, 1280, 720, 30);
    assert_string_equal(ing.reply_stream, sa);
    pump(all, 2, 2500, NULL);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "state"), "running");
    json_decref(j);

    /* Never placed (its size never came): ends at once. */
    publish(all, 2, &ing, kb, 0, 0, 30);
    assert_true(ing.reply.accepted);
    char sb[64];
    snprintf(sb, sizeof(sb), "%s", ing.reply_stream);
    stream_end(&ing, sb);
    pump(all, 2, 300, NULL);
    stream_events(fx, sb, ev, sizeof(ev));
    assert_non_null(strstr(ev, "stream.ended"));
    free(ka);
    free(kb);
    node_close(&w1);
    node_close(&ing);
}

/*
 * The coordinator itself stops for 2 s (SIGSTOP: a VM paused, a process
 * descheduled on a starved host) while its worker and ingest go on
 * reporting: once it runs again, their reports of that time are in its
 * socket, so nobody is declared dead and the stream stays where it runs.
 */
static void test_coordinator_paused(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    coord_start(fx, 0, true);
    char *k = create_channel(fx, "paused", 50);
    node_t w1, w2, ing;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &w2, "w2", false, 1);
    node_init(fx, &ing, "ing1", true, 1);
    node_t *all[] = {&w1, &w2, &ing};
    nodes_join(all, 3);
    publish(all, 3, &ing, k, 1280, 720, 30);
    assert_true(ing.reply.accepted);
    char sa[64], path[128];
    snprintf(sa, sizeof(sa), "%s", ing.reply_stream);
    snprintf(path, sizeof(path), "/api/streams/%s", sa);
    pump(all, 3, 600, NULL);
    json_t *j = get_json(fx, 0, path);
    json_int_t gen = json_integer_value(json_object_get(j, "generation"));
    char on[32];
    snprintf(on, sizeof(on), "%s", jstr(j, "worker"));
    json_decref(j);

    kill(fx->pid[0], SIGSTOP);
    pump(all, 3, 2000, NULL); /* 10 report intervals */
    kill(fx->pid[0], SIGCONT);
    pump(all, 3, 1000, NULL);
    j = get_json(fx, 0, path);
    assert_non_null(j);
    assert_string_equal(jstr(j, "state"), "running");
    assert_string_equal(jstr(j, "worker"), on);
    assert_int_equal(json_integer_value(json_object_get(j, "generation")), gen);
    json_decref(j);
    char ev[4096];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_null(strstr(ev, "stream.replaced"));
    assert_int_equal(w1.releases + w2.releases, 0);
    char logpath[2048];
    snprintf(logpath, sizeof(logpath), "%s/coord0.log", fx->dir);
    assert_false(log_contains(logpath, "Worker missed its reports"));
    assert_true(log_contains(logpath, "loop was held up"));
    free(k);
    node_close(&w1);
    node_close(&w2);
    node_close(&ing);
}

/*
 * Two ingests serve one channel. A second publisher on a live key is
 * refused while the first still sends; once the first has left, a publish
 * through the other ingest continues the stream under its id (the ingest
 * named in the API changes), and what the first ingest says late about
 * its old publish is ignored. A publisher whose ingest reports no new
 * bytes for publisher_silence_ms (a connection that hangs) is taken over.
 */
static void test_second_publisher(void **state)
{
    (void)state;
    fx_t *fx = &g_fx;
    fx_setup(fx);
    g_coord_extra = "reconnect_grace_ms = 5000\npublisher_silence_ms = 1500\n";
    coord_start(fx, 0, true);
    g_coord_extra = "";
    char *ka = create_channel(fx, "twin", 50);
    node_t w1, ing1, ing2;
    node_init(fx, &w1, "w1", false, 1);
    node_init(fx, &ing1, "ing1", true, 1);
    node_init(fx, &ing2, "ing2", true, 1);
    node_t *all[] = {&w1, &ing1, &ing2};
    nodes_join(all, 3);
    publish(all, 3, &ing1, ka, 1280, 720, 30);
    assert_true(ing1.reply.accepted);
    char sa[64], path[128];
    snprintf(sa, sizeof(sa), "%s", ing1.reply_stream);
    snprintf(path, sizeof(path), "/api/streams/%s", sa);
    pump(all, 3, 400, NULL);

    /* Its frames out of order and the gap copies: the session's counts in
     * the API, the farm's totals in /metrics. */
    w1.unordered = 7;
    w1.filled = 3;
    pump(all, 3, 400, NULL);
    json_t *j = get_json(fx, 0, path);
    json_t *ss = json_object_get(j, "session");
    assert_int_equal(
        json_integer_value(json_object_get(ss, "frames_unordered")), 7);
    assert_int_equal(json_integer_value(json_object_get(ss, "frames_filled")),
                     3);
    json_decref(j);
    assert_int_equal(metric(fx, "prism_frames_unordered_total"), 7);
    assert_int_equal(metric(fx, "prism_frames_filled_total"), 3);

    /* The first publisher sends: a second one is refused, whichever
     * ingest it comes through, and the stream is untouched. */
    for (int i = 0; i < 4; i++) {
        ingest_bytes(&ing1, sa, 1000u * (i + 1));
        pump(all, 3, 400, NULL);
    }
    publish(all, 3, &ing2, ka, 1280, 720, 30);
    assert_false(ing2.reply.accepted);
    assert_non_null(strstr(ing2.reply_reason, "already live"));
    publish(all, 3, &ing1, ka, 1280, 720, 30);
    assert_false(ing1.reply.accepted);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "ingest"), "ing1");
    json_int_t gen = json_integer_value(json_object_get(j, "generation"));
    json_decref(j);
    assert_int_equal(w1.releases, 0);

    /* It leaves; it comes back through the other ingest: the same stream,
     * a new session, whose counts start from 0 and add to the totals. */
    stream_end(&ing1, sa);
    w1.unordered = 2;
    w1.filled = 0;
    pump(all, 3, 300, NULL);
    publish(all, 3, &ing2, ka, 1280, 720, 30);
    assert_true(ing2.reply.accepted);
    assert_string_equal(ing2.reply_stream, sa);
    pump(all, 3, 600, NULL);
    /* The first ingest's late word on its old publish changes nothing. */
    stream_end(&ing1, sa);
    ingest_bytes(&ing1, sa, 999999);
    ingest_bytes(&ing2, sa, 500);
    pump(all, 3, 600, NULL);
    j = get_json(fx, 0, path);
    assert_string_equal(jstr(j, "ingest"), "ing2");
    assert_true(json_is_null(json_object_get(j, "publisher_left_ms")));
    assert_true(json_integer_value(json_object_get(j, "generation")) > gen);
    assert_string_equal(jstr(j, "state"), "running");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "session"), "frames_unordered")),
                     2);
    json_decref(j);
    assert_int_equal(metric(fx, "prism_frames_unordered_total"), 9);
    assert_int_equal(metric(fx, "prism_frames_filled_total"), 3);

    /* Its connection hangs: no new bytes for publisher_silence_ms. */
    ingest_bytes(&ing2, sa, 500);
    pump(all, 3, 1700, NULL);
    publish(all, 3, &ing1, ka, 1280, 720, 30);
    assert_true(ing1.reply.accepted);
    assert_string_equal(ing1.reply_stream, sa);
    char ev[4096];
    stream_events(fx, sa, ev, sizeof(ev));
    assert_non_null(strstr(ev, "publish.rejected"));
    assert_non_null(strstr(ev, "stream.publisher_left@w1"));
    assert_non_null(strstr(ev, "stream.resumed@w1"));
    assert_null(strstr(ev, "stream.ended"));
    free(ka);
    node_close(&w1);
    node_close(&ing1);
    node_close(&ing2);
}

/* Runs after every test, also after a failed one: no coordinator is left
 * behind and the test's schema is dropped. */
static int fx_after(void **state)
{
    (void)state;
    if (g_fx.dir[0])
        fx_teardown(&g_fx);
    memset(&g_fx, 0, sizeof(g_fx));
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_farm, fx_after),
        cmocka_unit_test_teardown(test_restart_reconciles, fx_after),
        cmocka_unit_test_teardown(test_standby_takes_over, fx_after),
        cmocka_unit_test_teardown(test_db_outage, fx_after),
        cmocka_unit_test_teardown(test_moves, fx_after),
        cmocka_unit_test_teardown(test_release_resent, fx_after),
        cmocka_unit_test_teardown(test_ladder_upgrade, fx_after),
        cmocka_unit_test_teardown(test_failure_policy, fx_after),
        cmocka_unit_test_teardown(test_publisher_reconnect_grace, fx_after),
        cmocka_unit_test_teardown(test_publisher_left_while_not_running,
                                  fx_after),
        cmocka_unit_test_teardown(test_coordinator_paused, fx_after),
        cmocka_unit_test_teardown(test_second_publisher, fx_after),
    };
    if (getenv("TEST_FILTER")) /* one case: TEST_FILTER=test_moves */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* A failed test leaves its nodes' sockets open, and terminating the
     * context would wait for them for ever: the failure would show as a
     * timeout. */
    if (rc == 0)
        zctx_term();
    return rc;
}
