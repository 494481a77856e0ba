/* Start-up shared by the Prism binaries: log level and stop signals. */
#ifndef PRISM_DAEMON_H
#define PRISM_DAEMON_H

/*
 * Sets the process log level from its configured name ("debug", "info",
 * "warn" or "error"). An unknown name leaves the level as it was, writes
 *   PROG: unknown log_level 'NAME' (debug, info, warn or error)
 * to stderr and returns -EINVAL; the caller exits with its usage status.
 * Returns 0 otherwise. Main thread, at start-up.
 */
int daemon_log_level(const char *prog, const char *name);

/*
 * Installs on_stop for SIGINT and SIGTERM and, when on_reload is not NULL,
 * on_reload for SIGHUP (NULL leaves SIGHUP as it is). The handlers are
 * installed without SA_RESTART, so a blocking poll or read returns EINTR
 * and the loop sees the stop at once. SIGPIPE is ignored: a peer that
 * closes its socket is an error return (EPIPE) where it is written, not
 * the end of the process. The handlers must be async-signal-safe. Main
 * thread. sigaction(2) fails only on an invalid signal number or address,
 * neither of which can happen here, so there is nothing to return.
 */
void daemon_signals(void (*on_stop)(int), void (*on_reload)(int));

#endif
