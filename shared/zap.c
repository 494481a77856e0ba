/* ZAP handler: admits CURVE clients whose public key is in an allowlist. */
#include "zap.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "curve_keys.h"
#include "log.h"
#include "zsock.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Poll timeout of the handler thread: how fast zap_free returns. */
#define ZAP_POLL_MS 100
/* The allowlist is bounded: keys past this many are skipped and logged. */
#define ZAP_MAX_KEYS 4096
/* Denials remembered for log-once; older ones may be logged again. */
#define ZAP_SEEN_SLOTS 256
/* A ZAP request has 6 frames plus up to 2 credentials; we read at most: */
#define ZAP_MAX_FRAMES 8

typedef struct {
    char key[CURVE_KEY_Z85_SIZE];
    char name[128];
} allow_entry_t;

struct zap {
    char dir[4096];
    int64_t dir_mtime_ns; /* of the directory as last read; caller's thread */
    bool dir_racy;        /* changed too close to that read to trust mtime */
    char domain[256];
    bool any_domain;
    void *sock; /* owned by the thread once it runs */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;

    pthread_mutex_t lock; /* guards keys, nkeys */
    allow_entry_t *keys;
    int nkeys;

    atomic_uint_fast64_t admitted, denied;
    uint64_t seen[ZAP_SEEN_SLOTS]; /* handler thread only */
    unsigned seen_next;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const allow_entry_t *)a)->key,
                  ((const allow_entry_t *)b)->key);
}

/* Reads every DIR/NAME.pub; returns a sorted array in *out. */
static int load_dir(const char *dir, allow_entry_t **out, int *count)
{
    allow_entry_t *keys = NULL;
    struct dirent *de;
    int n = 0;
    DIR *d;

    d = opendir(dir);
    if (!d) {
        int rc = -errno;
        log_error("zap", "Cannot read the allowlist directory.",
                  "call=opendir dir=%s err=\"%s\"", dir, strerror(errno));
        return rc;
    }
    keys = calloc(ZAP_MAX_KEYS, sizeof(*keys));
    if (!keys) {
        closedir(d);
        return -ENOMEM;
    }
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char path[4096 + 256];
        if (len <= 4 || de->d_name[0] == '.' ||
            strcmp(de->d_name + len - 4, ".pub") != 0)
            continue;
        if (len - 4 >= sizeof(keys[0].name)) {
            log_warn("zap", "Skipping a key file with a too long name.",
                     "dir=%s file=%s", dir, de->d_name);
            continue;
        }
        if (n == ZAP_MAX_KEYS) {
            log_warn("zap", "Allowlist is full; skipping the rest.",
                     "dir=%s max=%d", dir, ZAP_MAX_KEYS);
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (curve_keys_load_public(path, keys[n].key) != 0)
            continue; /* logged by curve_keys */
        memcpy(keys[n].name, de->d_name, len - 4);
        keys[n].name[len - 4] = '\0';
        n++;
    }
    closedir(d);
    qsort(keys, (size_t)n, sizeof(*keys), cmp_entry);
    *out = keys;
    *count = n;
    return 0;
}

/* The directory's modification time in ns (changes when a file is added,
 * removed or renamed in it), or -1. */
