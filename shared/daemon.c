/* Start-up shared by the Prism binaries: log level and stop signals. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int daemon_log_level(const char *prog, const char *name)
{
    log_level_t level;
    if (log_level_parse(name, &level) < 0) {
        fprintf(stderr,
                "%s: unknown log_level '%s' (debug, info, warn or error)\n",
                prog, name ? name : "");
        return -EINVAL;
    }
    log_set_level(level);
    return 0;
}

static void handle(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void daemon_signals(void (*on_stop)(int), void (*on_reload)(int))
{
    handle(SIGINT, on_stop);
    handle(SIGTERM, on_stop);
    if (on_reload)
        handle(SIGHUP, on_reload);
    handle(SIGPIPE, SIG_IGN);
}
