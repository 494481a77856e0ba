/* prism-bench sched's socket run (see sched_socket.h). */
#include "sched_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "clock.h"
#include "curve_keys.h"
#include "envelope.h"
#include "http_client.h"
#include "proc_stat.h"
#include "zctx.h"
#include "zsock.h"

#define M                    1000000ull
#define SK_MAXSESS           64
#define SK_POLL_MS           5
#define SK_WAIT_MS           5000 /* for one publish's reply and Assign */
#define SK_START_MS          20000
#define SK_REGISTER_RETRY_MS 1000 /* a worker's register_retry_ms */

typedef struct {
    char id[40];
    uint64_t gen;
} sk_sess_t;

typedef struct {
    char id[32];
    void *sock;
    bool alive, registered;
    int64_t next_ms;
    int nsess;
    sk_sess_t sess[SK_MAXSESS];
    uint64_t seq;
} sk_node_t;

typedef struct {
    char dir[256];
    char coord_pub[CURVE_KEY_Z85_SIZE];
    int http_port, control_port;
    pid_t pid;
} sk_env_t;

typedef struct {
    sk_node_t *nodes; /* workers, then the ingest last */
    int n;
    int report_ms;
    int stats_ms;
    int registered;
    uint64_t registers_sent; /* Register and Hello, retries included */
    uint64_t reports_sent;
    /* the streams published, whose stats the ingest sends every
     * stats_ms as a real ingest does, spread over the interval */
    char (*live)[40];
    long nlive;
    uint64_t stats_sent;
    int64_t stats_t0_ms;
    /* the publish in flight */
    bool got_reply, reply_ok;
    int64_t reply_us;
    char reply_stream[40];
    int64_t assign_us; /* the first Assign since the request; 0 none */
    char assign_stream[40];
    /* the streams of the killed workers, and which were placed again */
    char (*watch)[40];
    bool *seen;
    long nwatch, nseen;
    int64_t first_ms, last_ms; /* of their Assigns */
} sk_sim_t;

static int sk_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static int sk_key(sk_env_t *e, const char *name, bool allow, char *pub)
{
    curve_keypair_t *kp = curve_keypair_generate();
    char keys[512], kp_path[1024], pp[1024];
    if (!kp)
        return -1;
    snprintf(keys, sizeof(keys), "%s/keys", e->dir);
    int rc = curve_keys_write(kp, keys, name, true, kp_path, pp, sizeof(pp));
    if (rc == 0 && allow) {
        char dst[1024];
        snprintf(dst, sizeof(dst), "%s/allow/%s.pub", e->dir, name);
        FILE *f = fopen(dst, "w");
        if (f) {
            fprintf(f, "public_key = %s\n", kp->public_z85);
            fclose(f);
        } else {
            rc = -1;
        }
    }
    if (pub)
        snprintf(pub, CURVE_KEY_Z85_SIZE, "%s", kp->public_z85);
    curve_keypair_free(&kp);
    return rc;
}

/* One HTTP request to the coordinator's API; returns the status. */
static int sk_http(sk_env_t *e, const char *method, const char *path,
                   const char *body, char *out, size_t outlen)
{
    http_client_opts_t o = {.bearer_token = "bench-token", .body_max = 1 << 20};
    char url[1024], err[256], *b = NULL;
    int status = -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", e->http_port, path);
    if (http_client_once(&o, method, url, body, body ? strlen(body) : 0,
                         &status, &b, err, sizeof(err)) < 0)
        return -1;
    if (out)
        snprintf(out, outlen, "%s", b);
    free(b);
    return status;
}

/* A counter of the coordinator's /metrics, or -1. */
static double sk_metric(sk_env_t *e, const char *name)
{
    static char text[1 << 20];
    if (sk_http(e, "GET", "/metrics", NULL, text, sizeof(text)) != 200)
        return -1;
    size_t l = strlen(name);
    for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (!strncmp(p, name, l) && p[l] == ' ')
            return strtod(p + l + 1, NULL);
    return -1;
}

