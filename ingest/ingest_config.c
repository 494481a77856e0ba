/* prism-ingest's option table: names, bounds, defaults and help. */
#include "ingest_config.h"

#define S(f) offsetof(ingest_config_t, f), sizeof(((ingest_config_t *)0)->f)
#define I(f) offsetof(ingest_config_t, f), 0

const config_option_t ingest_config_options[] = {
    {"ingest_id", 0, CONFIG_STRING, "ingest-1", 0, 0, S(ingest_id),
     "This node's id, sent to the coordinator and workers"},
    {"rtmp_listen", 0, CONFIG_STRING, "0.0.0.0:1935", 0, 0, S(rtmp_listen),
     "RTMP listen address HOST:PORT (port 0 picks one)"},
    {"srt_listen", 0, CONFIG_STRING, "0.0.0.0:9000", 0, 0, S(srt_listen),
     "SRT listen address HOST:PORT; empty disables SRT"},
    {"media_bind", 0, CONFIG_STRING, "tcp://0.0.0.0:5560", 0, 0, S(media_bind),
     "ZeroMQ endpoint of the media ROUTER workers subscribe at"},
    {"media_endpoint", 0, CONFIG_STRING, "", 0, 0, S(media_endpoint),
     "Media endpoint workers are told to subscribe at (Hello); empty: the "
     "bound one, with 0.0.0.0 replaced by this host's name"},
    {"coordinator", 0, CONFIG_STRING, "", 0, 0, S(coordinator),
     "Coordinator control endpoints, comma-separated (a leader and its "
     "standbys); empty: open mode, every key admitted with stream id = key "
     "and subscribe token = key"},
    {"key_file", 0, CONFIG_STRING, "", 0, 0, S(key_file),
     "This node's CURVE secret key file; empty disables CURVE"},
    {"coordinator_key", 0, CONFIG_STRING, "", 0, 0, S(coordinator_key),
     "The coordinator's CURVE public key file"},
    {"allow_dir", 0, CONFIG_STRING, "", 0, 0, S(allow_dir),
     "Directory of worker .pub keys allowed on the media ROUTER"},
    {"allow_reload_ms", 0, CONFIG_INT, "5000", 0, 3600000, I(allow_reload_ms),
     "Re-read allow_dir this often when it changed, so a new worker's key "
     "applies without a restart; 0 = read it at start only"},
    {"log_level", 0, CONFIG_STRING, "info", 0, 0, S(log_level),
     "Lowest log level written: debug, info, warn, error"},
    {"max_connections", 0, CONFIG_INT, "2000", 1, 100000, I(max_connections),
     "RTMP connections open at once"},
    {"max_conns_per_addr", 0, CONFIG_INT, "300", 1, 100000,
     I(max_conns_per_addr), "RTMP connections per source address"},
    {"max_chunk_size", 0, CONFIG_INT, "65536", 128, 16777215, I(max_chunk_size),
     "Largest RTMP chunk size a client may set"},
    {"max_message", 0, CONFIG_INT, "8388608", 1024, 16777215, I(max_message),
     "Largest RTMP message in bytes"},
    {"max_amf_depth", 0, CONFIG_INT, "8", 1, 64, I(max_amf_depth),
     "Deepest AMF0 nesting accepted"},
    {"max_streams_per_conn", 0, CONFIG_INT, "4", 1, 64, I(max_streams_per_conn),
     "createStream calls per RTMP connection"},
    {"handshake_timeout_ms", 0, CONFIG_INT, "5000", 100, 600000,
     I(handshake_timeout_ms), "Time allowed from accept to a publish"},
    {"idle_timeout_ms", 0, CONFIG_INT, "15000", 100, 600000, I(idle_timeout_ms),
     "A connection silent this long is closed"},
    {"admit_timeout_ms", 0, CONFIG_INT, "5000", 100, 60000, I(admit_timeout_ms),
     "How long a publish waits for the coordinator"},
    {"bad_key_limit", 0, CONFIG_INT, "5", 1, 1000000, I(bad_key_limit),
     "Refused keys per address per window before publishes are refused"},
    {"bad_key_window_ms", 0, CONFIG_INT, "60000", 1000, 86400000,
     I(bad_key_window_ms), "Window of the refused-key rate limit"},
    {"stats_interval_ms", 0, CONFIG_INT, "5000", 100, 600000,
     I(stats_interval_ms), "Per-stream stats to the coordinator every"},
    {"heartbeat_ms", 0, CONFIG_INT, "1000", 100, 60000, I(heartbeat_ms),
     "Heartbeat to the coordinator every"},
    {"gop_max_packets", 0, CONFIG_INT, "4096", 16, 1000000, I(gop_max_packets),
     "GOP cache bound in packets per stream"},
    {"gop_max_bytes", 0, CONFIG_INT, "33554432", 65536, 1073741824,
     I(gop_max_bytes), "GOP cache bound in bytes per stream"},
    {"gop_history_ms", 0, CONFIG_INT, "6000", 0, 60000, I(gop_history_ms),
     "Earlier key frames the GOP cache keeps, for workers taking over"},
    {"max_subscribers", 0, CONFIG_INT, "8", 1, 1024, I(max_subscribers),
     "Worker subscriptions per stream"},
    {"max_streams", 0, CONFIG_INT, "2000", 1, 100000, I(max_streams),
     "Live streams at once"},
    {"srt_latency_ms", 0, CONFIG_INT, "120", 20, 8000, I(srt_latency_ms),
     "SRT receiver latency"},
    {"srt_queue_packets", 0, CONFIG_INT, "8192", 64, 1000000,
     I(srt_queue_packets),
     "Packets queued from SRT threads to the event loop (drops beyond)"},
    {"srt_admit_wait_ms", 0, CONFIG_INT, "200", 0, 1000, I(srt_admit_wait_ms),
     "Longest wait for an SRT admission inside libsrt's listen callback, "
     "which freezes every SRT publisher of the port meanwhile; a later "
     "answer is applied after the accept (a refusal then closes instead "
     "of giving an SRT rejection code)"},
    {"lav_log_burst", 0, CONFIG_INT, "20", 1, 100000, I(lav_log_burst),
     "Lines FFmpeg's libraries (the SRT demuxer) may log per "
     "lav_log_window_ms; more are dropped and counted (hostile streams)"},
    {"lav_log_window_ms", 0, CONFIG_INT, "10000", 100, 3600000,
     I(lav_log_window_ms), "Window of lav_log_burst"},
};

const size_t ingest_config_noptions =
    sizeof(ingest_config_options) / sizeof(ingest_config_options[0]);

int ingest_config_defaults(ingest_config_t *cfg)
{
    return config_defaults(ingest_config_options, ingest_config_noptions, cfg,
                           NULL, 0);
}
