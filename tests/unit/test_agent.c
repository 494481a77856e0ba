/* Tests for worker/agent: the pure helpers, and the control protocol
 * against a simulated coordinator ROUTER on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "agent.h"
#include "calibrate.h"
#include "clock.h"
#include "envelope.h"
#include "nvml.h"
#include "test_main.h"
#include "worker_config.h"
#include "zsock.h"

/* ---------------------------------------------------------------- helpers */

static void test_profile_from_assign(void **state)
{
    (void)state;
    Prism__Assign a = PRISM__ASSIGN__INIT;
    Prism__Rendition r[3] = {PRISM__RENDITION__INIT, PRISM__RENDITION__INIT,
                             PRISM__RENDITION__INIT};
    Prism__Rendition *rp[3] = {&r[0], &r[1], &r[2]};
    r[0].name = "source";
    r[0].remux = true;
    r[1].name = "720p60";
    r[1].width = 1280;
    r[1].height = 720;
    r[1].fps_num = 60000;
    r[1].fps_den = 1001;
    r[1].bitrate_kbps = 4500;
    r[1].codec = PRISM__CODEC__CODEC_HEVC;
    r[1].profile = "main";
    r[2].name = "portrait";
    r[2].width = 360;
    r[2].height = 640;
    r[2].fps_num = 30;
    r[2].fps_den = 1;
    r[2].bitrate_kbps = 800;
    a.n_renditions = 3;
    a.renditions = rp;
    ladder_profile_t p;
    assert_int_equal(agent_profile_from_assign(&a, &p), 0);
    assert_int_equal(p.nrungs, 3);
    assert_true(p.rungs[0].remux);
    assert_string_equal(p.rungs[0].name, "source");
    assert_string_equal(p.rungs[1].name, "720p60");
    assert_int_equal(p.rungs[1].height, 720);
    assert_int_equal(p.rungs[1].fps, 60);
    assert_int_equal(p.rungs[1].codec, LADDER_CODEC_HEVC);
    assert_int_equal(p.rungs[1].bitrate_kbps, 4500);
    assert_string_equal(p.rungs[1].profile, "main");
    assert_int_equal(p.rungs[2].height, 360); /* the short side */

    /* Fitted again to the same 720p59.94 source, the same ladder. */
    ladder_source_t src = {1280, 720, 60000, 1001, 0, 0, 6000};
    ladder_t l;
    assert_int_equal(ladder_apply(&p, &src, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.r[1].width, 1280);
    assert_int_equal(l.r[1].fps_num, 60000);
    assert_int_equal(l.r[1].fps_den, 1001);

    r[2].codec = (Prism__Codec)99;
    assert_int_equal(agent_profile_from_assign(&a, &p), -EINVAL);
    a.n_renditions = 0;
    assert_int_equal(agent_profile_from_assign(&a, &p), -EINVAL);
}

/* A short timed encode and decode gives positive pixel rates. */
static void test_calibrate_measure(void **state)
{
    (void)state;
    double e = 0, d = 0;
    int64_t t0 = clock_mono_ms();
    assert_int_equal(
        calibrate_measure("libx264", "preset=ultrafast", 160, 96, 0.3, &e, &d),
        0);
    assert_true(clock_mono_ms() - t0 >= 250);
    assert_true(e > 160 * 96 * 5.0);
    assert_true(d > 0);
    assert_true(
        calibrate_measure("no_such_encoder", NULL, 64, 64, 0.1, &e, &d) < 0);
    assert_true(e == 0 && d == 0);
}

/* The sample configuration parses, and flags beat the file. */
static void test_sample_config(void **state)
{
    (void)state;
    const char *srcdir = getenv("PRISM_SOURCE_DIR");
    assert_non_null(srcdir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/configs/worker.ini", srcdir);
    worker_config_t cfg;
    char err[256];
    char *argv[] = {"run", "--config", path, "--max-streams", "7", NULL};
    assert_int_equal(worker_config_parse(&cfg, 5, argv, err, sizeof(err)), 0);
    assert_string_equal(cfg.worker_id, "gpu-01");
    assert_non_null(strstr(cfg.coordinators, "coordinator-b.example:5550"));
    assert_int_equal(cfg.max_streams, 7);
    assert_int_equal(cfg.gpu_encode_budget, 500000000);
    assert_true(cfg.nvml);
}

/* Without the NVIDIA driver, NVML is absent and utilisation unknown. */
static void test_nvml_absent(void **state)
{
    (void)state;
    nvml_t *n = nvml_open(); /* NULL here unless libnvidia-ml exists */
    nvml_sample_t s;
    if (!n) {
        assert_int_equal(nvml_sample(NULL, 0, &s), -ENODEV);
        assert_int_equal(s.encoder_util, -1);
        assert_int_equal(s.decoder_util, -1);
    } else {
        /* A GPU host: index 0 answers, utilisation within 0..100. */
        if (nvml_sample(n, 0, &s) == 0 && s.encoder_util >= 0)
            assert_true(s.encoder_util <= 100);
        assert_int_equal(nvml_sample(n, 4096, &s), -ENODEV);
    }
    nvml_close(&n);
    assert_null(n);
}

/* ---------------------------------------------------------------- protocol */

typedef struct {
    void *router;
    envelope_peer_t worker;
} coord_t;

/* Waits up to ms for a message of body `want` from the worker; others are
 * skipped. Returns the envelope (caller frees) or NULL. */
static Prism__Envelope *expect(coord_t *c, Prism__Envelope__BodyCase want,
                               int ms)
{
    int64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end) {
        zmq_pollitem_t pi = {c->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 20) <= 0)
            continue;
        Prism__Envelope *env = NULL;
        if (envelope_recv(c->router, ZMQ_DONTWAIT, &c->worker, &env, NULL) < 0)
            continue;
        if (env->body_case == want)
            return env;
        envelope_free(&env);
    }
    return NULL;
}

