/* CPU use of the host, the worker process and its cgroup, from /proc. */
#include "host_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MOD "host_load"

/* mountinfo of a container with many mounts stays well under this. */
#define TEXT_MAX 65536

int host_load_parse_proc_stat(const char *text, uint64_t *busy, uint64_t *total)
{
    const char *p = text;
    while (p && strncmp(p, "cpu ", 4) != 0) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (!p)
        return -EINVAL;
    /* user nice system idle iowait irq softirq steal (guest is in user). */
    unsigned long long v[8] = {0};
    int n = sscanf(p + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    if (n < 4)
        return -EINVAL;
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += v[i];
    *total = t;
    *busy = t - v[3] - v[4];
    return 0;
}

int host_load_parse_self_stat(const char *text, uint64_t *ticks)
{
    /* The command may hold spaces and parentheses: fields count from the
     * last ')'. utime and stime are fields 14 and 15, the 12th and 13th
     * after it. */
    const char *p = strrchr(text, ')');
    if (!p)
        return -EINVAL;
    p++;
    for (int field = 0; field < 11; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EINVAL;
    }
    unsigned long long ut, st;
    if (sscanf(p, " %llu %llu", &ut, &st) != 2)
        return -EINVAL;
    *ticks = ut + st;
    return 0;
}

int host_load_parse_cpu_max(const char *text, double *cores)
{
    char q[32];
    unsigned long long period;
    if (sscanf(text, "%31s %llu", q, &period) != 2 || period == 0)
        return -EINVAL;
    if (!strcmp(q, "max")) {
        *cores = 0;
        return 0;
    }
    char *end;
    unsigned long long quota = strtoull(q, &end, 10);
    if (*end || quota == 0)
        return -EINVAL;
    *cores = (double)quota / (double)period;
    return 0;
}

int host_load_parse_cfs(const char *quota, const char *period, double *cores)
{
    long long q, p;
    if (sscanf(quota, "%lld", &q) != 1 || sscanf(period, "%lld", &p) != 1 ||
        p <= 0 || q == 0 || q < -1)
        return -EINVAL;
    *cores = q < 0 ? 0 : (double)q / (double)p;
    return 0;
}

int host_load_parse_usage_usec(const char *text, uint64_t *usec)
{
    for (const char *p = text; p && *p;) {
        unsigned long long v;
        if (sscanf(p, "usage_usec %llu", &v) == 1) {
            *usec = v;
            return 0;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -EINVAL;
}

int host_load_parse_cpuacct_usage(const char *text, uint64_t *usec)
{
    unsigned long long ns;
    if (sscanf(text, "%llu", &ns) != 1)
        return -EINVAL;
    *usec = ns / 1000;
    return 0;
}

/* True when the comma-separated LIST holds NAME. */
static bool list_has(const char *list, size_t len, const char *name)
{
    size_t n = strlen(name);
    const char *p = list, *end = list + len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t l = c ? (size_t)(c - p) : (size_t)(end - p);
        if (l == n && !memcmp(p, name, n))
            return true;
        p += l + 1;
    }
    return false;
}

/* Copies LEN bytes of S into OUT as a string. */
static int copy_out(char *out, size_t outlen, const char *s, size_t len)
{
    if (len >= outlen)
        return -ENAMETOOLONG;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

int host_load_cgroup_path(const char *text, const char *controller, char *out,
                          size_t outlen)
{
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *c1 = memchr(p, ':', (size_t)(end - p));
        const char *c2 =
            c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
        if (c2) {
            size_t cl = (size_t)(c2 - c1 - 1);
            bool match = controller ? list_has(c1 + 1, cl, controller)
                                    : (cl == 0 && c1 - p == 1 && *p == '0');
            if (match)
                return copy_out(out, outlen, c2 + 1, (size_t)(end - c2 - 1));
        }
        p = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

/* Field I (0-based, space-separated) of LINE: its start and length. */
static const char *field(const char *line, const char *end, int i, size_t *len)
{
    const char *p = line;
    for (int k = 0; k < i && p; k++) {
        p = memchr(p, ' ', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    if (!p || p >= end)
        return NULL;
    const char *e = memchr(p, ' ', (size_t)(end - p));
    *len = (size_t)((e ? e : end) - p);
    return p;
}

/* A mountinfo line: ID PARENT MAJ:MIN ROOT MOUNT OPTS [TAGS...] - TYPE SRC
 * SUPER_OPTS. True with its root and mount point when it is the wanted
 * cgroup hierarchy. */
static bool mount_line(const char *p, const char *end, const char *controller,
                       const char **root, size_t *rl, const char **mnt,
                       size_t *ml)
{
    const char *dash = p;
    while ((dash = memchr(dash, '-', (size_t)(end - dash))) &&
           !(dash[-1] == ' ' && dash + 1 < end && dash[1] == ' '))
        dash++;
    if (!dash)
        return false;
    size_t tl, ol;
    const char *type = field(dash + 2, end, 0, &tl);
    const char *opts = field(dash + 2, end, 2, &ol);
    if (!type || !opts)
        return false;
    bool ok = controller ? tl == 6 && !memcmp(type, "cgroup", 6) &&
                               list_has(opts, ol, controller)
                         : tl == 7 && !memcmp(type, "cgroup2", 7);
    if (!ok)
        return false;
    *root = field(p, end, 3, rl);
    *mnt = field(p, end, 4, ml);
    return *root && *mnt;
}

int host_load_mount(const char *text, const char *controller, char *mnt,
                    size_t mntlen, char *root, size_t rootlen)
{
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        const char *r, *m;
        size_t rl, ml;
        if (mount_line(p, end, controller, &r, &rl, &m, &ml)) {
            int ret = copy_out(mnt, mntlen, m, ml);
            return ret < 0 ? ret : copy_out(root, rootlen, r, rl);
        }
        p = nl ? nl + 1 : NULL;
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------- sampler */

struct host_load {
    host_load_mode_t mode;
    char limit_dir[1024]; /* where the CPU limit is set; "" none */
    char usage_file[1100];
    bool v2;
    double limit_cores; /* 0: no cgroup limit found */
    double host_cores;
    long ticks_per_s;
    bool have_prev;
    int64_t prev_us;
    uint64_t prev_busy, prev_total, prev_ticks, prev_usage_us;
};

/* Reads the file at PATH into BUF (at most LEN - 1 bytes). 0 or -errno. */
static int read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

/* The limit set in cgroup directory DIR, in cores (0 none). */
static double dir_limit(const char *dir, bool v2)
{
    char path[1200], a[128], b[128];
    double cores = 0;
    if (v2) {
        snprintf(path, sizeof(path), "%s/cpu.max", dir);
        if (read_text(path, a, sizeof(a)) == 0)
            host_load_parse_cpu_max(a, &cores);
        return cores;
    }
    snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
    if (read_text(path, a, sizeof(a)) < 0)
        return 0;
    snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
    if (read_text(path, b, sizeof(b)) < 0)
        return 0;
    host_load_parse_cfs(a, b, &cores);
    return cores;
}

/* The hierarchy path REL of the process's cgroup under its mount: MNT +
 * (REL less the mount's ROOT) into OUT. */
static void under_mount(char *out, size_t len, const char *mnt,
                        const char *root, const char *rel)
{
    size_t rl = strlen(root);
    if (rl > 1 && !strncmp(rel, root, rl))
        rel += rl;
    else if (rl > 1)
        rel = "";
    snprintf(out, len, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
}

/* Finds the tightest CPU limit on the process's cgroup or its ancestors
 * and the usage file of that cgroup. */
static void find_cgroup(host_load_t *h, const char *cg, const char *mi)
{
    char rel[512], mnt[512], root[512], dir[1024], umnt[512], uroot[512];
    const char *ctl = "cpu", *uctl = "cpuacct";
    h->v2 = host_load_cgroup_path(cg, ctl, rel, sizeof(rel)) < 0 ||
            host_load_mount(mi, ctl, mnt, sizeof(mnt), root, sizeof(root)) < 0;
    if (h->v2 &&
        (host_load_cgroup_path(cg, NULL, rel, sizeof(rel)) < 0 ||
         host_load_mount(mi, NULL, mnt, sizeof(mnt), root, sizeof(root)) < 0))
        return;
    under_mount(dir, sizeof(dir), mnt, root, rel);
    size_t base = strlen(mnt);
    for (;;) {
        double c = dir_limit(dir, h->v2);
        if (c > 0 && (h->limit_cores == 0 || c < h->limit_cores)) {
            h->limit_cores = c;
            snprintf(h->limit_dir, sizeof(h->limit_dir), "%s", dir);
        }
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < base)
            break;
        *slash = '\0';
    }
    if (h->limit_cores == 0)
        return;
    if (h->v2) {
        snprintf(h->usage_file, sizeof(h->usage_file), "%s/cpu.stat",
                 h->limit_dir);
        return;
    }
    /* v1: cpuacct may be its own hierarchy; the same cgroup path in it. */
    if (host_load_mount(mi, uctl, umnt, sizeof(umnt), uroot, sizeof(uroot)) <
        0) {
        h->limit_cores = 0;
        return;
    }
    snprintf(h->usage_file, sizeof(h->usage_file), "%s%s/cpuacct.usage", umnt,
             h->limit_dir + base);
}

int host_load_mode_parse(const char *s, host_load_mode_t *out)
{
    static const char *const names[] = {"auto", "process", "off"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            if (out)
                *out = (host_load_mode_t)i;
            return 0;
        }
    return -EINVAL;
}

host_load_t *host_load_new(host_load_mode_t mode)
{
    host_load_t *h = calloc(1, sizeof(*h));
    char *cg = malloc(TEXT_MAX), *mi = malloc(TEXT_MAX);
    if (!h || !cg || !mi) {
        free(h);
        h = NULL;
        goto end;
    }
    h->mode = mode;
    h->ticks_per_s = sysconf(_SC_CLK_TCK);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    h->host_cores = n > 0 ? (double)n : 1;
    if (mode == HOST_LOAD_AUTO &&
        read_text("/proc/self/cgroup", cg, TEXT_MAX) == 0 &&
        read_text("/proc/self/mountinfo", mi, TEXT_MAX) == 0)
        find_cgroup(h, cg, mi);
    if (mode == HOST_LOAD_PROCESS)
        log_info(MOD, "The CPU device's use is the worker process's own.",
                 "cores=%.0f", h->host_cores);
    else if (h->limit_cores > 0)
        log_info(MOD, "The CPU device is the cgroup's limit.",
                 "cgroup=%s cores=%.2f usage=%s", h->limit_dir, h->limit_cores,
                 h->usage_file);
    else
        log_info(MOD, "The CPU device is the host's CPUs.", "cores=%.0f",
                 h->host_cores);
end:
    free(cg);
    free(mi);
    return h;
}

double host_load_limit_cores(const host_load_t *h)
{
    return h ? h->limit_cores : 0;
}

/* The cgroup's usage so far in microseconds. 0 or a negative errno. */
static int cgroup_usage(const host_load_t *h, uint64_t *usec)
{
    char buf[2048];
    int ret = read_text(h->usage_file, buf, sizeof(buf));
    if (ret < 0)
        return ret;
    return h->v2 ? host_load_parse_usage_usec(buf, usec)
                 : host_load_parse_cpuacct_usage(buf, usec);
}

int host_load_sample(host_load_t *h, int64_t now_us, host_load_sample_t *out)
{
    char buf[4096];
    uint64_t busy = 0, total = 0, ticks = 0, usage = 0;
    out->use = -1;
    out->process_cores = -1;
    out->cores = h->limit_cores > 0 ? h->limit_cores : h->host_cores;
    out->source = h->mode == HOST_LOAD_PROCESS ? "process"
                  : h->limit_cores > 0         ? "cgroup"
                                               : "host";
    int ret = read_text("/proc/stat", buf, sizeof(buf));
    if (ret == 0)
        ret = host_load_parse_proc_stat(buf, &busy, &total);
    if (ret == 0 && (ret = read_text("/proc/self/stat", buf, sizeof(buf))) == 0)
        ret = host_load_parse_self_stat(buf, &ticks);
    if (ret == 0 && h->limit_cores > 0)
        ret = cgroup_usage(h, &usage);
    if (ret < 0) {
        log_warn(MOD, "Cannot read the CPU use; it is unknown.",
                 "call=read err=\"%s\"", strerror(-ret));
        h->have_prev = false;
        return ret;
    }
    double wall_s = (double)(now_us - h->prev_us) / 1e6;
    if (h->have_prev && wall_s > 0) {
        out->process_cores =
            (double)(ticks - h->prev_ticks) / (double)h->ticks_per_s / wall_s;
        if (h->mode == HOST_LOAD_PROCESS)
            out->use = out->process_cores / h->host_cores;
        else if (h->limit_cores > 0)
            out->use = (double)(usage - h->prev_usage_us) / 1e6 / wall_s /
                       h->limit_cores;
        else if (total > h->prev_total)
            out->use =
                (double)(busy - h->prev_busy) / (double)(total - h->prev_total);
        if (out->use > 1)
            out->use = 1; /* a quota can be overrun within a period */
    }
    h->have_prev = true;
    h->prev_us = now_us;
    h->prev_busy = busy;
    h->prev_total = total;
    h->prev_ticks = ticks;
    h->prev_usage_us = usage;
    return 0;
}

void host_load_free(host_load_t **hp)
{
    if (!hp || !*hp)
        return;
    free(*hp);
    *hp = NULL;
}
