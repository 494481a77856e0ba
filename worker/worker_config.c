/* The option table of `prism-worker run`: one file, flags, help. */
#include "worker_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host_load.h"
#include "origin.h"

#define S(f) offsetof(worker_config_t, f), sizeof(((worker_config_t *)0)->f)
#define N(f) offsetof(worker_config_t, f), 0
static const config_option_t options[] = {
    {"worker_id", 0, CONFIG_STRING, NULL, 0, 0, S(worker_id),
     "Worker id: the name of its key file (default: the host name)"},
    {"host", 0, CONFIG_STRING, NULL, 0, 0, S(host),
     "Host name or address shown to operators (default: the host name)"},
    {"coordinators", 0, CONFIG_STRING, "tcp://127.0.0.1:5550", 0, 0,
     S(coordinators),
     "Coordinator control endpoints, comma-separated (leader and standby)"},
    {"coordinator_key", 0, CONFIG_STRING, NULL, 0, 0, S(coordinator_key),
     "The coordinator's public key file (NAME.pub); empty = no CURVE"},
    {"key_file", 0, CONFIG_STRING, NULL, 0, 0, S(key_file),
     "This worker's secret key file (NAME.key, mode 0600)"},
    {"output_url", 0, CONFIG_STRING, NULL, 0, 0, S(output_url),
     "HLS output base (directory or http:// origin); empty = the "
     "coordinator's"},
    {"budgets_file", 0, CONFIG_STRING, NULL, 0, 0, S(budgets_file),
     "Device budgets written by `prism-worker calibrate`; empty = config"},
    {"backend", 0, CONFIG_STRING, "auto", 0, 0, S(backend),
     "Devices offered: auto (all found), software, nvenc, vaapi or "
     "hybrid (the CPU, decoding on a GPU without NVENC)"},
    {"preset", 0, CONFIG_STRING, "veryfast", 0, 0, S(preset),
     "x264 preset for software renditions"},
    {"max_streams", 0, CONFIG_INT, "64", 1, 4096, N(max_streams),
     "Transcode sessions at once; more Assigns are refused"},
    {"cpu_max_sessions", 0, CONFIG_INT, "0", 0, 4096, N(cpu_max_sessions),
     "Encoder sessions offered on the CPU; 0 = no limit"},
    {"cpu_encode_budget", 0, CONFIG_INT, "0", 0, 1e13, N(cpu_encode_budget),
     "CPU encode budget in luma pixels/s; 0 = calibrated or 12M per core"},
    {"cpu_decode_budget", 0, CONFIG_INT, "0", 0, 1e13, N(cpu_decode_budget),
     "CPU decode budget in luma pixels/s; 0 = calibrated or 60M per core"},
    {"gpu_max_sessions", 0, CONFIG_INT, "0", 0, 4096, N(gpu_max_sessions),
     "Encoder sessions per GPU at most; 0 = the count the probe found "
     "the GPU takes (no limit when it took all it tried)"},
    {"gpu_encode_budget", 0, CONFIG_INT, "500000000", 0, 1e13,
     N(gpu_encode_budget),
     "GPU encode budget in luma pixels/s unless calibrated"},
    {"gpu_decode_budget", 0, CONFIG_INT, "1000000000", 0, 1e13,
     N(gpu_decode_budget),
     "GPU decode budget in luma pixels/s unless calibrated"},
    {"max_host_sessions", 0, CONFIG_INT, "0", 0, 4096, N(max_host_sessions),
     "Encoder sessions over all devices (GeForce: 8); 0 = no limit"},
    {"report_ms", 0, CONFIG_INT, "1000", 50, 60000, N(report_ms),
     "Load report interval until the coordinator sets one"},
    {"register_retry_ms", 0, CONFIG_INT, "1000", 50, 60000,
     N(register_retry_ms), "Register again after this long unanswered"},
    {"coordinator_lost_ms", 0, CONFIG_INT, "5000", 100, 600000,
     N(coordinator_lost_ms),
     "No message from the coordinator this long: register again"},
    {"list_size", 0, CONFIG_INT, "6", 2, 1000, N(list_size),
     "Segments in each live playlist"},
    {"thumbnail", 0, CONFIG_DOUBLE, "4", 0, 3600, N(thumbnail),
     "Seconds between JPEG thumbnails; 0 = none"},
    {"audio_kbps", 0, CONFIG_INT, "128", 16, 512, N(audio_kbps),
     "AAC bitrate when audio is re-encoded"},
    {"credit_bytes", 0, CONFIG_INT, "8388608", 65536, 1073741824,
     N(credit_bytes), "Media credit kept granted at the ingest per stream"},
    {"subscribe_timeout_ms", 0, CONFIG_INT, "5000", 100, 600000,
     N(subscribe_timeout_ms), "Give up subscribing at the ingest after this"},
    {"source_idle_ms", 0, CONFIG_INT, "15000", 500, 3600000, N(source_idle_ms),
     "No media for this long ends a session"},
    {"publisher_wait_ms", 0, CONFIG_INT, "15000", 0, 3600000,
     N(publisher_wait_ms),
     "When a stream's input ends (its publisher left), its last segments "
     "go out at once but its playlists stay open this long for the "
     "coordinator's word: a reconnect continues them, the stream's end "
     "ends them (EXT-X-ENDLIST); keep it above the coordinator's "
     "reconnect_grace_ms"},
    {"queue_packets", 0, CONFIG_INT, "2048", 16, 1000000, N(queue_packets),
     "Bound of each session's input packet queue"},
    {"origin_timeout_ms", 0, CONFIG_INT, "5000", 100, 600000,
     N(origin_timeout_ms),
     "One request to an HTTP origin (connect to answer) before it fails"},
    {"origin_token", 0, CONFIG_STRING, NULL, 0, 0, S(origin_token),
     "Bearer token sent to the HTTP origin with every request "
     "(Authorization header); empty = none"},
    {"origin_ca_file", 0, CONFIG_STRING, NULL, 0, 0, S(origin_ca_file),
     "https origin: the CA certificates (PEM) its certificate must chain "
     "to; empty = the system's store"},
    {"origin_tls_verify", 0, CONFIG_BOOL, "true", 0, 0, N(origin_tls_verify),
     "https origin: check its certificate and host name (off sends the "
     "token to whoever answers)"},
    {"origin_queue_files", 0, CONFIG_INT, "64", 4, 100000,
     N(origin_queue_files),
     "Files waiting to be uploaded per session; when full, the oldest "
     "segment is dropped (counted), never a playlist"},
    {"origin_queue_mb", 0, CONFIG_INT, "64", 1, 65536, N(origin_queue_mb),
     "Bytes of those files, MiB"},
    {"nvml", 0, CONFIG_BOOL, "true", 0, 0, N(nvml),
     "Report NVENC/NVDEC utilisation through NVML when present"},
    {"cpu_measure", 0, CONFIG_STRING, "auto", 0, 0, S(cpu_measure),
     "The CPU device's measured use: auto (the cgroup's usage over its CPU "
     "limit where one is set, else the host's /proc/stat), process (the "
     "worker process alone: several workers on one host without cgroups), "
     "off (not measured)"},
    {"log_level", 0, CONFIG_STRING, "info", 0, 0, S(log_level),
     "Log level: debug, info, warn or error"},
};
#undef S
#undef N

