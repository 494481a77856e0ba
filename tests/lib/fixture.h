/* Test and bench fixtures: a scratch folder, child processes (ffmpeg, the
 * servers under test), a clip and its packets, loopback TCP sockets. */
#ifndef PRISM_TEST_FIXTURE_H
#define PRISM_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* $PRISM_BUILD_DIR/var/ingest-test (made once), or /tmp. */
const char *fixture_dir(void);

/*
 * Starts argv (NULL-terminated, found on PATH) with stdin from /dev/null,
 * stdout to outpath and stderr to errpath (truncated; both may be the same
 * file). A NULL outpath is /dev/null, a NULL errpath keeps this process's
 * stderr. Returns the pid, or -1.
 */
pid_t fixture_spawn(char *const argv[], const char *outpath,
                    const char *errpath);

/* Waits for pid; its exit status, or -1 when it did not exit normally. */
int fixture_wait(pid_t pid);

/* fixture_spawn (stdout to /dev/null) and fixture_wait: the exit status,
 * or -1. */
int fixture_run(char *const argv[], const char *errpath);

/* SIGTERM, then SIGKILL after 5 s; reaps pid. Ignores pid <= 0. */
void fixture_stop(pid_t pid);

/* Makes (once) a 3 s 320x240 30 fps H.264 + AAC FLV clip in fixture_dir;
 * returns its path, or NULL when ffmpeg failed. */
const char *fixture_clip(void);

/* One packet of a reference list or of what a subscriber received. */
typedef struct {
    int64_t pts, dts;
    uint32_t size;
    bool key;
    uint64_t seq;
    bool discont;
    uint32_t track;
} fixture_pkt_t;

/* Reads the packets of one stream ("v" or "a") of a file with ffprobe
 * into out[max]; returns how many, or -1. */
int fixture_probe(const char *file, const char *sel, fixture_pkt_t *out,
                  int max);

/* A TCP socket (TCP_NODELAY) connected, or with nonblock connecting, to
 * 127.0.0.1:port. Returns the fd, or -1. */
int fixture_connect(int port, bool nonblock);

/* A loopback TCP port of a socket that LISTENs (never accepting: the
 * kernel completes handshakes, nothing answers; the fd in *fd_out, the
 * caller closes it), or that was bound and closed without listening (a
 * vacant port: connections are refused; *fd_out = -1). Returns the port,
 * or -1. */
int fixture_loopback_port(bool listen_on, int *fd_out);

/* Waits until 127.0.0.1:port takes connections; 0, or -1 after ms. */
int fixture_wait_port(int port, int ms);

/* Writes all of p[n] to fd; 0 or -1. */
int fixture_write_all(int fd, const void *p, size_t n);

/* Reads exactly n bytes, each wait at most timeout_ms; 0 or -1. */
int fixture_read_exact(int fd, void *p, size_t n, int timeout_ms);

/* Waits until the peer closes fd; true if it did within timeout_ms. */
bool fixture_closed_by_peer(int fd, int timeout_ms);

/* A copy of TEXT with the first FROM replaced by TO (malloc'd; the caller
 * frees it); NULL when TEXT has no FROM or memory ran out. */
char *fixture_text_edit(const char *text, const char *from, const char *to);

#endif