static void *sk_connect(sk_env_t *e, const char *name)
{
    char path[1024];
    curve_keypair_t *kp = NULL;
    snprintf(path, sizeof(path), "%s/keys/%s.key", e->dir, name);
    if (curve_keys_load_secret(path, &kp) < 0)
        return NULL;
    zsock_opts_t o;
    zsock_opts_default(&o);
    o.sndtimeo_ms = 0;
    void *s = zsock_new(ZMQ_DEALER, &o);
    char ep[64];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", e->control_port);
    if (!s || zsock_curve_client(s, kp, e->coord_pub) < 0 ||
        zsock_connect(s, ep) < 0)
        zsock_close(&s);
    curve_keypair_free(&kp);
    return s;
}

static void sk_register(sk_node_t *n, bool ingest)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    if (ingest) {
        Prism__Hello h = PRISM__HELLO__INIT;
        h.role = PRISM__NODE_ROLE__NODE_ROLE_INGEST;
        h.node_id = n->id;
        h.media_endpoint = (char *)"tcp://127.0.0.1:1";
        env.body_case = PRISM__ENVELOPE__BODY_HELLO;
        env.hello = &h;
        envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
        return;
    }
    static Prism__Codec codecs[1] = {PRISM__CODEC__CODEC_H264};
    Prism__Device d = PRISM__DEVICE__INIT, *dp[1] = {&d};
    Prism__Register r = PRISM__REGISTER__INIT;
    d.kind = PRISM__DEVICE_KIND__DEVICE_KIND_NVENC;
    d.hw_encode = true;
    d.n_encode_codecs = 1;
    d.encode_codecs = codecs;
    d.encode_budget = 3000 * M;
    d.decode_budget = 3000 * M;
    r.worker_id = n->id;
    r.n_devices = 1;
    r.devices = dp;
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER;
    env.register_ = &r;
    envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
}

/* A LoadReport of every session, numbered as a worker numbers them. */
static void sk_report(sk_sim_t *sim, sk_node_t *n)
{
    Prism__LoadReport r = PRISM__LOAD_REPORT__INIT;
    Prism__SessionLoad sl[SK_MAXSESS], *slp[SK_MAXSESS];
    for (int i = 0; i < n->nsess; i++) {
        Prism__SessionLoad x = PRISM__SESSION_LOAD__INIT;
        x.stream_id = n->sess[i].id;
        x.generation = n->sess[i].gen;
        x.speed = 1.0;
        x.fps = 30;
        x.last_output_pts_ms = (int64_t)n->seq * sim->report_ms;
        x.last_input_pts_ms = x.last_output_pts_ms;
        sl[i] = x;
        slp[i] = &sl[i];
    }
    r.seq = ++n->seq;
    r.n_sessions = (size_t)n->nsess;
    r.sessions = slp;
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    env.body_case = PRISM__ENVELOPE__BODY_LOAD_REPORT;
    env.load_report = &r;
    envelope_send(n->sock, NULL, n->id, &env, ZMQ_DONTWAIT);
    sim->reports_sent++;
}

/* An Assign to worker nd: its session runs (in its reports) and is
 * acknowledged. */
static void sk_assigned(sk_sim_t *sim, sk_node_t *nd, const Prism__Assign *a)
{
    if (nd->nsess < SK_MAXSESS) {
        sk_sess_t *ss = &nd->sess[nd->nsess++];
        snprintf(ss->id, sizeof(ss->id), "%s", a->stream_id);
        ss->gen = a->generation;
    }
    Prism__Ack ack = PRISM__ACK__INIT;
    ack.stream_id = a->stream_id;
    ack.generation = a->generation;
    ack.ok = true;
    ack.of = PRISM__ACK__OF__OF_ASSIGN;
    Prism__Envelope out = PRISM__ENVELOPE__INIT;
    out.body_case = PRISM__ENVELOPE__BODY_ACK;
    out.ack = &ack;
    envelope_send(nd->sock, NULL, nd->id, &out, ZMQ_DONTWAIT);
    if (!sim->assign_us) {
        sim->assign_us = clock_mono_us();
        snprintf(sim->assign_stream, sizeof(sim->assign_stream), "%s",
                 a->stream_id);
    }
    for (long w = 0; w < sim->nwatch; w++) {
        if (!sim->seen[w] && !strcmp(sim->watch[w], a->stream_id)) {
            sim->seen[w] = true;
            sim->nseen++;
            sim->last_ms = clock_mono_ms();
            if (sim->first_ms < 0)
                sim->first_ms = sim->last_ms;
        }
    }
}