const config_option_t *worker_config_table(size_t *n)
{
    *n = sizeof(options) / sizeof(options[0]);
    return options;
}

int worker_config_parse(worker_config_t *cfg, int argc, char **argv, char *err,
                        size_t errlen)
{
    config_args_t args = {0};
    size_t n;
    const config_option_t *t = worker_config_table(&n);
    memset(cfg, 0, sizeof(*cfg));
    int ret = config_parse(t, n, cfg, "prism-worker run --config FILE", argc,
                           argv, &args, err, errlen);
    if (ret < 0)
        return ret;
    bool help = args.help;
    int npos = args.npositional;
    config_args_free(&args);
    if (help)
        return 1;
    if (npos > 0) {
        snprintf(err, errlen, "unexpected argument");
        return -EINVAL;
    }
    if (host_load_mode_parse(cfg->cpu_measure, NULL) < 0) {
        snprintf(err, errlen, "cpu_measure must be auto, process or off");
        return -EINVAL;
    }
    char hn[256] = "";
    if (gethostname(hn, sizeof(hn) - 1) < 0)
        snprintf(hn, sizeof(hn), "worker");
    if (!cfg->worker_id[0])
        snprintf(cfg->worker_id, sizeof(cfg->worker_id), "%s", hn);
    if (!cfg->host[0])
        snprintf(cfg->host, sizeof(cfg->host), "%s", hn);
    return 0;
}
