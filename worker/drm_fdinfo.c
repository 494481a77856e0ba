/* VAAPI engine busy time from the DRM fdinfo of a render node's clients. */
#include "drm_fdinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MOD "drm_fdinfo"

/* Clients of one node remembered between samples; more are counted from
 * their first sample only. */
#define DRM_CLIENTS_MAX 256

/* The engine NAME of OUT, added when new; NULL when the table is full. */
static int engine_slot(drm_fdinfo_t *out, const char *name, size_t len)
{
    for (int i = 0; i < out->nengines; i++)
        if (strlen(out->engine[i].name) == len &&
            !memcmp(out->engine[i].name, name, len))
            return i;
    if (out->nengines >= DRM_FDINFO_ENGINES ||
        len >= sizeof(out->engine[0].name))
        return -1;
    int i = out->nengines++;
    memcpy(out->engine[i].name, name, len);
    out->engine[i].name[len] = '\0';
    out->engine[i].capacity = 1;
    return i;
}

/* One "key: value" line of an fdinfo file. Returns true when it was the
 * client id. */
static bool parse_line(const char *p, size_t len, drm_fdinfo_t *out)
{
    static const char eng[] = "drm-engine-", cap[] = "drm-engine-capacity-";
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return false;
    size_t kl = (size_t)(colon - p);
    unsigned long long v = strtoull(colon + 1, NULL, 10);
    if (kl == 13 && !memcmp(p, "drm-client-id", 13)) {
        out->client_id = v;
        return true;
    }
    if (kl == 8 && !memcmp(p, "drm-pdev", 8)) {
        const char *s = colon + 1;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strcspn(s, " \t\n");
        if (n < sizeof(out->pdev)) {
            memcpy(out->pdev, s, n);
            out->pdev[n] = '\0';
        }
    } else if (kl > sizeof(cap) - 1 && !memcmp(p, cap, sizeof(cap) - 1)) {
        int i = engine_slot(out, p + sizeof(cap) - 1, kl - (sizeof(cap) - 1));
        if (i >= 0 && v > 0)
            out->engine[i].capacity = (int)v;
    } else if (kl > sizeof(eng) - 1 && !memcmp(p, eng, sizeof(eng) - 1)) {
        int i = engine_slot(out, p + sizeof(eng) - 1, kl - (sizeof(eng) - 1));
        if (i >= 0)
            out->engine[i].busy_ns = v;
    }
    return false;
}

int drm_fdinfo_parse(const char *text, drm_fdinfo_t *out)
{
    memset(out, 0, sizeof(*out));
    bool client = false;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        client |= parse_line(p, len, out);
        p = nl ? nl + 1 : NULL;
    }
    return client ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------- sampler */

typedef struct {
    uint64_t id;
    drm_fdinfo_t last;
} client_t;

struct drm_load {
    char path[64];
    dev_t rdev; /* the node's device number, to recognise its fds */
    bool have_prev;
    int64_t prev_us;
    int nclients;
    client_t clients[DRM_CLIENTS_MAX];
    /* busy ns per engine name over the interval being built */
    drm_fdinfo_t sum;
};

drm_load_t *drm_load_new(const char *render_path)
{
    drm_load_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    snprintf(d->path, sizeof(d->path), "%s", render_path);
    struct stat st;
    if (stat(render_path, &st) == 0)
        d->rdev = st.st_rdev;
    else
        log_warn(MOD, "Cannot stat the render node; its use is unknown.",
                 "call=stat path=%s err=\"%s\"", render_path, strerror(errno));
    return d;
}

/* The busy time a client's figures X add since its last ones (all of them
 * when it is new), into d->sum; X replaces the client's last figures. */
static void add_client(drm_load_t *d, client_t *next, int *nnext,
                       const drm_fdinfo_t *x)
{
    for (int k = 0; k < *nnext; k++)
        if (next[k].id == x->client_id)
            return; /* the same client through another fd */
    const drm_fdinfo_t *prev = NULL;
    for (int k = 0; k < d->nclients && !prev; k++)
        if (d->clients[k].id == x->client_id)
            prev = &d->clients[k].last;
    for (int e = 0; e < x->nengines; e++) {
        uint64_t before = 0;
        for (int f = 0; prev && f < prev->nengines; f++)
            if (!strcmp(prev->engine[f].name, x->engine[e].name))
                before = prev->engine[f].busy_ns;
        int i =
            engine_slot(&d->sum, x->engine[e].name, strlen(x->engine[e].name));
        if (i >= 0 && x->engine[e].busy_ns >= before) {
            d->sum.engine[i].busy_ns += x->engine[e].busy_ns - before;
            d->sum.engine[i].capacity = x->engine[e].capacity;
        }
    }
    if (*nnext < DRM_CLIENTS_MAX)
        next[(*nnext)++] = (client_t){x->client_id, *x};
}

/* Reads /proc/PID/fdinfo/FD for every fd of PID open on the node. */
static void scan_pid(drm_load_t *d, const char *pid, client_t *next, int *nnext)
{
    char dir[300], path[600], buf[4096];
    snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
    DIR *fds = opendir(dir);
    if (!fds)
        return; /* gone, or not ours to read */
    struct dirent *e;
    while ((e = readdir(fds))) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0 ||
            !S_ISCHR(st.st_mode) || st.st_rdev != d->rdev)
            continue;
        snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        drm_fdinfo_t x;
        if (n > 0 && (buf[n] = '\0', drm_fdinfo_parse(buf, &x) == 0))
            add_client(d, next, nnext, &x);
    }
    closedir(fds);
}

int drm_load_sample(drm_load_t *d, int64_t now_us, double *use)
{
    *use = -1;
    DIR *proc = opendir("/proc");
    if (!proc) {
        int ret = -errno;
        log_warn(MOD, "Cannot read /proc; the render node's use is unknown.",
                 "call=opendir err=\"%s\"", strerror(-ret));
        return ret;
    }
    client_t *next = malloc(DRM_CLIENTS_MAX * sizeof(*next));
    if (!next) {
        closedir(proc);
        return -ENOMEM;
    }
    int nnext = 0;
    memset(&d->sum, 0, sizeof(d->sum));
    struct dirent *e;
    while (d->rdev && (e = readdir(proc)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            scan_pid(d, e->d_name, next, &nnext);
    closedir(proc);
    double wall_ns = (double)(now_us - d->prev_us) * 1e3;
    if (d->have_prev && wall_ns > 0 && nnext > 0) {
        *use = 0;
        for (int i = 0; i < d->sum.nengines; i++) {
            double u = (double)d->sum.engine[i].busy_ns / wall_ns /
                       d->sum.engine[i].capacity;
            *use = u > *use ? u : *use;
        }
        *use = *use > 1 ? 1 : *use;
    }
    memcpy(d->clients, next, (size_t)nnext * sizeof(*next));
    d->nclients = nnext;
    d->have_prev = true;
    d->prev_us = now_us;
    free(next);
    return 0;
}

void drm_load_free(drm_load_t **dp)
{
    if (!dp || !*dp)
        return;
    free(*dp);
    *dp = NULL;
}