static void sk_handle(sk_sim_t *sim, sk_node_t *nd)
{
    for (;;) {
        Prism__Envelope *env = NULL;
        int rc = envelope_recv(nd->sock, ZMQ_DONTWAIT, NULL, &env, NULL);
        if (rc == -EAGAIN)
            return;
        if (rc < 0)
            continue;
        if (env->body_case == PRISM__ENVELOPE__BODY_REGISTER_ACK) {
            if (!nd->registered && env->register_ack->accepted)
                sim->registered++;
            nd->registered = env->register_ack->accepted;
        } else if (env->body_case == PRISM__ENVELOPE__BODY_ASSIGN) {
            sk_assigned(sim, nd, env->assign);
        } else if (env->body_case == PRISM__ENVELOPE__BODY_PUBLISH_REPLY) {
            sim->got_reply = true;
            sim->reply_us = clock_mono_us();
            sim->reply_ok = env->publish_reply->accepted;
            snprintf(sim->reply_stream, sizeof(sim->reply_stream), "%s",
                     env->publish_reply->stream_id
                         ? env->publish_reply->stream_id
                         : "");
        }
        envelope_free(&env);
    }
}

/* The ingest's IngestStats that are due: each live stream's every
 * stats_ms, in turn (none with stats_ms 0). */
static void sk_ingest_stats(sk_sim_t *sim, sk_node_t *ing, int64_t now)
{
    if (!sim->nlive || sim->stats_ms <= 0)
        return;
    uint64_t due =
        (uint64_t)((now - sim->stats_t0_ms) * sim->nlive / sim->stats_ms);
    for (; sim->stats_sent < due; sim->stats_sent++) {
        Prism__IngestStats st = PRISM__INGEST_STATS__INIT;
        st.stream_id = sim->live[sim->stats_sent % (uint64_t)sim->nlive];
        st.bitrate_kbps = 3000;
        st.fps = 30;
        st.keyframe_interval_s = 2;
        st.bytes_in = sim->stats_sent * 1875000; /* rises: still sending */
        st.subscribers = 1;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_INGEST_STATS;
        env.ingest_stats = &st;
        envelope_send(ing->sock, NULL, ing->id, &env, ZMQ_DONTWAIT);
    }
}

/* Runs every live node for MS, or until DONE(sim) says so: answers what
 * arrives, registers, reports and sends stats on time. */
static void sk_pump(sk_sim_t *sim, int64_t ms, bool (*done)(const sk_sim_t *))
{
    int64_t end = clock_mono_ms() + ms;
    zmq_pollitem_t *items = calloc((size_t)sim->n, sizeof(*items));
    int *idx = calloc((size_t)sim->n, sizeof(*idx));
    if (!items || !idx)
        goto out;
    while (clock_mono_ms() < end && !(done && done(sim))) {
        int k = 0;
        for (int i = 0; i < sim->n; i++) {
            if (!sim->nodes[i].alive)
                continue;
            items[k] = (zmq_pollitem_t){sim->nodes[i].sock, 0, ZMQ_POLLIN, 0};
            idx[k++] = i;
        }
        zmq_poll(items, k, SK_POLL_MS);
        for (int j = 0; j < k; j++)
            if (items[j].revents & ZMQ_POLLIN)
                sk_handle(sim, &sim->nodes[idx[j]]);
        int64_t now = clock_mono_ms();
        if (sim->nodes[sim->n - 1].registered)
            sk_ingest_stats(sim, &sim->nodes[sim->n - 1], now);
        for (int i = 0; i < sim->n; i++) {
            sk_node_t *nd = &sim->nodes[i];
            if (!nd->alive || now < nd->next_ms)
                continue;
            nd->next_ms =
                now + (nd->registered ? sim->report_ms : SK_REGISTER_RETRY_MS);
            bool ingest = i == sim->n - 1;
            if (!nd->registered) {
                sk_register(nd, ingest);
                sim->registers_sent++;
            } else if (!ingest)
                sk_report(sim, nd);
        }
    }
out:
    free(items);
    free(idx);
}

static bool all_registered(const sk_sim_t *sim)
{
    return sim->registered >= sim->n;
}

static bool publish_done(const sk_sim_t *sim)
{
    return sim->got_reply && (!sim->reply_ok || sim->assign_us);
}

static bool all_replaced(const sk_sim_t *sim)
{
    return sim->nseen >= sim->nwatch;
}

