/* Tests of prism-ingest end to end in one process: ffmpeg publishes over
 * RTMP and SRT, a simulated coordinator admits keys, a subscriber speaking
 * the worker side receives the media, hostile clients try to break it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_ingest_util.h"

#include "ingest_config.h"
#include "ingest_server.h"
#include "log.h"
#include "pktbuf.h"
#include "zctx.h"

typedef struct {
    ingest_server_t *srv;
    pthread_t thread;
} srv_t;

static void *srv_main(void *arg)
{
    ingest_server_run(arg);
    return NULL;
}

static void srv_start(srv_t *s, const char *coord, int bad_key_limit)
{
    ingest_config_t cfg;
    assert_int_equal(ingest_config_defaults(&cfg), 0);
    snprintf(cfg.rtmp_listen, sizeof(cfg.rtmp_listen), "127.0.0.1:0");
    snprintf(cfg.srt_listen, sizeof(cfg.srt_listen), "127.0.0.1:0");
    snprintf(cfg.media_bind, sizeof(cfg.media_bind), "tcp://127.0.0.1:*");
    snprintf(cfg.coordinator, sizeof(cfg.coordinator), "%s", coord);
    cfg.stats_interval_ms = 500;
    cfg.handshake_timeout_ms = 1500;
    cfg.idle_timeout_ms = 3000;
    cfg.admit_timeout_ms = 2000;
    cfg.bad_key_limit = bad_key_limit;
    cfg.max_conns_per_addr = 50;
    s->srv = ingest_server_new(&cfg);
    assert_non_null(s->srv);
    pthread_create(&s->thread, NULL, srv_main, s->srv);
}

static void srv_stop(srv_t *s)
{
    ingest_server_stop(s->srv);
    pthread_join(s->thread, NULL);
    ingest_server_free(&s->srv);
}

static pid_t spawn_ffmpeg(char *const argv[], const char *errpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errpath,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static int wait_rc(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

/* Every packet of the clip arrived in order with its timestamps, key flag
 * and size (RTMP: millisecond timestamps equal the FLV's). */
static void check_rtmp_packets(const tu_sub_t *u, const char *clip)
{
    static tu_pkt_t ref[TU_MAX_PKTS];
    const char *sel[2] = {"v", "a"};
    for (int t = 0; t < 2; t++) {
        int n = tu_probe(clip, sel[t], ref, TU_MAX_PKTS);
        assert_true(n > 10);
        assert_int_equal(u->npkts[t], n);
        for (int i = 0; i < n; i++) {
            assert_int_equal(u->pkts[t][i].dts, ref[i].dts);
            assert_int_equal(u->pkts[t][i].pts, ref[i].pts);
            assert_int_equal(u->pkts[t][i].size, ref[i].size);
            if (t == 0)
                assert_int_equal(u->pkts[t][i].key, ref[i].key);
        }
    }
    assert_true(u->seq_in_order);
    assert_int_equal(u->max_dropped, 0);
    /* Tracks: H.264 with an avcC record, AAC with its ASC. */
    assert_int_equal(u->kind[0], PRISM__TRACK_KIND__TRACK_KIND_VIDEO);
    assert_int_equal(u->codec[0], PRISM__CODEC__CODEC_H264);
    assert_int_equal(u->x0[0], 1); /* configurationVersion */
    assert_true(u->xlen[0] > 10);
    assert_int_equal(u->w[0], 320);
    assert_int_equal(u->h[0], 240);
    assert_int_equal(u->tbd[0], 1000);
    assert_int_equal(u->codec[1], PRISM__CODEC__CODEC_AAC);
    assert_true(u->xlen[1] >= 2);
    assert_int_equal(u->sr[1], 44100);
    assert_int_equal(u->ch[1], 1);
}

/* ------------------------------------------------------------ hostile */

