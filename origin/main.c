/* prism-origin: an HTTP origin for Low-Latency HLS (docs/origin.md). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "origin_config.h"
#include "origin_http.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    origin_config_t cfg;
    config_args_t args;
    char err[512];
    int rc = config_parse(origin_config_options, origin_config_noptions, &cfg,
                          "prism-origin [--config FILE] [options]", argc, argv,
                          &args, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "prism-origin: %s\n", err);
        return 2;
    }
    bool help = args.help;
    config_args_free(&args);
    if (help)
        return 0;
    if (daemon_log_level("prism-origin", cfg.log_level) < 0)
        return 2;
    if (origin_config_load_token(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "prism-origin: %s\n", err);
        return 2;
    }
    daemon_signals(on_signal, NULL);
    origin_http_t *h = origin_http_start(&cfg);
    if (!h)
        return 1;
    /* The HTTP threads do the work; this one waits for a stop signal. */
    while (!stop) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    log_info("origin", "Stopping.", NULL);
    origin_http_stop(&h);
    return 0;
}