static void send_to(coord_t *c, Prism__Envelope *env)
{
    assert_int_equal(envelope_send(c->router, &c->worker, "coord", env, 0), 0);
}

static void reg_ack(coord_t *c, bool ok, const char *reason)
{
    Prism__Envelope env = PRISM__ENVELOPE__INIT;
    Prism__RegisterAck a = PRISM__REGISTER_ACK__INIT;
    a.accepted = ok;
    a.reason = (char *)reason;
    a.report_interval_ms = 100;
    a.coordinator_id = "coord";
    env.body_case = PRISM__ENVELOPE__BODY_REGISTER_ACK;
    env.register_ack = &a;
    send_to(c, &env);
}

static void *run_agent(void *arg)
{
    agent_run(arg);
    return NULL;
}

static void test_protocol(void **state)
{
    (void)state;
    coord_t c = {0};
    zsock_opts_t o;
    zsock_opts_default(&o);
    c.router = zsock_new(ZMQ_ROUTER, &o);
    assert_non_null(c.router);
    assert_int_equal(zsock_bind(c.router, "tcp://127.0.0.1:*"), 0);
    char ep[64], eps[200];
    assert_int_equal(zsock_last_endpoint(c.router, ep, sizeof(ep)), 0);
    /* A second endpoint where nobody listens, as a standby would be. */
    snprintf(eps, sizeof(eps), "tcp://127.0.0.1:1, %s", ep);

    worker_config_t cfg;
    char err[256];
    char *argv[] = {"run",      "--worker-id",
                    "w-test",   "--coordinators",
                    eps,        "--backend",
                    "software", "--cpu-max-sessions",
                    "4",        "--cpu-encode-budget",
                    "50000000", "--max-host-sessions",
                    "6",        "--coordinator-lost-ms",
                    "600",      "--register-retry-ms",
                    "100",      "--subscribe-timeout-ms",
                    "300",      NULL};
    assert_int_equal(worker_config_parse(&cfg, 19, argv, err, sizeof(err)), 0);
    probe_t p;
    memset(&p, 0, sizeof(p));
    p.cpu_cores = 2;
    snprintf(p.sw_encoders, sizeof(p.sw_encoders), "libx264,libx265");
    agent_t *a = agent_new(&cfg, &p);
    assert_non_null(a);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_agent, a), 0);

    /* Register: the devices and limits; retried until answered. */
    Prism__Envelope *env = expect(&c, PRISM__ENVELOPE__BODY_REGISTER, 3000);
    assert_non_null(env);
    envelope_free(&env);
    env = expect(&c, PRISM__ENVELOPE__BODY_REGISTER, 3000);
    assert_non_null(env);
    const Prism__Register *r = env->register_;
    assert_string_equal(r->worker_id, "w-test");
    assert_int_equal(r->max_host_sessions, 6);
    assert_int_equal(r->n_devices, 1);
    assert_int_equal(r->devices[0]->kind, PRISM__DEVICE_KIND__DEVICE_KIND_CPU);
    assert_int_equal(r->devices[0]->max_sessions, 4);
    assert_int_equal(r->devices[0]->encode_budget, 50000000u);
    assert_int_equal(r->devices[0]->n_encode_codecs, 2);
    assert_int_equal(r->n_running, 0);
    envelope_free(&env);
    reg_ack(&c, true, "");

    /* Load reports at the coordinator's interval, seq growing. */
    env = expect(&c, PRISM__ENVELOPE__BODY_LOAD_REPORT, 2000);
    assert_non_null(env);
    uint64_t seq = env->load_report->seq;
    assert_int_equal(env->load_report->n_devices, 1);
    assert_int_equal(env->load_report->devices[0]->encoder_util, -1);
    envelope_free(&env);
    int64_t t0 = clock_mono_ms();
    env = expect(&c, PRISM__ENVELOPE__BODY_LOAD_REPORT, 2000);
    assert_non_null(env);
    assert_true(env->load_report->seq > seq);
    assert_true(clock_mono_ms() - t0 < 400);
    envelope_free(&env);

    /* An Assign whose ingest never answers: Ack ok = false. */
    Prism__Envelope m = PRISM__ENVELOPE__INIT;
    Prism__Assign as = PRISM__ASSIGN__INIT;
    Prism__Rendition rd = PRISM__RENDITION__INIT;
    Prism__Rendition *rdp[1] = {&rd};
    rd.name = "source";
    rd.remux = true;
    as.stream_id = "st-1";
    as.generation = 3;
    as.channel = "chan";
    as.ingest_endpoint = "tcp://127.0.0.1:1";
    as.subscribe_token = "tok";
    as.output_url = "/tmp";
    as.n_renditions = 1;
    as.renditions = rdp;
    m.body_case = PRISM__ENVELOPE__BODY_ASSIGN;
    m.assign = &as;
    send_to(&c, &m);
    env = expect(&c, PRISM__ENVELOPE__BODY_ACK, 3000);
    assert_non_null(env);
    assert_string_equal(env->ack->stream_id, "st-1");
    assert_int_equal(env->ack->generation, 3);
    assert_int_equal(env->ack->of, PRISM__ACK__OF__OF_ASSIGN);
    assert_false(env->ack->ok);
    assert_non_null(strstr(env->ack->error, "subscribe"));
    envelope_free(&env);

    /* An Assign without an ingest is refused at once. */
    as.stream_id = "st-2";
    as.ingest_endpoint = "";
    send_to(&c, &m);
    env = expect(&c, PRISM__ENVELOPE__BODY_ACK, 2000);
    assert_non_null(env);
    assert_string_equal(env->ack->stream_id, "st-2");
    assert_false(env->ack->ok);
    envelope_free(&env);

    /* Release is acknowledged even for a stream not running here. */
    Prism__Release rel = PRISM__RELEASE__INIT;
    rel.stream_id = "st-9";
    rel.generation = 4;
    m.body_case = PRISM__ENVELOPE__BODY_RELEASE;
    m.release = &rel;
    send_to(&c, &m);
    env = expect(&c, PRISM__ENVELOPE__BODY_ACK, 2000);
    assert_non_null(env);
    assert_int_equal(env->ack->of, PRISM__ACK__OF__OF_RELEASE);
    assert_true(env->ack->ok);
    assert_int_equal(env->ack->generation, 4);
    envelope_free(&env);

    /* A restarted coordinator does not know the worker: Register again. */
    reg_ack(&c, false, "not registered: send Register");
    t0 = clock_mono_ms();
    env = expect(&c, PRISM__ENVELOPE__BODY_REGISTER, 2000);
    assert_non_null(env);
    assert_true(clock_mono_ms() - t0 < 300);
    envelope_free(&env);
    reg_ack(&c, true, "");

    /* Silence past coordinator_lost_ms: Register again. */
    t0 = clock_mono_ms();
    env = expect(&c, PRISM__ENVELOPE__BODY_REGISTER, 3000);
    assert_non_null(env);
    int64_t silent = clock_mono_ms() - t0;
    assert_true(silent >= 500);
    envelope_free(&env);

    agent_stop(a);
    pthread_join(t, NULL);
    agent_free(&a);
    assert_null(a);
    zsock_close(&c.router);
}

TEST_MAIN(cmocka_unit_test(test_profile_from_assign),
          cmocka_unit_test(test_calibrate_measure),
          cmocka_unit_test(test_sample_config),
          cmocka_unit_test(test_nvml_absent), cmocka_unit_test(test_protocol))