static void send_garbage(int port, uint32_t seed)
{
    int fd = tu_connect(port);
    assert_true(fd >= 0);
    uint8_t buf[65536];
    for (size_t i = 0; i < sizeof(buf); i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    buf[0] = 0x42; /* not version 3 */
    tu_write_all(fd, buf, sizeof(buf));
    assert_true(tu_closed_by_peer(fd, 3000));
    close(fd);
}

static void hostile_after_handshake(int port, const uint8_t *p, size_t n)
{
    tu_rtmp_t c;
    assert_int_equal(tu_rtmp_open(&c, port, 1), 0);
    tu_write_all(c.fd, p, n);
    assert_true(tu_closed_by_peer(c.fd, 3000));
    tu_rtmp_close(&c);
}

static void hostile_clients(int port)
{
    /* 1. Garbage from the first byte. */
    send_garbage(port, 7);
    /* 2. A message announcing 16 MiB, over max_message. */
    uint8_t big[] = {0x03, 0, 0, 0, 0xff, 0xff, 0xfe, 20, 0, 0, 0, 0, 1, 2};
    hostile_after_handshake(port, big, sizeof(big));
    /* 3. Set Chunk Size 0. */
    uint8_t scs[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    hostile_after_handshake(port, scs, sizeof(scs));
    /* 4. A continuation chunk on a chunk stream never introduced. */
    uint8_t fmt3[] = {0xc5, 1, 2, 3, 4, 5, 6, 7, 8};
    hostile_after_handshake(port, fmt3, sizeof(fmt3));
    /* 5. AMF nested 100 deep inside a command. */
    {
        uint8_t amf[1024];
        size_t n = 0;
        amf[n++] = 2, amf[n++] = 0, amf[n++] = 7;
        memcpy(amf + n, "connect", 7), n += 7;
        amf[n++] = 0;
        memset(amf + n, 0, 8), n += 8;
        for (int i = 0; i < 100; i++) {
            amf[n++] = 3; /* object */
            amf[n++] = 0, amf[n++] = 1, amf[n++] = 'a';
        }
        amf[n++] = 5;
        uint8_t msg[2048];
        long m = rtmp_chunk_write(msg, sizeof(msg), 128, 3, 0, 20, 0, amf,
                                  (uint32_t)n);
        assert_true(m > 0);
        hostile_after_handshake(port, msg, (size_t)m);
    }
    /* 6. Forty chunk streams at once (each a partial message). */
    {
        uint8_t msg[40 * 20];
        size_t n = 0;
        for (int i = 0; i < 40; i++) {
            uint8_t h[] = {
                (uint8_t)(4 + i), 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0, 0x17};
            memcpy(msg + n, h, sizeof(h));
            n += sizeof(h);
        }
        hostile_after_handshake(port, msg, n);
    }
    /* 7. Truncated handshake, then silence: the handshake timeout. */
    {
        int fd = tu_connect(port);
        uint8_t half[700] = {3};
        tu_write_all(fd, half, sizeof(half));
        assert_true(tu_closed_by_peer(fd, 4000));
        close(fd);
    }
    /* 8. More createStream calls than allowed. */
    {
        tu_rtmp_t c;
        assert_int_equal(tu_rtmp_open(&c, port, 0), 0);
        tu_rtmp_command(&c, "connect", 1, NULL, 0);
        for (int i = 0; i < 10; i++)
            tu_rtmp_command(&c, "createStream", 2 + i, NULL, 0);
        assert_true(tu_closed_by_peer(c.fd, 3000));
        tu_rtmp_close(&c);
    }
    /* 9. Truncated message, then the connection drops. */
    {
        tu_rtmp_t c;
        assert_int_equal(tu_rtmp_open(&c, port, 0), 0);
        uint8_t part[] = {0x03, 0, 0, 0, 0, 0x10, 0, 20, 0, 0, 0, 0, 2, 0};
        tu_write_all(c.fd, part, sizeof(part));
        tu_rtmp_close(&c);
    }
}

/* ------------------------------------------------------------ tests */

static void test_rtmp_publish_bad_key_and_hostile(void **state)
{
    (void)state;
    const char *clip = tu_clip();
    assert_non_null(clip);
    tu_coord_t coord;
    tu_coord_start(&coord, true);
    srv_t s;
    srv_start(&s, coord.endpoint, 100);
    int port = ingest_server_rtmp_port(s.srv);

    static tu_sub_t sub, intruder;
    tu_sub_start(&sub, ingest_server_media_endpoint(s.srv), "s-goodkey",
                 "t-goodkey", 64 << 20);
    tu_sub_start(&intruder, ingest_server_media_endpoint(s.srv), "s-goodkey",
                 "wrong-token", 64 << 20);

    char url[256], bad_url[256], err_good[600], err_bad[600];
    snprintf(url, sizeof(url), "rtmp://127.0.0.1:%d/live/goodkey", port);
    snprintf(bad_url, sizeof(bad_url), "rtmp://127.0.0.1:%d/live/badkey", port);
    snprintf(err_good, sizeof(err_good), "%s/ffmpeg-good.log", tu_dir());
    snprintf(err_bad, sizeof(err_bad), "%s/ffmpeg-bad.log", tu_dir());
    char *good[] = {"ffmpeg", "-nostdin",   "-loglevel", "warning", "-re",
                    "-i",     (char *)clip, "-c",        "copy",    "-f",
                    "flv",    url,          NULL};
    pid_t gp = spawn_ffmpeg(good, err_good);
    assert_true(gp > 0);

    /* While the good stream runs: a refused key, then hostile clients. */
    char *bad[] = {"ffmpeg", "-nostdin",   "-loglevel", "warning", "-re",
                   "-i",     (char *)clip, "-c",        "copy",    "-f",
                   "flv",    bad_url,      NULL};
    int brc = tu_run(bad, err_bad);
    assert_int_not_equal(brc, 0);
    assert_true(file_contains(err_bad, "unknown stream key"));
    {
        tu_rtmp_t c;
        assert_int_equal(tu_rtmp_open(&c, port, 1), 0);
        assert_int_equal(tu_rtmp_publish(&c, "badkey2"), 0);
        assert_string_equal(c.status, "NetStream.Publish.BadName");
        assert_string_equal(c.desc, "unknown stream key");
        assert_true(tu_closed_by_peer(c.fd, 2000));
        tu_rtmp_close(&c);
    }
    hostile_clients(port);

    assert_int_equal(wait_rc(gp), 0);
    usleep(1200 * 1000); /* a stats interval and the last packets */
    tu_sub_stop(&sub);
    tu_sub_stop(&intruder);

    assert_true(atomic_load(&sub.accepted));
    check_rtmp_packets(&sub, clip);
    assert_false(atomic_load(&intruder.accepted));
    assert_true(atomic_load(&intruder.refusals) > 0);
    assert_string_equal(intruder.reason, "bad token");

    ingest_counters_t n;
    ingest_server_counters(s.srv, &n);
    assert_true(n.publish_ok >= 1);
    assert_true(n.publish_refused >= 2);
    assert_true(n.closed_error >= 6);
    assert_true(n.closed_timeout >= 1);
    assert_int_equal(n.live_streams, 0);

    assert_true(atomic_load(&coord.hellos) >= 1);
    assert_string_equal(coord.hello_endpoint,
                        ingest_server_media_endpoint(s.srv));
    assert_true(atomic_load(&coord.heartbeats) >= 2);
    assert_true(atomic_load(&coord.stats) >= 1);
    assert_true(atomic_load(&coord.ends) >= 1);
    assert_non_null(strstr(coord.last_client, "Lavf"));
    assert_int_equal(coord.last_width, 320);
    assert_int_equal(coord.last_height, 240);
    assert_int_equal(coord.last_vcodec, PRISM__CODEC__CODEC_H264);
    assert_int_equal(coord.last_acodec, PRISM__CODEC__CODEC_AAC);
    assert_true(coord.last_fps > 5 && coord.last_fps < 90); /* wall clock */
    /* 30 fps with a key frame every 30 frames; about 200 kbit/s. */
    assert_true(coord.last_gop_s > 0.9 && coord.last_gop_s < 1.1);
    assert_true(coord.last_kbps > 50 && coord.last_kbps < 1000);

    srv_stop(&s);
    tu_coord_stop(&coord);
}

static void test_srt_publish_and_bad_key(void **state)
{
    (void)state;
    const char *clip = tu_clip();
    assert_non_null(clip);
    tu_coord_t coord;
    tu_coord_start(&coord, true);
    srv_t s;
    srv_start(&s, coord.endpoint, 100);
    int port = ingest_server_srt_port(s.srv);
    assert_true(port > 0);

    static tu_sub_t sub;
    tu_sub_start(&sub, ingest_server_media_endpoint(s.srv), "s-goodsrt",
                 "t-goodsrt", 64 << 20);
    char url[256], bad_url[256], err_good[600], err_bad[600];
    snprintf(url, sizeof(url),
             "srt://127.0.0.1:%d?streamid=#!::r=goodsrt,m=publish&linger=3",
             port);
    snprintf(bad_url, sizeof(bad_url), "srt://127.0.0.1:%d?streamid=badsrt",
             port);
    snprintf(err_good, sizeof(err_good), "%s/ffmpeg-srt.log", tu_dir());
    snprintf(err_bad, sizeof(err_bad), "%s/ffmpeg-srt-bad.log", tu_dir());
    char *bad[] = {"ffmpeg", "-nostdin",   "-loglevel", "warning", "-re",
                   "-i",     (char *)clip, "-c",        "copy",    "-f",
                   "mpegts", bad_url,      NULL};
    assert_int_not_equal(tu_run(bad, err_bad), 0);
    char *good[] = {"ffmpeg", "-nostdin",   "-loglevel", "warning", "-re",
                    "-i",     (char *)clip, "-c",        "copy",    "-f",
                    "mpegts", url,          NULL};
    assert_int_equal(tu_run(good, err_good), 0);
    usleep(1500 * 1000); /* the SRT latency, then the queue */
    tu_sub_stop(&sub);

    assert_true(atomic_load(&sub.accepted));
    static tu_pkt_t ref[TU_MAX_PKTS];
    int n = tu_probe(clip, "v", ref, TU_MAX_PKTS);
    if (getenv("TEST_DEBUG"))
        for (int i = 0; i < sub.npkts[0]; i++)
            fprintf(stderr, "v %d dts=%lld key=%d size=%u\n", i,
                    (long long)sub.pkts[0][i].dts, sub.pkts[0][i].key,
                    sub.pkts[0][i].size);
    assert_int_equal(sub.npkts[0], n);
    for (int i = 0; i < n; i++) {
        /* 90 kHz in MPEG-TS, relative to the first packet. */
        assert_int_equal(sub.pkts[0][i].dts - sub.pkts[0][0].dts,
                         (ref[i].dts - ref[0].dts) * 90);
        assert_int_equal(sub.pkts[0][i].key, ref[i].key);
    }
    int na = tu_probe(clip, "a", ref, TU_MAX_PKTS);
    if (getenv("TEST_DEBUG"))
        for (int i = 0; i < sub.npkts[1]; i++)
            fprintf(stderr, "a %d dts=%lld size=%u\n", i,
                    (long long)sub.pkts[1][i].dts, sub.pkts[1][i].size);
    assert_int_equal(sub.npkts[1], na);
    assert_true(sub.seq_in_order);
    assert_int_equal(sub.codec[0], PRISM__CODEC__CODEC_H264);
    assert_int_equal(sub.codec[1], PRISM__CODEC__CODEC_AAC);
    assert_int_equal(sub.w[0], 320);
    assert_int_equal(sub.tbd[0], 90000);
    assert_true(sub.xlen[0] > 0);

    ingest_counters_t c;
    ingest_server_counters(s.srv, &c);
    assert_int_equal(c.publish_ok, 1);
    assert_int_equal(c.publish_refused, 1);
    assert_int_equal(c.live_streams, 0);
    srv_stop(&s);
    tu_coord_stop(&coord);
}

static void test_bad_keys_rate_limited(void **state)
{
    (void)state;
    tu_coord_t coord;
    tu_coord_start(&coord, true);
    srv_t s;
    srv_start(&s, coord.endpoint, 2);
    int port = ingest_server_rtmp_port(s.srv);
    for (int i = 0; i < 3; i++) {
        tu_rtmp_t c;
        assert_int_equal(tu_rtmp_open(&c, port, i & 1), 0);
        assert_int_equal(tu_rtmp_publish(&c, i < 2 ? "nope" : "goodkey"), 0);
        assert_string_equal(c.status, "NetStream.Publish.BadName");
        if (i == 2) /* refused without asking the coordinator */
            assert_string_equal(c.desc, "too many refused keys, retry later");
        tu_rtmp_close(&c);
    }
    assert_int_equal(atomic_load(&coord.requests), 2);
    srv_stop(&s);
    tu_coord_stop(&coord);
}

static void test_admission_timeout(void **state)
{
    (void)state;
    tu_coord_t coord;
    tu_coord_start(&coord, false); /* never answers publishes */
    coord.nack_heartbeat = true;
    srv_t s;
    srv_start(&s, coord.endpoint, 100);
    tu_rtmp_t c;
    assert_int_equal(tu_rtmp_open(&c, ingest_server_rtmp_port(s.srv), 0), 0);
    assert_int_equal(tu_rtmp_publish(&c, "goodkey"), 0);
    assert_string_equal(c.status, "NetStream.Publish.BadName");
    assert_string_equal(c.desc, "coordinator did not answer");
    tu_rtmp_close(&c);
    /* Told "not registered" (as by a restarted coordinator), the ingest
     * introduced itself again. */
    assert_true(atomic_load(&coord.heartbeats) >= 1);
    assert_int_equal(atomic_load(&coord.hellos), 2);
    srv_stop(&s);
    tu_coord_stop(&coord);
}

static void test_open_mode_publish(void **state)
{
    (void)state;
    srv_t s;
    srv_start(&s, "", 100);
    tu_rtmp_t c;
    assert_int_equal(tu_rtmp_open(&c, ingest_server_rtmp_port(s.srv), 1), 0);
    assert_int_equal(tu_rtmp_publish(&c, "anykey"), 0);
    assert_string_equal(c.status, "NetStream.Publish.Start");
    tu_rtmp_close(&c);
    srv_stop(&s);
}

/* Enhanced RTMP HEVC from a raw client; the subscriber joins after the
 * packets were sent, so what it gets comes from the GOP cache. */
static void test_enhanced_rtmp_hevc_gop_cache(void **state)
{
    (void)state;
    srv_t s;
    srv_start(&s, "", 100);
    tu_rtmp_t c;
    assert_int_equal(tu_rtmp_open(&c, ingest_server_rtmp_port(s.srv), 1), 0);
    assert_int_equal(tu_rtmp_publish(&c, "ehevc"), 0);
    assert_string_equal(c.status, "NetStream.Publish.Start");
    uint8_t seq[] = {0x90, 'h', 'v', 'c', '1', 1, 1, 0x60, 0, 0, 0, 0x90};
    uint8_t old[] = {0x91, 'h', 'v', 'c', '1', 0, 0, 0, 0x26, 1};
    uint8_t key[] = {0x91, 'h', 'v', 'c', '1', 0, 0, 66, 0x26, 1, 0xaf};
    uint8_t p1[] = {0xa1, 'h', 'v', 'c', '1', 0, 0, 33, 0x02, 1, 0xd0, 0};
    uint8_t p2[] = {0xa3, 'h', 'v', 'c', '1', 0x02, 1, 0xd1};
    assert_int_equal(tu_rtmp_send(&c, 6, 9, 1, 0, seq, sizeof(seq)), 0);
    assert_int_equal(tu_rtmp_send(&c, 6, 9, 1, 0, old, sizeof(old)), 0);
    assert_int_equal(tu_rtmp_send(&c, 6, 9, 1, 1000, key, sizeof(key)), 0);
    assert_int_equal(tu_rtmp_send(&c, 6, 9, 1, 1033, p1, sizeof(p1)), 0);
    assert_int_equal(tu_rtmp_send(&c, 6, 9, 1, 1066, p2, sizeof(p2)), 0);
    usleep(300 * 1000);
    static tu_sub_t sub;
    tu_sub_start(&sub, ingest_server_media_endpoint(s.srv), "ehevc", "ehevc",
                 1 << 20);
    usleep(500 * 1000);
    tu_sub_stop(&sub);
    assert_true(atomic_load(&sub.accepted));
    assert_int_equal(sub.codec[0], PRISM__CODEC__CODEC_HEVC);
    assert_int_equal(sub.xlen[0], 7);
    assert_int_equal(sub.x0[0], 1);
    assert_int_equal(sub.npkts[0], 3); /* from the last key frame on */
    assert_true(sub.pkts[0][0].key);
    assert_int_equal(sub.pkts[0][0].dts, 1000);
    assert_int_equal(sub.pkts[0][0].pts, 1066);
    assert_int_equal(sub.pkts[0][0].size, 3);
    assert_int_equal(sub.pkts[0][1].pts, 1066);
    assert_int_equal(sub.pkts[0][2].dts, 1066);
    assert_int_equal(sub.pkts[0][2].pts, 1066); /* CodedFramesX: no offset */
    assert_int_equal(sub.pkts[0][2].size, 3);
    tu_rtmp_close(&c);
    srv_stop(&s);
}

int main(void)
{
    log_set_level(LOG_LEVEL_WARN);
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_mode_publish),
        cmocka_unit_test(test_enhanced_rtmp_hevc_gop_cache),
        cmocka_unit_test(test_admission_timeout),
        cmocka_unit_test(test_bad_keys_rate_limited),
        cmocka_unit_test(test_rtmp_publish_bad_key_and_hostile),
        cmocka_unit_test(test_srt_publish_and_bad_key),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc != 0)
        _exit(1); /* a failed test leaves sockets open: zctx_term would hang */
    zctx_term();
    pktbuf_pool_drain();
    return rc;
}
