/* prism-ingest: RTMP and SRT publishing, GOP cache, media to workers. */
#include <signal.h>
#include <stdio.h>

#include "daemon.h"
#include "ingest_config.h"
#include "ingest_server.h"
#include "log.h"
#include "pktbuf.h"
#include "zctx.h"

static ingest_server_t *server;
static volatile sig_atomic_t stop_early;

static void on_signal(int sig)
{
    (void)sig;
    stop_early = 1;
    if (server)
        ingest_server_stop(server);
}

int main(int argc, char **argv)
{
    ingest_config_t cfg;
    config_args_t args;
    char err[512];
    int rc = config_parse(ingest_config_options, ingest_config_noptions, &cfg,
                          "prism-ingest [--config FILE] [options]", argc, argv,
                          &args, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "prism-ingest: %s\n", err);
        return 2;
    }
    if (args.help) {
        config_args_free(&args);
        return 0;
    }
    config_args_free(&args);
    if (daemon_log_level("prism-ingest", cfg.log_level) < 0)
        return 2;
    /* Handlers first: "Ingest ready." is logged from ingest_server_new, and
     * a supervisor may stop the process as soon as it reads that. */
    daemon_signals(on_signal, NULL);
    server = ingest_server_new(&cfg);
    if (!server)
        return 1;
    if (stop_early) /* a stop that came while starting */
        ingest_server_stop(server);
    rc = ingest_server_run(server);
    log_info("ingest", "Stopping.", "rc=%d", rc);
    ingest_server_free(&server);
    zctx_term();
    pktbuf_pool_drain();
    return rc < 0 ? 1 : 0;
}