/* Room for the sockets: a file descriptor or two each (the connection,
 * libzmq's mailbox), here and in the coordinator, which inherits it. */
static int sk_room(int nsockets)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)nsockets * 3 + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need) {
        fprintf(stderr,
                "sched: %d sockets need %lu file descriptors; the limit is "
                "%lu (run several prism-bench processes, or raise it)\n",
                nsockets, (unsigned long)need, (unsigned long)rl.rlim_cur);
        return -1;
    }
    return zmq_ctx_set(zctx_get(), ZMQ_MAX_SOCKETS, nsockets + 64);
}

/* Runs SQL on the database at URL; 0 or -1 (said). */
static int sk_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "sched: %s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* A schema of the run's own in the database at URL (what earlier runs
 * left there stays out of it), and the URL that uses it, into OUT. */
static int sk_schema(const char *url, char *schema, size_t slen, char *out,
                     size_t olen)
{
    char sql[128];
    snprintf(schema, slen, "bench_sched_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", schema);
    if (sk_sql(url, sql) < 0)
        return -1;
    snprintf(out, olen, "%s%soptions=-csearch_path%%3D%s", url,
             strchr(url, '?') ? "&" : "?", schema);
    return 0;
}

/* The coordinator process, its keys and configuration, listening. */
static int sk_start(sk_env_t *e, sk_sim_t *sim, const sk_opts_t *o,
                    const char *pg_url)
{
    char path[512], cfg[4096];
    snprintf(path, sizeof(path), "%s/keys", e->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/allow", e->dir);
    mkdir(path, 0700);
    if (sk_key(e, "coordinator", false, e->coord_pub) < 0)
        return -1;
    for (int i = 0; i < sim->n; i++) {
        sk_node_t *nd = &sim->nodes[i];
        if (i == sim->n - 1)
            snprintf(nd->id, sizeof(nd->id), "ingest");
        else
            snprintf(nd->id, sizeof(nd->id), "w%d", i);
        if (sk_key(e, nd->id, true, NULL) < 0)
            return -1;
    }
    e->http_port = sk_free_port();
    e->control_port = sk_free_port();
    snprintf(cfg, sizeof(cfg),
             "id = bench\ncontrol_bind = tcp://127.0.0.1:%d\n"
             "key_file = %s/keys/coordinator.key\nallow_dir = %s/allow\n"
             "http_port = %d\napi_token = bench-token\npg_url = %s\n"
             "report_ms = %d\nheartbeat_ms = 1000\nha_lock_key = %u\n"
             "max_streams = %d\nlog_level = warn\n",
             e->control_port, e->dir, e->dir, e->http_port, pg_url,
             o->report_ms, (unsigned)getpid(), o->streams * 2 + 64);
    snprintf(path, sizeof(path), "%s/coordinator.ini", e->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(cfg, f);
    fclose(f);
    e->pid = fork();
    if (e->pid == 0) {
        char logp[600];
        snprintf(logp, sizeof(logp), "%s/coordinator.log", e->dir);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        for (int k = 3; k < 1024; k++)
            close(k);
        execl(o->coord_bin, o->coord_bin, "--config", path, (char *)NULL);
        _exit(127);
    }
    if (e->pid < 0)
        return -1;
    int64_t t_end = clock_mono_ms() + SK_START_MS;
    while (sk_http(e, "GET", "/metrics", NULL, NULL, 0) != 200) {
        if (clock_mono_ms() > t_end) {
            fprintf(stderr, "sched: the coordinator did not start\n");
            return -1;
        }
        usleep(50000);
    }
    return 0;
}

/* One channel per stream, made before the workers come so that the
 * blocking HTTP calls do not silence their reports; keys into KEYS. */
static int sk_channels(sk_env_t *e, int n, char (*keys)[128])
{
    for (int i = 0; i < n; i++) {
        char body[128], out[4096];
        snprintf(body, sizeof(body), "{\"name\": \"bench-%u-%d\"}",
                 (unsigned)getpid(), i);
        if (sk_http(e, "POST", "/api/channels", body, out, sizeof(out)) != 201)
            return -1;
        char *k = strstr(out, "\"stream_key\": \"");
        if (!k)
            return -1;
        sscanf(k + 15, "%127[^\"]", keys[i]);
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Phase 1: the publishes, one after another, each timed to its reply and
 * to its worker's Assign (microseconds, into REPLY and ASSIGN). */
static int sk_publish_all(sk_sim_t *sim, char (*keys)[128], int n,
                          int64_t *reply, int64_t *assign)
{
    sk_node_t *ing = &sim->nodes[sim->n - 1];
    for (int i = 0; i < n; i++) {
        Prism__PublishRequest p = PRISM__PUBLISH_REQUEST__INIT;
        Prism__SourceInfo si = PRISM__SOURCE_INFO__INIT;
        si.video_codec = PRISM__CODEC__CODEC_H264;
        si.width = 1280;
        si.height = 720;
        si.fps_num = 30;
        si.fps_den = 1;
        p.ingest_id = ing->id;
        p.stream_key = keys[i];
        p.remote_addr = (char *)"127.0.0.1";
        p.source = &si;
        p.request_id = (uint64_t)i;
        Prism__Envelope env = PRISM__ENVELOPE__INIT;
        env.body_case = PRISM__ENVELOPE__BODY_PUBLISH_REQUEST;
        env.publish_request = &p;
        sim->got_reply = false;
        sim->assign_us = 0;
        int64_t t0 = clock_mono_us();
        envelope_send(ing->sock, NULL, ing->id, &env, ZMQ_DONTWAIT);
        sk_pump(sim, SK_WAIT_MS, publish_done);
        if (!sim->got_reply || !sim->reply_ok || !sim->assign_us ||
            strcmp(sim->assign_stream, sim->reply_stream)) {
            fprintf(stderr, "sched: publish %d was not accepted and assigned\n",
                    i);
            return -1;
        }
        reply[i] = sim->reply_us - t0;
        assign[i] = sim->assign_us - t0;
        if (!sim->nlive)
            sim->stats_t0_ms = clock_mono_ms();
        memcpy(sim->live[sim->nlive++], sim->reply_stream, 40);
    }
    return 0;
}

/* Phase 2: steady state for O->steady_s. */
static void sk_steady(sk_env_t *e, sk_sim_t *sim, const sk_opts_t *o,
                      sk_result_t *res)
{
    /* The database writes of the publishes go first (the coordinator's
     * queue empties), so that the window holds the steady load only. */
    int64_t drain_end = clock_mono_ms() + 60000;
    while (sk_metric(e, "prism_db_queue") > 0 && clock_mono_ms() < drain_end)
        sk_pump(sim, 200, NULL);
    double cpu0 = proc_cpu_s(e->pid);
    double taken0 = sk_metric(e, "prism_worker_reports_total");
    double gaps0 = sk_metric(e, "prism_worker_report_gaps_total");
    double q0 = sk_metric(e, "prism_db_queries_total");
    uint64_t sent0 = sim->reports_sent, stats0 = sim->stats_sent;
    int64_t t0 = clock_mono_us();
    sk_pump(sim, (int64_t)o->steady_s * 1000, NULL);
    /* What the coordinator has not read yet is not lost: let it. */
    sk_pump(sim, 2 * SK_POLL_MS, NULL);
    double wall = (double)(clock_mono_us() - t0) / 1e6;
    res->coord_cores = (proc_cpu_s(e->pid) - cpu0) / wall;
    res->reports_sent = sim->reports_sent - sent0;
    res->stats_per_s = (double)(sim->stats_sent - stats0) / wall;
    res->reports_taken =
        (uint64_t)(sk_metric(e, "prism_worker_reports_total") - taken0);
    res->report_gaps =
        (uint64_t)(sk_metric(e, "prism_worker_report_gaps_total") - gaps0);
    res->db_queries_per_s =
        (sk_metric(e, "prism_db_queries_total") - q0) / wall;
}

/* Phase 3: O->kill workers die at once; their streams are placed again. */
static int sk_kill(sk_sim_t *sim, const sk_opts_t *o, sk_result_t *res)
{
    int nkill = o->kill > 0 ? o->kill : 1;
    sim->watch = calloc((size_t)nkill * SK_MAXSESS, sizeof(*sim->watch));
    sim->seen = calloc((size_t)nkill * SK_MAXSESS, sizeof(*sim->seen));
    if (!sim->watch || !sim->seen)
        return -1;
    sim->first_ms = -1;
    for (int i = 0; i < nkill && i < sim->n - 1; i++) {
        sk_node_t *nd = &sim->nodes[i];
        for (int k = 0; k < nd->nsess; k++)
            memcpy(sim->watch[sim->nwatch++], nd->sess[k].id, 40);
        nd->alive = false;
        zsock_close(&nd->sock);
    }
    int64_t t_kill = clock_mono_ms();
    sk_pump(sim, 30000, all_replaced);
    res->affected = sim->nwatch;
    res->replaced = sim->nseen;
    /* A kill that hit no stream (or none re-placed) has no time: -1. */
    res->replace_all_ms = sim->nseen > 0 ? (double)(sim->last_ms - t_kill) : -1;
    res->replace_pass_ms =
        sim->nseen > 0 ? (double)(sim->last_ms - sim->first_ms) : -1;
    return sim->nseen >= sim->nwatch ? 0 : -1;
}

int sk_run(const sk_opts_t *o, sk_result_t *res)
{
    sk_env_t e = {.pid = -1};
    sk_sim_t sim = {.report_ms = o->report_ms, .stats_ms = o->stats_ms};
    int64_t *reply = NULL, *assign = NULL;
    char(*keys)[128] = NULL;
    char schema[64] = "", url[1024];
    int rc = -1;
    memset(res, 0, sizeof(*res));
    snprintf(e.dir, sizeof(e.dir), "/tmp/prism-bench-sched-XXXXXX");
    if (!mkdtemp(e.dir))
        return -1;
    sim.n = o->workers + 1;
    sim.nodes = calloc((size_t)sim.n, sizeof(*sim.nodes));
    reply = calloc((size_t)o->streams, sizeof(*reply));
    assign = calloc((size_t)o->streams, sizeof(*assign));
    keys = calloc((size_t)o->streams, sizeof(*keys));
    sim.live = calloc((size_t)o->streams, sizeof(*sim.live));
    if (!sim.live || !sim.nodes || !reply || !assign || !keys ||
        sk_room(sim.n) < 0)
        goto end;
    int64_t t_setup = clock_mono_us();
    if (sk_schema(o->pg_url, schema, sizeof(schema), url, sizeof(url)) < 0)
        goto end;
    if (sk_start(&e, &sim, o, url) < 0 || sk_channels(&e, o->streams, keys) < 0)
        goto end;
    for (int i = 0; i < sim.n; i++) {
        sim.nodes[i].sock = sk_connect(&e, sim.nodes[i].id);
        if (!sim.nodes[i].sock)
            goto end;
        sim.nodes[i].alive = true;
    }
    sk_pump(&sim, SK_START_MS, all_registered);
    if (!all_registered(&sim)) {
        fprintf(stderr, "sched: %d of %d nodes registered\n", sim.registered,
                sim.n);
        goto end;
    }
    res->setup_s = (double)(clock_mono_us() - t_setup) / 1e6;
    res->registers_sent = sim.registers_sent;
    if (sk_publish_all(&sim, keys, o->streams, reply, assign) < 0)
        goto end;
    qsort(reply, (size_t)o->streams, sizeof(*reply), cmp_i64);
    qsort(assign, (size_t)o->streams, sizeof(*assign), cmp_i64);
    res->publish_p50_us = (double)reply[o->streams / 2];
    res->publish_p99_us = (double)reply[(int)(o->streams * 0.99)];
    res->assign_p50_us = (double)assign[o->streams / 2];
    res->assign_p99_us = (double)assign[(int)(o->streams * 0.99)];
    res->assign_max_us = (double)assign[o->streams - 1];
    sk_pump(&sim, 3 * (int64_t)o->report_ms, NULL); /* every stream reported */
    sk_steady(&e, &sim, o, res);
    rc = sk_kill(&sim, o, res);
    res->rss_hwm_kb = proc_status_kb(e.pid, "VmHWM:");
    res->rss_kb = proc_status_kb(e.pid, "VmRSS:");
end:
    for (int i = 0; sim.nodes && i < sim.n; i++)
        zsock_close(&sim.nodes[i].sock);
    if (e.pid > 0) {
        kill(e.pid, SIGTERM);
        waitpid(e.pid, NULL, 0);
    }
    if (schema[0]) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "SET client_min_messages = warning; DROP SCHEMA %s CASCADE",
                 schema);
        sk_sql(o->pg_url, sql);
    }
    free(sim.nodes);
    free(sim.live);
    free(sim.watch);
    free(sim.seen);
    free(keys);
    free(reply);
    free(assign);
    if (rc == 0) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "sched: could not remove %s\n", e.dir);
    } else {
        fprintf(stderr, "sched: socket run failed; files kept in %s\n", e.dir);
    }
    return rc;
}

