/* Test and bench fixtures: scratch folder, children, clip, loopback TCP. */
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

extern char **environ;

/* How long fixture_stop waits for SIGTERM to work, in 100 ms steps. */
#define STOP_STEPS 50

const char *fixture_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *b = getenv("PRISM_BUILD_DIR");
        snprintf(dir, sizeof(dir), "%s/var/ingest-test", b ? b : "/tmp");
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
        if (system(cmd) != 0)
            return "/tmp";
    }
    return dir;
}

pid_t fixture_spawn(char *const argv[], const char *outpath,
                    const char *errpath)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (outpath)
        posix_spawn_file_actions_addopen(&fa, 1, outpath,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (errpath && outpath && strcmp(errpath, outpath) == 0)
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else if (errpath)
        posix_spawn_file_actions_addopen(&fa, 2, errpath,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

int fixture_wait(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int fixture_run(char *const argv[], const char *errpath)
{
    pid_t pid = fixture_spawn(argv, NULL, errpath);
    return pid > 0 ? fixture_wait(pid) : -1;
}

void fixture_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < STOP_STEPS; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

const char *fixture_clip(void)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/clip.flv", fixture_dir());
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        return path;
    char *argv[] = {"ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=320x240:rate=30",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:sample_rate=44100",
                    "-t",
                    "3",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-g",
                    "30",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-shortest",
                    path,
                    NULL};
    if (fixture_run(argv, NULL) != 0)
        return NULL;
    return path;
}

int fixture_probe(const char *file, const char *sel, fixture_pkt_t *out,
                  int max)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams %s -show_entries "
             "packet=pts,dts,size,flags -of csv=p=0 '%s'",
             sel, file);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    int n = 0;
    char line[256];
    while (n < max && fgets(line, sizeof(line), f)) {
        long long pts, dts;
        unsigned size;
        char flags[16] = "";
        if (sscanf(line, "%lld,%lld,%u,%15s", &pts, &dts, &size, flags) < 3)
            continue;
        out[n].pts = pts;
        out[n].dts = dts;
        out[n].size = size;
        out[n].key = flags[0] == 'K';
        n++;
    }
    pclose(f);
    return n;
}

int fixture_connect(int port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        !(nonblock && errno == EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

int fixture_loopback_port(bool listen_on, int *fd_out)
{
    *fd_out = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
        (listen_on && listen(fd, 8) < 0)) {
        close(fd);
        return -1;
    }
    if (listen_on)
        *fd_out = fd;
    else
        close(fd);
    return ntohs(a.sin_port);
}

int fixture_wait_port(int port, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        int fd = fixture_connect(port, false);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        usleep(50000);
    }
    return -1;
}

int fixture_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int fixture_read_exact(int fd, void *p, size_t n, int timeout_ms)
{
    uint8_t *b = p;
    while (n > 0) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = recv(fd, b, n, 0);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

bool fixture_closed_by_peer(int fd, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    uint8_t buf[4096];
    while (clock_mono_ms() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
    return false;
}

char *fixture_text_edit(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    if (!at)
        return NULL;
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to,
                 at + strlen(from));
    return out;
}
