/* prism-worker: subcommands probe, transcode, run and calibrate. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "agent.h"
#include "calibrate.h"
#include "config.h"
#include "daemon.h"
#include "http_client.h"
#include "ladder.h"
#include "log.h"
#include "origin.h"
#include "probe.h"
#include "transcode.h"
#include "worker_config.h"

typedef struct {
    char input[1024];
    char output[1024];
    char ladder[1024];
    char backend[16];
    char device[256];
    double segment;
    double part;
    char format[8];
    bool vod;
    bool realtime;
    char preset[32];
    int64_t bframes;
    double thumbnail;
    int64_t audio_kbps;
    char origin_token[512];
    char origin_ca_file[512];
    bool origin_tls_verify;
    char log_level[16];
    bool progress;
} transcode_cfg_t;

#define F(field) offsetof(transcode_cfg_t, field)
#define S(field) sizeof(((transcode_cfg_t *)0)->field)
static const config_option_t transcode_options[] = {
    {"input", 'i', CONFIG_STRING, NULL, 0, 0, F(input), S(input),
     "Input file or URL (file, rtmp://, srt://, http://)"},
    {"output", 'o', CONFIG_STRING, NULL, 0, 0, F(output), S(output),
     "Output directory, or http(s):// origin URL for HTTP PUT"},
    {"ladder", 0, CONFIG_STRING, "default", 0, 0, F(ladder), S(ladder),
     "Ladder profile: default, or a JSON profile file"},
    {"backend", 0, CONFIG_STRING, "auto", 0, 0, F(backend), S(backend),
     "Encoder backend: auto, software, nvenc, vaapi or hybrid"},
    {"device", 0, CONFIG_STRING, NULL, 0, 0, F(device), S(device),
     "VAAPI render node or CUDA device index (default: the first)"},
    {"segment", 0, CONFIG_DOUBLE, "2", 0.5, 60, F(segment), 0,
     "Segment duration and keyframe interval in seconds"},
    {"format", 0, CONFIG_STRING, "ts", 0, 0, F(format), S(format),
     "Segment format: ts, fmp4, or llhls (Low-Latency HLS: fMP4 parts)"},
    {"part", 0, CONFIG_DOUBLE, "0.334", 0.1, 2, F(part), 0,
     "Low-Latency HLS part target in seconds (--format llhls)"},
    {"vod", 0, CONFIG_BOOL, "false", 0, 0, F(vod), 0,
     "Write VOD playlists (whole file) instead of a live window"},
    {"realtime", 0, CONFIG_BOOL, "false", 0, 0, F(realtime), 0,
     "Read the input at its own pace, as a live feed"},
    {"preset", 0, CONFIG_STRING, "veryfast", 0, 0, F(preset), S(preset),
     "x264/x265 preset for software renditions"},
    {"bframes", 0, CONFIG_INT, "-1", -1, 16, F(bframes), 0,
     "B-frames; -1 = mode default (live 0, VOD 3)"},
    {"thumbnail", 0, CONFIG_DOUBLE, "4", 0, 3600, F(thumbnail), 0,
     "Seconds between JPEG thumbnails (OUT/thumb.jpg); 0 = none"},
    {"audio_kbps", 0, CONFIG_INT, "128", 16, 512, F(audio_kbps), 0,
     "AAC bitrate when audio is re-encoded"},
    {"origin_token", 0, CONFIG_STRING, NULL, 0, 0, F(origin_token),
     S(origin_token),
     "Bearer token sent to an http(s):// output (Authorization header)"},
    {"origin_ca_file", 0, CONFIG_STRING, NULL, 0, 0, F(origin_ca_file),
     S(origin_ca_file),
     "https:// output: the CA certificates (PEM) its certificate must "
     "chain to; empty = the system's store"},
    {"origin_tls_verify", 0, CONFIG_BOOL, "true", 0, 0, F(origin_tls_verify), 0,
     "https:// output: check its certificate and host name"},
    {"log_level", 0, CONFIG_STRING, "info", 0, 0, F(log_level), S(log_level),
     "Log level: debug, info, warn or error"},
    {"progress", 0, CONFIG_BOOL, "true", 0, 0, F(progress), 0,
     "Show a progress line when stderr is a terminal"},
};
#undef F
#undef S

static transcode_session_t *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        transcode_session_stop(running);
}

static int load_profile(const char *name, ladder_profile_t *p)
{
    char err[256];
    if (!strcmp(name, "default")) {
        if (ladder_profile_default(p) < 0) {
            log_error("worker", "The built-in ladder profile is broken.", NULL);
            return -EINVAL;
        }
        return 0;
    }
    int ret = ladder_profile_load(name, p, err, sizeof(err));
    if (ret < 0)
        log_error("worker", "Cannot load the ladder profile.",
                  "path=\"%s\" err=\"%s\"", name, err);
    return ret;
}

static int cmd_transcode(int argc, char **argv)
{
    transcode_cfg_t cfg;
    config_args_t args = {0};
    char err[512];
    const char *usage =
        "usage: prism-worker transcode -i INPUT -o OUT [--ladder default|FILE] "
        "[--backend auto|software|nvenc|vaapi|hybrid] [--segment SECONDS] "
        "[--format ts|fmp4|llhls] [--part S] [--vod]";
    int ret =
        config_parse(transcode_options,
                     sizeof(transcode_options) / sizeof(transcode_options[0]),
                     &cfg, usage, argc, argv, &args, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "prism-worker transcode: %s\n%s\n", err, usage);
        return 2;
    }
    bool help = args.help;
    config_args_free(&args);
    if (help)
        return 0;
    if (!cfg.input[0] || !cfg.output[0]) {
        fprintf(stderr, "prism-worker transcode: -i and -o are required\n%s\n",
                usage);
        return 2;
    }
    if (daemon_log_level("prism-worker transcode", cfg.log_level) < 0)
        return 2;
    log_level_t level = log_get_level();
    av_log_set_level(level == LOG_LEVEL_DEBUG ? AV_LOG_INFO : AV_LOG_QUIET);
    /* SVT-AV1 logs to stderr itself; errors only unless debugging. */
    setenv("SVT_LOG", level == LOG_LEVEL_DEBUG ? "3" : "1", 0);

    transcode_opts_t o;
    transcode_opts_default(&o);
    o.origin.access = (origin_access_t){cfg.origin_token, cfg.origin_ca_file,
                                        !cfg.origin_tls_verify};
    if (hwplan_backend_parse(cfg.backend, &o.backend) < 0) {
        fprintf(stderr, "prism-worker transcode: unknown backend '%s'\n",
                cfg.backend);
        return 2;
    }
    if (strcmp(cfg.format, "ts") && strcmp(cfg.format, "fmp4") &&
        strcmp(cfg.format, "llhls")) {
        fprintf(stderr,
                "prism-worker transcode: format must be ts, fmp4 or llhls\n");
        return 2;
    }
    ladder_profile_t profile;
    if (load_profile(cfg.ladder, &profile) < 0)
        return 1;

    probe_t *probe = NULL;
    hwplan_devices_t devs = {0};
    if (o.backend != HWPLAN_SOFTWARE) {
        static probe_t p;
        probe_run(&p);
        probe = &p;
        probe_devices(probe, &devs);
        if (!o.backend && !cfg.device[0] && devs.vaapi_node && !devs.nvenc_h264)
            snprintf(cfg.device, sizeof(cfg.device), "%s", devs.vaapi_device);
    }
    snprintf(o.output, sizeof(o.output), "%s", cfg.output);
    snprintf(o.device, sizeof(o.device), "%s", cfg.device);
    o.devices = &devs;
    o.segment_s = cfg.segment;
    o.fmp4 = strcmp(cfg.format, "ts") != 0;
    o.part_s = !strcmp(cfg.format, "llhls") ? cfg.part : 0;
    if (o.part_s * 2 > o.segment_s) {
        fprintf(stderr, "prism-worker transcode: --part must be at most half "
                        "of --segment\n");
        return 2;
    }
    o.vod = cfg.vod;
    o.preset = cfg.preset;
    o.bframes = (int)cfg.bframes;
    o.thumbnail_s = cfg.thumbnail;
    o.audio_kbps = (int)cfg.audio_kbps;
    o.progress = cfg.progress && isatty(2);

    packet_source_t *src = packet_source_open_url(cfg.input, cfg.realtime);
    if (!src)
        return 1;
    transcode_session_t *s = transcode_session_new(src, &profile, &o);
    if (!s)
        return 1;
    running = s;
    daemon_signals(on_signal, NULL);
    ret = transcode_session_run(s);
    running = NULL;
    transcode_session_free(&s);
    return ret < 0 ? 1 : 0;
}