/* A duration for the JSON output: "null" when there is none (< 0). */
static const char *ms_or_null(double ms, char *buf)
{
    if (ms < 0)
        return "null";
    snprintf(buf, 32, "%.1f", ms);
    return buf;
}

void sk_print_json(const sk_opts_t *o, const sk_result_t *r)
{
    char a[32], b[32];
    printf(", \"socket_mode\": \"real prism-coordinator, CURVE tcp, "
           "PostgreSQL; simulated workers and ingest in one process\", "
           "\"socket_workers\": %d, \"socket_streams\": %d, "
           "\"socket_report_ms\": %d, \"socket_stats_ms\": %d, "
           "\"socket_setup_s\": %.1f, \"socket_registers_sent\": %llu, "
           "\"socket_publish_p50_us\": %.1f, \"socket_publish_p99_us\": %.1f, "
           "\"socket_assign_p50_us\": %.1f, \"socket_assign_p99_us\": %.1f, "
           "\"socket_assign_max_us\": %.1f, \"socket_steady_s\": %d, "
           "\"coordinator_cores\": %.3f, \"coordinator_db_queries_per_s\": "
           "%.1f, \"socket_ingest_stats_per_s\": %.1f, "
           "\"socket_reports_sent\": %llu, \"socket_reports_taken\": "
           "%llu, \"socket_report_gaps\": %llu, \"socket_killed_workers\": "
           "%d, \"socket_affected_streams\": %ld, \"socket_replaced\": %ld, "
           "\"socket_replace_all_ms\": %s, \"socket_replace_pass_ms\": %s, "
           "\"coordinator_rss_kb\": %ld, \"coordinator_rss_hwm_kb\": %ld",
           o->workers, o->streams, o->report_ms, o->stats_ms, r->setup_s,
           (unsigned long long)r->registers_sent, r->publish_p50_us,
           r->publish_p99_us, r->assign_p50_us, r->assign_p99_us,
           r->assign_max_us, o->steady_s, r->coord_cores, r->db_queries_per_s,
           r->stats_per_s, (unsigned long long)r->reports_sent,
           (unsigned long long)r->reports_taken,
           (unsigned long long)r->report_gaps, o->kill, r->affected,
           r->replaced, ms_or_null(r->replace_all_ms, a),
           ms_or_null(r->replace_pass_ms, b), r->rss_kb, r->rss_hwm_kb);
}

