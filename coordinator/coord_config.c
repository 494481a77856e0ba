/* The coordinator's options: one table for the config file, flags and help. */
#include "coord_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S(f) offsetof(coord_config_t, f), sizeof(((coord_config_t *)0)->f)
#define N(f) offsetof(coord_config_t, f), 0

const config_option_t coord_config_options[] = {
    {"id", 0, CONFIG_STRING, "coordinator", 0, 0, S(id),
     "Name of this coordinator in logs, events and replies"},
    {"control_bind", 0, CONFIG_STRING, "tcp://0.0.0.0:5550", 0, 0,
     S(control_bind), "Control ROUTER endpoint workers and ingests connect to"},
    {"key_file", 0, CONFIG_STRING, "/etc/prism/keys/coordinator.key", 0, 0,
     S(key_file), "This coordinator's CURVE secret key file (prism-keygen)"},
    {"allow_dir", 0, CONFIG_STRING, "/etc/prism/allow", 0, 0, S(allow_dir),
     "Directory of NAME.pub files of the nodes allowed to connect"},
    {"zap_domain", 0, CONFIG_STRING, "prism", 0, 0, S(zap_domain),
     "ZAP domain of the control socket"},
    {"allow_reload_ms", 0, CONFIG_INT, "5000", 0, 3600000, N(allow_reload_ms),
     "Re-read allow_dir this often so added or removed keys apply without a "
     "restart (SIGHUP also does), ms; 0 = only on SIGHUP"},
    {"http_bind", 0, CONFIG_STRING, "127.0.0.1", 0, 0, S(http_bind),
     "Address the HTTP API listens on: IPv4, IPv6 (\"::\" also takes "
     "IPv4 clients) or a host name"},
    {"http_port", 0, CONFIG_INT, "8080", 0, 65535, N(http_port),
     "HTTP API port; 0 turns the API off"},
    {"api_token", 0, CONFIG_STRING, "", 0, 0, S(api_token),
     "Bearer token mutating API calls need; empty refuses them all"},
    {"api_read_token", 0, CONFIG_STRING, "", 0, 0, S(api_read_token),
     "Read-only bearer token: with it set, GET /api/... needs it or "
     "api_token (the console's viewers); empty: GETs are open"},
    {"pg_url", 0, CONFIG_STRING, "postgresql:///prism", 0, 0, S(pg_url),
     "PostgreSQL connection string"},
    {"report_ms", 0, CONFIG_INT, "1000", 50, 60000, N(report_ms),
     "Load report interval the workers are told to use, ms"},
    {"missed_reports", 0, CONFIG_INT, "3", 1, 100, N(missed_reports),
     "Reports a worker may miss before it is declared dead"},
    {"hung_ms", 0, CONFIG_INT, "10000", 100, 600000, N(hung_ms),
     "A session whose output stalls this long while input flows is hung, ms"},
    {"slow_reports", 0, CONFIG_INT, "5", 1, 1000, N(slow_reports),
     "Consecutive reports under slow_speed that make a worker overloaded"},
    {"slow_speed", 0, CONFIG_DOUBLE, "0.98", 0.1, 10, N(slow_speed),
     "Session speed (output time / wall time, over 10 s) under which it is "
     "slow"},
    {"load_tau_ms", 0, CONFIG_INT, "5000", 0, 600000, N(load_tau_ms),
     "Time constant of the smoothing (EWMA) of each device's measured use, "
     "ms; 0 = the last report alone"},
    {"slow_move_ms", 0, CONFIG_INT, "15000", 1000, 3600000, N(slow_move_ms),
     "A session under slow_speed this long is moved (the whole stream) to "
     "a worker with room; a worker gives up one such stream per interval, ms"},
    {"slow_cooldown_ms", 0, CONFIG_INT, "120000", 0, 86400000,
     N(slow_cooldown_ms),
     "A stream moved for being slow is not moved for it again within, ms"},
    {"slow_avoid_ms", 0, CONFIG_INT, "600000", 0, 86400000, N(slow_avoid_ms),
     "A stream moved for being slow is not placed back on the worker it "
     "left within, ms"},
    {"heartbeat_ms", 0, CONFIG_INT, "1000", 50, 60000, N(heartbeat_ms),
     "Interval of the coordinator's heartbeat to every node, ms"},
    {"node_timeout_ms", 0, CONFIG_INT, "10000", 100, 600000, N(node_timeout_ms),
     "An ingest silent this long is lost and its streams end, ms"},
    {"policy", 0, CONFIG_STRING, "least-loaded", 0, 0, S(policy),
     "Placement policy: least-loaded (spread) or best-fit (pack)"},
    {"headroom", 0, CONFIG_DOUBLE, "0.15", 0, 0.9, N(headroom),
     "Fraction of every device budget kept free"},
    {"partial_ladders", 0, CONFIG_BOOL, "true", 0, 0, N(partial_ladders),
     "Place the renditions that fit when the whole ladder fits nowhere"},
    {"ack_timeout_ms", 0, CONFIG_INT, "2000", 50, 60000, N(ack_timeout_ms),
     "An Assign not acknowledged within this is re-sent, ms"},
    {"assign_retries", 0, CONFIG_INT, "2", 0, 100, N(assign_retries),
     "Re-sends of an Assign before the stream is placed elsewhere"},
    {"pending_retry_ms", 0, CONFIG_INT, "1000", 50, 60000, N(pending_retry_ms),
     "How often streams waiting for capacity are retried"},
    {"release_pending_max", 0, CONFIG_INT, "10000", 1, 10000000,
     N(release_pending_max),
     "Releases kept until their worker acknowledges them; more are sent "
     "once, untracked, and counted"},
    {"release_retry_max_ms", 0, CONFIG_INT, "30000", 50, 600000,
     N(release_retry_max_ms),
     "Longest wait between re-sends of an unacknowledged Release (the "
     "first waits ack_timeout_ms, then it doubles), ms"},
    {"upgrade_per_s", 0, CONFIG_INT, "2", 0, 1000, N(upgrade_per_s),
     "Most moves per second that give a partial ladder the whole one when "
     "capacity frees; 0 turns upgrades off"},
    {"upgrade_cooldown_ms", 0, CONFIG_INT, "60000", 0, 86400000,
     N(upgrade_cooldown_ms),
     "A stream upgraded to its whole ladder is not upgraded again within "
     "this, ms"},
    {"fail_backoff_min_ms", 0, CONFIG_INT, "500", 10, 600000,
     N(fail_backoff_min_ms),
     "A stream whose session failed waits this long before it is placed "
     "again; each further failure doubles the wait, ms"},
    {"fail_backoff_max_ms", 0, CONFIG_INT, "30000", 10, 3600000,
     N(fail_backoff_max_ms),
     "Longest wait between placements of a stream "
     "whose sessions keep failing, ms"},
    {"fail_reset_ms", 0, CONFIG_INT, "60000", 100, 86400000, N(fail_reset_ms),
     "A stream that runs this long without a failure starts the backoff "
     "afresh, forgets its failures and leaves the failed state, ms"},
    {"fail_limit", 0, CONFIG_INT, "5", 1, 32, N(fail_limit),
     "Session failures within fail_window_ms that mark a stream failed"},
    {"fail_window_ms", 0, CONFIG_INT, "120000", 100, 86400000,
     N(fail_window_ms), "The window fail_limit counts failures in, ms"},
    {"fail_retry_ms", 0, CONFIG_INT, "30000", 100, 3600000, N(fail_retry_ms),
     "A failed stream is placed again this often while its publisher is "
     "still there, ms"},
    {"reconnect_grace_ms", 0, CONFIG_INT, "10000", 0, 600000,
     N(reconnect_grace_ms),
     "When a publisher leaves, how long its stream (worker, playlists) "
     "waits for it to come back with the same key before it ends; 0 "
     "ends it at once, ms"},
    {"publisher_silence_ms", 0, CONFIG_INT, "12000", 1000, 600000,
     N(publisher_silence_ms),
     "A publish with the key of a live stream is refused while the "
     "stream's publisher still sends; once the ingest has reported no new "
     "bytes for this long it takes the stream over. Keep it above the "
     "ingests' stats_interval_ms, ms"},
    {"reconcile_grace_ms", 0, CONFIG_INT, "5000", 0, 600000,
     N(reconcile_grace_ms),
     "After a start, how long streams from the database wait for their "
     "worker to report them before they are placed again, ms"},
    {"max_workers", 0, CONFIG_INT, "20000", 1, 1000000, N(max_workers),
     "Most workers in the registry"},
    {"max_streams", 0, CONFIG_INT, "200000", 1, 10000000, N(max_streams),
     "Most streams at once; publishes beyond are refused"},
    {"db_queue_max", 0, CONFIG_INT, "10000", 1, 10000000, N(db_queue_max),
     "PostgreSQL writes queued while the database is slow or away; more "
     "are dropped and counted"},
    {"channel_cache", 0, CONFIG_INT, "10000", 0, 10000000, N(channel_cache),
     "Channels kept as last read, so that they can go live while the "
     "database is away (0: refuse every publish then)"},
    {"channel_cache_ms", 0, CONFIG_INT, "86400000", 0, 31536000000,
     N(channel_cache_ms),
     "A kept channel admits a publish during an outage this long after it "
     "was last read from the database, ms"},
    {"db_backoff_min_ms", 0, CONFIG_INT, "200", 10, 600000,
     N(db_backoff_min_ms), "First PostgreSQL reconnect delay, ms"},
    {"db_backoff_max_ms", 0, CONFIG_INT, "5000", 10, 600000,
     N(db_backoff_max_ms), "Longest PostgreSQL reconnect delay, ms"},
    {"db_connect_timeout_ms", 0, CONFIG_INT, "5000", 100, 600000,
     N(db_connect_timeout_ms),
     "A PostgreSQL connect attempt that has not finished after this is "
     "abandoned and retried, ms"},
    {"ha_lock_key", 0, CONFIG_INT, "7370001", 0, 0, N(ha_lock_key),
     "PostgreSQL advisory lock key the leader holds"},
    {"ha_retry_ms", 0, CONFIG_INT, "500", 50, 60000, N(ha_retry_ms),
     "How often a standby coordinator tries to take the lock, ms"},
    {"bad_key_limit", 0, CONFIG_INT, "5", 1, 1000000, N(bad_key_limit),
     "Bad stream keys one address may try per window before it is refused"},
    {"bad_key_window_ms", 0, CONFIG_INT, "60000", 100, 86400000,
     N(bad_key_window_ms), "Window of the bad key rate limit, ms"},
    {"bad_key_addrs", 0, CONFIG_INT, "4096", 16, 65536, N(bad_key_addrs),
     "Source addresses (an IPv6 /64 counts as one) the bad key limit tracks "
     "at once; while all of them hold bad keys in their window, bad keys "
     "from further addresses are not counted and are logged"},
    {"output_url", 0, CONFIG_STRING, "/var/lib/prism/hls", 0, 0, S(output_url),
     "HLS output directory or origin base URL given to workers"},
    {"segment_ms", 0, CONFIG_INT, "2000", 500, 20000, N(segment_ms),
     "HLS segment target given to workers, ms"},
    {"log_level", 0, CONFIG_STRING, "info", 0, 0, S(log_level),
     "Lowest log level written: debug, info, warn, error"},
    {"playback_url", 0, CONFIG_STRING, "", 0, 0, S(playback_url),
     "Base URL viewers fetch HLS from (the stream.live webhook names "
     "<playback_url>/<channel>/master.m3u8); empty: output_url when it is "
     "http(s)"},
    {"webhook_url", 0, CONFIG_STRING, "", 0, 0, S(webhook_url),
     "Comma-separated URLs (at most 8) the stream events are POSTed to; "
     "empty: no webhooks"},
    {"webhook_secret", 0, CONFIG_STRING, "", 0, 0, S(webhook_secret),
     "HMAC-SHA256 key of the X-Prism-Signature header (16 bytes or more)"},
    {"webhook_events", 0, CONFIG_STRING, "", 0, 0, S(webhook_events),
     "Comma-separated public events delivered (stream.started, stream.live, "
     "stream.moved, stream.partial, stream.upgraded, stream.failed, "
     "stream.ended); empty: all"},
    {"webhook_timeout_ms", 0, CONFIG_INT, "5000", 100, 60000,
     N(webhook_timeout_ms), "A webhook POST unanswered this long is retried"},
    {"webhook_retry_min_ms", 0, CONFIG_INT, "500", 10, 600000,
     N(webhook_retry_min_ms),
     "First wait before a refused webhook is sent again; doubles"},
    {"webhook_retry_max_ms", 0, CONFIG_INT, "30000", 10, 3600000,
     N(webhook_retry_max_ms), "Longest wait between webhook retries"},
    {"webhook_poll_ms", 0, CONFIG_INT, "250", 10, 60000, N(webhook_poll_ms),
     "With nothing to deliver, look for new events this often, ms"},
    {"webhook_lock_key", 0, CONFIG_INT, "7370002", 0, 0, N(webhook_lock_key),
     "Advisory lock class that makes one coordinator deliver each webhook"},
    {"publish_hook_url", 0, CONFIG_STRING, "", 0, 0, S(publish_hook_url),
     "The platform's admission hook: each publish is POSTed here and the "
     "answer allows it (naming the channel) or refuses it; empty: the "
     "channels table decides"},
    {"publish_hook_secret", 0, CONFIG_STRING, "", 0, 0, S(publish_hook_secret),
     "HMAC-SHA256 key of the hook requests' X-Prism-Signature; empty: "
     "unsigned"},
    {"publish_hook_policy", 0, CONFIG_STRING, "refuse", 0, 0,
     S(publish_hook_policy),
     "With the hook down (no answer in time, an error status): refuse, or "
     "channels (the key checked against the channels table)"},
    {"publish_hook_timeout_ms", 0, CONFIG_INT, "2000", 50, 60000,
     N(publish_hook_timeout_ms), "A hook request unanswered this long: down"},
    {"publish_hook_cache_ms", 0, CONFIG_INT, "10000", 0, 3600000,
     N(publish_hook_cache_ms),
     "An allowed or refused key is not asked again for this long (0: always "
     "asked)"},
    {"publish_hook_threads", 0, CONFIG_INT, "4", 1, 16, N(publish_hook_threads),
     "Hook requests in flight at once"},
    {"publish_hook_queue_max", 0, CONFIG_INT, "256", 1, 100000,
     N(publish_hook_queue_max),
     "Publishes waiting for the hook at most; beyond, the policy decides"},
};