static int cmd_probe(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: prism-worker probe [--json]\n"
                   "Lists CUDA devices (NVDEC, NVENC by opening a session), "
                   "VAAPI render nodes and the CPU.\n");
            return 0;
        } else {
            fprintf(stderr, "prism-worker probe: unknown option '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    av_log_set_level(AV_LOG_QUIET);
    static probe_t p;
    probe_run(&p);
    probe_print(&p, json, stdout);
    return 0;
}

static agent_t *g_agent;
static volatile sig_atomic_t stop_early;

static void on_run_signal(int sig)
{
    (void)sig;
    stop_early = 1;
    if (g_agent)
        agent_stop(g_agent);
}

/* `prism-worker run`: the agent until SIGTERM or SIGINT. */
static int cmd_run(int argc, char **argv)
{
    worker_config_t cfg;
    char err[512];
    int ret = worker_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "prism-worker run: %s\n", err);
        return 2;
    }
    if (ret == 1)
        return 0;
    if (daemon_log_level("prism-worker run", cfg.log_level) < 0)
        return 2;
    bool debug = log_get_level() == LOG_LEVEL_DEBUG;
    av_log_set_level(debug ? AV_LOG_INFO : AV_LOG_QUIET);
    setenv("SVT_LOG", debug ? "3" : "1", 0);
    daemon_signals(on_run_signal, NULL);
    agent_t *a = agent_new(&cfg, NULL);
    if (!a)
        return 1;
    g_agent = a;
    if (stop_early) /* a stop that came while starting */
        agent_stop(a);
    ret = agent_run(a);
    g_agent = NULL;
    agent_free(&a);
    log_info("agent", "Worker stopped.", NULL);
    return ret < 0 ? 1 : 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"probe", cmd_probe, "list devices and encoders"},
    {"transcode", cmd_transcode, "transcode a file or URL to an HLS ladder"},
    {"run", cmd_run, "join a farm: take streams from the coordinator"},
    {"calibrate", calibrate_cmd, "measure device budgets for `run`"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: prism-worker COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'prism-worker COMMAND --help' describes each.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* libcurl's global state, before any thread (the origin uploads). */
    if (http_client_global_init() < 0)
        return 1;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "prism-worker: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