void sk_print_text(const sk_opts_t *o, const sk_result_t *r)
{
    printf("sched: %d workers, %d streams through a real prism-coordinator "
           "(CURVE tcp, PostgreSQL), reports every %d ms\n",
           o->workers, o->streams, o->report_ms);
    printf("  publish to reply       p50 %.1f us  p99 %.1f us (key check in "
           "PostgreSQL + placement)\n",
           r->publish_p50_us, r->publish_p99_us);
    printf("  publish to Assign      p50 %.1f us  p99 %.1f us  max %.1f us "
           "(at the chosen worker)\n",
           r->assign_p50_us, r->assign_p99_us, r->assign_max_us);
    printf("  steady %d s            coordinator %.1f%% of one core, %.1f "
           "database queries/s (ingest stats %.1f/s)\n",
           o->steady_s, r->coord_cores * 100, r->db_queries_per_s,
           r->stats_per_s);
    printf("  reports                %llu sent, %llu taken, %llu gaps\n",
           (unsigned long long)r->reports_sent,
           (unsigned long long)r->reports_taken,
           (unsigned long long)r->report_gaps);
    if (r->replace_all_ms < 0)
        printf("  %d workers killed: %ld streams on them, %ld re-placed: no "
               "re-placement time\n",
               o->kill, r->affected, r->replaced);
    else
        printf("  %d workers killed: %ld streams, %ld re-placed, all %.0f ms "
               "after the kill (detection: 3 missed reports of %d ms), %.1f "
               "ms from the first to the last\n",
               o->kill, r->affected, r->replaced, r->replace_all_ms,
               o->report_ms, r->replace_pass_ms);
    printf("  coordinator RSS        %ld kB (peak %ld kB)\n", r->rss_kb,
           r->rss_hwm_kb);
}