static int64_t dir_mtime_ns(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

int zap_reload(zap_t *z)
{
    allow_entry_t *keys = NULL, *old;
    int n = 0, rc;

    /* A file added in the same clock tick as this read leaves the mtime
     * as read: until the mtime is a second older than the read, the next
     * zap_reload_if_changed reads again whatever the mtime says. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    z->dir_mtime_ns = dir_mtime_ns(z->dir);
    z->dir_racy = z->dir_mtime_ns + 1000000000 >=
                  (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    rc = load_dir(z->dir, &keys, &n);
    if (rc)
        return rc;
    pthread_mutex_lock(&z->lock);
    old = z->keys;
    z->keys = keys;
    z->nkeys = n;
    pthread_mutex_unlock(&z->lock);
    free(old);
    log_info("zap", "Loaded the CURVE allowlist.", "dir=%s keys=%d", z->dir, n);
    return n;
}

int zap_reload_if_changed(zap_t *z)
{
    int64_t m = dir_mtime_ns(z->dir);
    if (m < 0 || (m == z->dir_mtime_ns && !z->dir_racy))
        return 0;
    int before = zap_key_count(z);
    int n = zap_reload(z);
    return n < 0 ? n : n != before ? 1 : 0;
}

int zap_key_count(zap_t *z)
{
    pthread_mutex_lock(&z->lock);
    int n = z->nkeys;
    pthread_mutex_unlock(&z->lock);
    return n;
}

uint64_t zap_admitted(zap_t *z)
{
    return atomic_load(&z->admitted);
}

uint64_t zap_denied(zap_t *z)
{
    return atomic_load(&z->denied);
}

/* Copies the user id of `key` into name; false if the key is not listed. */
static bool lookup(zap_t *z, const char *key, char *name, size_t size)
{
    allow_entry_t probe, *hit;
    bool found = false;

    snprintf(probe.key, sizeof(probe.key), "%s", key);
    pthread_mutex_lock(&z->lock);
    hit =
        bsearch(&probe, z->keys, (size_t)z->nkeys, sizeof(*z->keys), cmp_entry);
    if (hit) {
        snprintf(name, size, "%s", hit->name);
        found = true;
    }
    pthread_mutex_unlock(&z->lock);
    return found;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ^ 0xff; /* separates consecutive strings */
}

/* True the first time (recently) this denial is seen. */
static bool first_denial(zap_t *z, const char *addr, const char *mech,
                         const char *key)
{
    uint64_t h = fnv1a(fnv1a(fnv1a(14695981039346656037ull, addr), mech), key);
    if (h == 0)
        h = 1;
    for (unsigned i = 0; i < ZAP_SEEN_SLOTS; i++)
        if (z->seen[i] == h)
            return false;
    z->seen[z->seen_next] = h;
    z->seen_next = (z->seen_next + 1) % ZAP_SEEN_SLOTS;
    return true;
}

/* Copies frame i as a string (truncated to size-1) into buf. */
static void frame_str(zmq_msg_t *f, char *buf, size_t size)
{
    size_t n = zmq_msg_size(f);
    if (n >= size)
        n = size - 1;
    memcpy(buf, zmq_msg_data(f), n);
    buf[n] = '\0';
}

static int send_frame(void *sock, const void *data, size_t len, bool more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static void handle_request(zap_t *z)
{
    zmq_msg_t f[ZAP_MAX_FRAMES];
    int nf = 0, more = 1;
    char version[8] = "", domain[256] = "", addr[64] = "", mech[16] = "";
    char key[CURVE_KEY_Z85_SIZE] = "-", user[128] = "";
    const char *status = "400", *text = "Denied";
    bool ok = false;

    while (more) {
        zmq_msg_t tmp, *m = nf < ZAP_MAX_FRAMES ? &f[nf] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, ZMQ_DONTWAIT) < 0) {
            log_error("zap", "Cannot receive a ZAP request.",
                      "call=zmq_msg_recv err=\"%s\"", zmq_strerror(errno));
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(m);
        else
            nf++;
    }
    if (nf == 0)
        return;
    if (nf < 6) {
        /* libzmq never sends this; answer anyway to keep REP in step. */
        status = "500";
        text = "Malformed request";
        log_error("zap", "Malformed ZAP request.", "frames=%d", nf);
        goto reply;
    }
    frame_str(&f[0], version, sizeof(version));
    frame_str(&f[2], domain, sizeof(domain));
    frame_str(&f[3], addr, sizeof(addr));
    frame_str(&f[5], mech, sizeof(mech));
    if (strcmp(mech, "CURVE") == 0 && nf >= 7 && zmq_msg_size(&f[6]) == 32)
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
    if (strcmp(version, "1.0") != 0) {
        status = "500";
        text = "Version not supported";
    } else if (!z->any_domain && strcmp(domain, z->domain) != 0) {
        text = "Wrong ZAP domain";
    } else if (strcmp(mech, "CURVE") != 0) {
        text = "Only CURVE is admitted";
    } else if (!curve_key_valid(key)) {
        text = "Malformed CURVE credentials";
    } else if (lookup(z, key, user, sizeof(user))) {
        status = "200";
        text = "OK";
        ok = true;
    } else {
        text = "Key not in the allowlist";
    }

reply:
    if (ok) {
        atomic_fetch_add(&z->admitted, 1);
        log_debug("zap", "Admitted a CURVE client.", "peer=%s user=%s key=%s",
                  addr, user, key);
    } else {
        atomic_fetch_add(&z->denied, 1);
        if (first_denial(z, addr, mech, key))
            log_warn("zap", "Denied a client.",
                     "peer=%s mechanism=%s key=%s domain=%s reason=\"%s\"",
                     addr, mech, key, domain, text);
    }

    if (send_frame(z->sock, "1.0", 3, true) ||
        send_frame(z->sock, nf > 1 ? zmq_msg_data(&f[1]) : "",
                   nf > 1 ? zmq_msg_size(&f[1]) : 0, true) ||
        send_frame(z->sock, status, 3, true) ||
        send_frame(z->sock, text, strlen(text), true) ||
        send_frame(z->sock, user, strlen(user), true) ||
        send_frame(z->sock, "", 0, false))
        log_error("zap", "Cannot send a ZAP reply.",
                  "call=zmq_send peer=%s err=\"%s\"", addr,
                  zmq_strerror(errno));
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
}

static void *zap_thread(void *arg)
{
    zap_t *z = arg;

    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {z->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&it, 1, ZAP_POLL_MS);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("zap", "ZAP handler poll failed; stopping.",
                      "call=zmq_poll err=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (rc > 0 && (it.revents & ZMQ_POLLIN))
            handle_request(z);
    }
    zsock_close(&z->sock);
    return NULL;
}

zap_t *zap_new(const char *allow_dir, const char *domain)
{
    zsock_opts_t o;
    zap_t *z;
    int rc;

    z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    pthread_mutex_init(&z->lock, NULL);
    atomic_init(&z->stop, false);
    atomic_init(&z->admitted, 0);
    atomic_init(&z->denied, 0);
    if (snprintf(z->dir, sizeof(z->dir), "%s", allow_dir) >=
        (int)sizeof(z->dir))
        goto err;
    z->any_domain = !domain;
    snprintf(z->domain, sizeof(z->domain), "%s", domain ? domain : "");
    if (zap_reload(z) < 0)
        goto err;

    zsock_opts_default(&o);
    z->sock = zsock_new(ZMQ_REP, &o);
    if (!z->sock || zsock_bind(z->sock, ZAP_ENDPOINT) != 0)
        goto err;
    rc = pthread_create(&z->thread, NULL, zap_thread, z);
    if (rc) {
        log_error("zap", "Cannot start the ZAP handler thread.",
                  "call=pthread_create err=\"%s\"", strerror(rc));
        goto err;
    }
    z->thread_started = true;
    return z;
err:
    zap_free(&z);
    return NULL;
}

void zap_free(zap_t **zp)
{
    zap_t *z;

    if (!zp || !*zp)
        return;
    z = *zp;
    if (z->thread_started) {
        atomic_store(&z->stop, true);
        pthread_join(z->thread, NULL);
    }
    zsock_close(&z->sock); /* only when the thread never ran */
    free(z->keys);
    pthread_mutex_destroy(&z->lock);
    free(z);
    *zp = NULL;
}
