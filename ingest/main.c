/* prism-ingest: RTMP and SRT publishing, GOP cache, media to workers. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ingest_config.h"
#include "ingest_server.h"
#include "log.h"
#include "pktbuf.h"
#include "zctx.h"

static ingest_server_t *server;

static void on_signal(int sig)
{
    (void)sig;
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
    log_level_t lvl;
    if (log_level_parse(cfg.log_level, &lvl) < 0) {
        fprintf(stderr, "prism-ingest: log_level: unknown level %s\n",
                cfg.log_level);
        return 2;
    }
    log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);
    server = ingest_server_new(&cfg);
    if (!server)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = ingest_server_run(server);
    log_info("ingest", "Stopping.", "rc=%d", rc);
    ingest_server_free(&server);
    zctx_term();
    pktbuf_pool_drain();
    return rc < 0 ? 1 : 0;
}