webhook_config_t coord_webhook_config(const coord_config_t *cfg)
{
    return (webhook_config_t){cfg->webhook_url,
                              cfg->webhook_secret,
                              cfg->webhook_events,
                              cfg->pg_url,
                              cfg->id,
                              cfg->webhook_lock_key,
                              cfg->webhook_timeout_ms,
                              cfg->webhook_retry_min_ms,
                              cfg->webhook_retry_max_ms,
                              cfg->webhook_poll_ms};
}

publish_hook_config_t coord_publish_hook_config(const coord_config_t *cfg)
{
    return (publish_hook_config_t){
        cfg->publish_hook_url,          cfg->publish_hook_secret,
        cfg->publish_hook_timeout_ms,   cfg->publish_hook_cache_ms,
        (int)cfg->publish_hook_threads, (int)cfg->publish_hook_queue_max};
}

const size_t coord_config_noptions =
    sizeof(coord_config_options) / sizeof(coord_config_options[0]);

static const char usage[] =
    "usage: prism-coordinator [--config FILE] [--OPTION VALUE ...]\n"
    "Places streams on workers, watches them, keeps farm state in "
    "PostgreSQL\nand serves the operator API. Options (file keys are the "
    "names with\nunderscores, flags the names with dashes):";

int coord_config_load(coord_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen)
{
    config_args_t args;
    memset(cfg, 0, sizeof(*cfg));
    memset(&args, 0, sizeof(args));
    int rc = config_parse(coord_config_options, coord_config_noptions, cfg,
                          usage, argc, argv, &args, err, errlen);
    if (rc < 0)
        return rc;
    if (args.help) {
        config_args_free(&args);
        return 1;
    }
    if (args.npositional > 0) {
        snprintf(err, errlen, "unexpected argument '%s'", args.positional[0]);
        config_args_free(&args);
        return -EINVAL;
    }
    config_args_free(&args);
    if (cfg->db_backoff_max_ms < cfg->db_backoff_min_ms) {
        snprintf(err, errlen, "db_backoff_max_ms is below db_backoff_min_ms");
        return -EINVAL;
    }
    if (cfg->webhook_retry_max_ms < cfg->webhook_retry_min_ms) {
        snprintf(err, errlen,
                 "webhook_retry_max_ms is below webhook_retry_min_ms");
        return -EINVAL;
    }
    webhook_config_t wc = coord_webhook_config(cfg);
    if (webhook_config_check(&wc, err, errlen) < 0)
        return -EINVAL;
    publish_hook_config_t pc = coord_publish_hook_config(cfg);
    if (publish_hook_config_check(&pc, err, errlen) < 0)
        return -EINVAL;
    if (strcmp(cfg->publish_hook_policy, "refuse") &&
        strcmp(cfg->publish_hook_policy, "channels")) {
        snprintf(err, errlen, "publish_hook_policy: refuse or channels");
        return -EINVAL;
    }
    if (cfg->fail_backoff_max_ms < cfg->fail_backoff_min_ms) {
        snprintf(err, errlen,
                 "fail_backoff_max_ms is below fail_backoff_min_ms");
        return -EINVAL;
    }
    return 0;
}
