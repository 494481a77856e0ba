/* HLS output to an HTTP origin: PUTs whose answer is checked, DELETEs. */

/*
 * How this works
 * --------------
 * FFmpeg's http protocol sends a chunked PUT and never reads the answer
 * (a 403 or 500 goes unseen), and its DELETE carries a chunked body,
 * which nginx's WebDAV module refuses. So the session hands every whole
 * file it makes (a segment, a playlist, an init section, the master, a
 * thumbnail) to origin_send, and it goes out as one PUT with a
 * Content-Length through http_client (libcurl; http:// and https://
 * alike), whose status is read; a segment that left the live window gets
 * a DELETE without a body (origin_send_delete). Each writer keeps one
 * http_client, so its requests share one kept-alive connection.
 *
 * Failures never reach the session's writes (they would end it at once);
 * they are counted, the first of a run in each folder (a rendition)
 * logged with the status, its end logged too, and the policy in
 * origin_policy_t decides, on runs of failures across all folders, when
 * the output reaches nobody.
 *
 * The requests do not run on the session's thread: a slow origin would
 * stall the encoder and make a live input drop. A file (and a DELETE)
 * becomes a job on a bounded FIFO queue that one uploader thread per
 * origin_t works through. The FIFO keeps the session's order: a playlist
 * is sent after the segments queued before it (those it lists), and a
 * DELETE after the playlist that stopped listing that segment (the
 * session deletes only segments already out of the last playlist). A
 * playlist queued again before the older copy went out replaces it: the
 * old copy leaves the queue and the new one goes to the end, behind its
 * segments. When the queue is full (policy queue_files or queue_bytes),
 * the oldest job that is not a playlist (a segment, an init, a DELETE) is
 * dropped, counted in origin_stats_t.dropped and logged once per run of
 * drops; playlists are never dropped and, one per URL, stay few. The
 * failure policy is fed by the uploader; the session reads origin_fatal().
 * While the agent's fence holds (fence.h: this worker was frozen and may
 * have been replaced), the uploader sends nothing; origin_discard drops
 * the queue when the stream turned out to be placed elsewhere.
 * origin_drain() waits for the queue at the session's end, bounded by the
 * request deadline per queued file. One mutex guards the queue, the
 * counters and the policy state; no request runs under it.
 */
#include "origin.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/time.h>

#include "clock.h"
#include "http_client.h"
#include "log.h"

#define MOD "origin"
/* Folders (renditions) whose PUTs fail now; a run is logged once. */
#define MAX_FOLDERS 16
/* origin_read_text's deadline: a read of a file (libavformat's
 * rw_timeout), or a whole GET from an origin. */
#define READ_TIMEOUT_MS 3000
#define USER_AGENT      "prism-worker"
/* A PUT the origin may take later is tried again after this. */
#define RETRY_MS 500
/* How often an uploader held by the fence looks again. */
#define FENCE_POLL_MS 50

typedef struct {
    char dir[512];  /* the URL up to its last '/' */
    int64_t failed; /* consecutive failed PUTs in the folder */
} folder_t;

/* A request waiting for the uploader. */
typedef struct job {
    struct job *next;
    bool del;      /* a DELETE, else a PUT of data */
    bool playlist; /* never dropped from a full queue */
    uint8_t *data; /* av_malloc'd, owned by the job */
    size_t len;
    char url[1024];
} job_t;

struct origin {
    char name[256];
    origin_policy_t p;
    http_client_t *http;       /* its connection kept alive */
    pthread_mutex_t http_lock; /* one request at a time on it */

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cond;  /* jobs queued, a job done, stop */
    pthread_t thread;
    bool started, stop, busy;
    bool discarded; /* origin_discard: nothing more goes out */
    job_t *head, *tail;
    int nqueued;
    size_t qbytes;
    bool drop_run; /* in a run of drops: logged once */
    origin_stats_t st;
    folder_t folders[MAX_FOLDERS];
    int64_t run_failed;   /* consecutive failed PUTs, any folder */
    int64_t run_start_us; /* when that run of failures began */
    bool ever_ok;
    bool delete_logged;
    int fatal;
};

void origin_policy_default(origin_policy_t *p)
{
    *p = (origin_policy_t){
        .timeout_ms = 5000,
        .first_tries = 3,
        .fail_s = 30,
        .queue_files = 64,
        .queue_bytes = 64 << 20,
    };
}

static void job_free(job_t *j)
{
    av_free(j->data);
    free(j);
}

static void *uploader(void *arg);

/* A client for the origin with ACCESS (NULL: none); TIMEOUT_MS bounds
 * connect and the whole request alike; answers up to BODY_MAX bytes kept. */
static http_client_opts_t client_opts(const origin_access_t *access,
                                      int timeout_ms, size_t body_max)
{
    static const origin_access_t none = {0};
    if (!access)
        access = &none;
    return (http_client_opts_t){
        .connect_timeout_ms = timeout_ms,
        .timeout_ms = timeout_ms,
        .bearer_token = access->bearer_token,
        .ca_file = access->ca_file,
        .user_agent = USER_AGENT,
        .body_max = body_max,
        .tls_no_verify = access->tls_insecure,
    };
}

origin_t *origin_new(const char *name, const origin_policy_t *policy)
{
    origin_t *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->p = *policy;
    o->p.access = (origin_access_t){0}; /* the client keeps copies */
    if (o->p.queue_files < 1)
        o->p.queue_files = 1;
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->http_lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    http_client_opts_t ho = client_opts(&policy->access, o->p.timeout_ms, 0);
    o->http = http_client_new(&ho);
    if (!o->http) {
        origin_free(&o);
        return NULL;
    }
    int ret = pthread_create(&o->thread, NULL, uploader, o);
    if (ret) {
        log_error(MOD, "Cannot start the uploader thread.",
                  "call=pthread_create session=\"%s\" err=\"%s\"", name,
                  strerror(ret));
        origin_free(&o);
        return NULL;
    }
    o->started = true;
    return o;
}

void origin_free(origin_t **op)
{
    origin_t *o = *op;
    if (!o)
        return;
    if (o->started) {
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
    }
    while (o->head) {
        job_t *j = o->head;
        o->head = j->next;
        job_free(j);
    }
    http_client_free(&o->http);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->http_lock);
    pthread_mutex_destroy(&o->lock);
    free(o);
    *op = NULL;
}

/* One request; 0 with *status, or a negative code with ERR filled. */
static int request(origin_t *o, const char *method, const char *url,
                   const void *data, size_t len, int *status, char *err,
                   size_t errlen)
{
    pthread_mutex_lock(&o->http_lock);
    int ret = http_client_request(o->http, method, url, data, len, status, err,
                                  errlen);
    pthread_mutex_unlock(&o->http_lock);
    return ret;
}

/*
 * The folder of URL: its entry in the table, a new one (failed = 0), or,
 * with the table full of failing folders, the last entry (shared).
 */
static folder_t *folder_of(origin_t *o, const char *url, bool add)
{
    const char *slash = strrchr(url, '/');
    int n = slash ? (int)(slash - url) : (int)strlen(url);
    folder_t *empty = NULL;
    for (int i = 0; i < MAX_FOLDERS; i++) {
        folder_t *f = &o->folders[i];
        if (!f->failed) {
            if (!empty)
                empty = f;
        } else if ((int)strlen(f->dir) == n && !strncmp(f->dir, url, n)) {
            return f;
        }
    }
    if (!add)
        return NULL;
    if (!empty)
        return &o->folders[MAX_FOLDERS - 1];
    snprintf(empty->dir, sizeof(empty->dir), "%.*s", n, url);
    return empty;
}

int origin_put(origin_t *o, const char *url, const void *data, size_t len)
{
    char err[256] = "";
    int status = 0;
    int ret = request(o, "PUT", url, data, len, &status, err, sizeof(err));
    pthread_mutex_lock(&o->lock);
    if (ret == 0 && status >= 200 && status < 300) {
        folder_t *f = folder_of(o, url, false);
        o->st.puts++;
        size_t n = strlen(url), m = strlen("/master.m3u8");
        if (n >= m && !strcmp(url + n - m, "/master.m3u8"))
            o->st.master_accepted = true;
        if (f) {
            log_info(MOD, "The origin accepts PUTs again.",
                     "session=\"%s\" folder=\"%s\" failed=%lld", o->name,
                     f->dir, (long long)f->failed);
            f->failed = 0;
        }
        o->run_failed = 0;
        o->ever_ok = true;
        pthread_mutex_unlock(&o->lock);
        return 0;
    }
    int64_t now = av_gettime_relative();
    folder_t *f = folder_of(o, url, true);
    o->st.put_failed++;
    if (!o->run_failed++)
        o->run_start_us = now;
    if (!f->failed++) {
        if (ret == 0)
            log_warn(MOD, "The origin refused a PUT; viewers miss this file.",
                     "session=\"%s\" url=\"%s\" status=%d", o->name, url,
                     status);
        else
            log_warn(MOD, "A PUT did not reach the origin.",
                     "session=\"%s\" url=\"%s\" err=\"%s\"", o->name, url, err);
    }
    if (!o->fatal &&
        ((!o->ever_ok && o->run_failed >= o->p.first_tries) ||
         (o->ever_ok && o->p.fail_s > 0 &&
          now - o->run_start_us >= (int64_t)(o->p.fail_s * 1e6)))) {
        o->fatal = -EIO;
        char why[300];
        if (ret == 0)
            snprintf(why, sizeof(why), "status %d", status);
        else
            snprintf(why, sizeof(why), "%s", err);
        log_error(MOD,
                  o->ever_ok ? "The origin has refused every PUT for too "
                               "long; the session ends."
                             : "The origin took none of the session's "
                               "files; nothing reaches viewers, the session "
                               "ends.",
                  "session=\"%s\" url=\"%s\" last=\"%s\" failed=%lld "
                  "seconds=%.1f",
                  o->name, url, why, (long long)o->run_failed,
                  (now - o->run_start_us) / 1e6);
    }
    pthread_mutex_unlock(&o->lock);
    bool again = ret < 0 || status >= 500 || status == 408 || status == 429;
    return again ? -EAGAIN : -EIO;
}

int origin_delete(origin_t *o, const char *url)
{
    char err[256] = "";
    int status = 0;
    int ret = request(o, "DELETE", url, NULL, 0, &status, err, sizeof(err));
    pthread_mutex_lock(&o->lock);
    if (ret == 0 && ((status >= 200 && status < 300) || status == 404)) {
        o->st.deletes++;
        pthread_mutex_unlock(&o->lock);
        return 0;
    }
    o->st.delete_failed++;
    bool log = !o->delete_logged;
    o->delete_logged = true;
    pthread_mutex_unlock(&o->lock);
    if (log) {
        if (ret == 0)
            log_warn(MOD,
                     "The origin refused to delete an old segment; old "
                     "segments stay there (counted, logged once).",
                     "session=\"%s\" url=\"%s\" status=%d", o->name, url,
                     status);
        else
            log_warn(MOD,
                     "A DELETE did not reach the origin; old segments stay "
                     "there (counted, logged once).",
                     "session=\"%s\" url=\"%s\" err=\"%s\"", o->name, url, err);
    }
    return ret < 0 ? ret : -EIO;
}

int origin_fatal(origin_t *o)
{
    pthread_mutex_lock(&o->lock);
    int fatal = o->fatal;
    pthread_mutex_unlock(&o->lock);
    return fatal;
}

void origin_stats(origin_t *o, origin_stats_t *out)
{
    pthread_mutex_lock(&o->lock);
    *out = o->st;
    out->queued = o->nqueued + o->busy;
    pthread_mutex_unlock(&o->lock);
}

/* ------------------------------------------------------- the upload queue */

static bool is_playlist(const char *url)
{
    const char *q = strchr(url, '?');
    size_t n = q ? (size_t)(q - url) : strlen(url);
    return n >= 5 && !strncmp(url + n - 5, ".m3u8", 5);
}

/* Takes J out of the queue (PREV its predecessor, or NULL). Locked. */
static void unlink_job(origin_t *o, job_t *prev, job_t *j)
{
    if (prev)
        prev->next = j->next;
    else
        o->head = j->next;
    if (o->tail == j)
        o->tail = prev;
    o->nqueued--;
    o->qbytes -= j->len;
}

/* Drops the oldest job that is not a playlist; false when none. Locked. */
static bool drop_oldest(origin_t *o)
{
    job_t *prev = NULL;
    for (job_t *j = o->head; j; prev = j, j = j->next) {
        if (j->playlist)
            continue;
        unlink_job(o, prev, j);
        o->st.dropped++;
        if (!o->drop_run) {
            o->drop_run = true;
            log_warn(MOD,
                     "The origin is too slow for the stream; the upload "
                     "queue is full and drops its oldest segments (counted, "
                     "logged once per run).",
                     "session=\"%s\" url=\"%s\" queued=%d bytes=%zu", o->name,
                     j->url, o->nqueued, o->qbytes);
        }
        job_free(j);
        return true;
    }
    return false;
}

/* Queues a job for URL; takes DATA (av_malloc'd, may be NULL). */
static int enqueue(origin_t *o, const char *url, bool del, uint8_t *data,
                   size_t len)
{
    job_t *j = calloc(1, sizeof(*j));
    if (!j) {
        av_free(data);
        return -ENOMEM;
    }
    j->del = del;
    j->playlist = !del && is_playlist(url);
    j->data = data;
    j->len = len;
    snprintf(j->url, sizeof(j->url), "%s", url);

    pthread_mutex_lock(&o->lock);
    if (o->fatal || o->stop || o->discarded) {
        int ret = o->fatal ? o->fatal : -ECANCELED;
        pthread_mutex_unlock(&o->lock);
        job_free(j);
        return ret;
    }
    if (j->playlist) { /* a newer copy replaces a queued one */
        job_t *prev = NULL;
        for (job_t *q = o->head; q; prev = q, q = q->next) {
            if (q->playlist && !strcmp(q->url, url)) {
                unlink_job(o, prev, q);
                job_free(q);
                break;
            }
        }
    }
    bool dropped = false;
    while (o->nqueued + 1 > o->p.queue_files ||
           o->qbytes + len > o->p.queue_bytes) {
        if (!drop_oldest(o))
            break;
        dropped = true;
    }
    int ret = 0;
    if (!j->playlist && (o->nqueued + 1 > o->p.queue_files ||
                         o->qbytes + len > o->p.queue_bytes)) {
        /* Only playlists queued: this one goes. */
        o->st.dropped++;
        dropped = true;
        ret = -ENOBUFS;
        job_free(j);
    } else {
        if (o->tail)
            o->tail->next = j;
        else
            o->head = j;
        o->tail = j;
        o->nqueued++;
        o->qbytes += len;
        pthread_cond_broadcast(&o->cond);
    }
    if (!dropped && o->drop_run) {
        o->drop_run = false;
        log_info(MOD, "The upload queue has room again.",
                 "session=\"%s\" dropped=%lld", o->name,
                 (long long)o->st.dropped);
    }
    pthread_mutex_unlock(&o->lock);
    return ret;
}

int origin_send(origin_t *o, const char *url, const void *data, size_t len)
{
    uint8_t *copy = av_malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    return enqueue(o, url, false, copy, len);
}

int origin_send_delete(origin_t *o, const char *url)
{
    return enqueue(o, url, true, NULL, 0);
}

/* Waits on the writer's condition (locked) for at most MS. */
static void wait_ms(origin_t *o, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + ms * 1000000LL;
    ts.tv_sec += ns / 1000000000LL;
    ts.tv_nsec = ns % 1000000000LL;
    pthread_cond_timedwait(&o->cond, &o->lock, &ts);
}

void origin_discard(origin_t *o)
{
    pthread_mutex_lock(&o->lock);
    int n = o->nqueued;
    while (o->head) {
        job_t *j = o->head;
        unlink_job(o, NULL, j);
        job_free(j);
    }
    o->discarded = true;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
    log_warn(MOD,
             "The stream went to another worker while this one was fenced; "
             "its files still queued are dropped, not sent.",
             "session=\"%s\" dropped=%d", o->name, n);
}

/*
 * A PUT the origin did not take but may (no answer, 5xx, 408, 429): the
 * file goes back to the head of the queue and the uploader waits
 * RETRY_MS, so that the files behind it keep their order and a playlist
 * never reaches the origin before the segments it lists. A playlist with
 * a newer copy queued is dropped instead; a full queue drops it as its
 * oldest segment. Locked.
 */
static void retry_later(origin_t *o, job_t *j)
{
    for (job_t *q = o->head; j->playlist && q; q = q->next) {
        if (q->playlist && !strcmp(q->url, j->url)) {
            job_free(j);
            return;
        }
    }
    j->next = o->head;
    o->head = j;
    if (!o->tail)
        o->tail = j;
    o->nqueued++;
    o->qbytes += j->len;
    int64_t until = clock_mono_ms() + RETRY_MS;
    while (!o->stop && !o->discarded && clock_mono_ms() < until)
        wait_ms(o, until - clock_mono_ms());
}

/* Waits (locked) while the fence holds: after a freeze nothing goes out
 * until the agent has heard from the coordinator (fence.h). */
static void wait_fence(origin_t *o)
{
    bool logged = false;
    while (!o->stop && !o->discarded &&
           fence_holds(o->p.fence, clock_mono_ms())) {
        if (!logged) {
            logged = true;
            log_warn(MOD,
                     "Uploads wait: this worker was frozen and may have "
                     "been replaced; the coordinator's answer decides.",
                     "session=\"%s\" queued=%d", o->name, o->nqueued);
        }
        wait_ms(o, FENCE_POLL_MS);
    }
    if (logged && !o->stop && !o->discarded)
        log_info(MOD, "Uploads go on: the coordinator kept the stream here.",
                 "session=\"%s\" queued=%d", o->name, o->nqueued);
}

static void *uploader(void *arg)
{
    origin_t *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (!o->head && !o->stop)
            pthread_cond_wait(&o->cond, &o->lock);
        wait_fence(o);
        if (o->stop)
            break;
        if (!o->head)
            continue; /* discarded while it waited */
        job_t *j = o->head;
        unlink_job(o, NULL, j);
        bool skip = o->fatal; /* the session ends: nobody sees it */
        o->busy = true;
        pthread_mutex_unlock(&o->lock);
        int rc = 0;
        if (!skip && j->del)
            origin_delete(o, j->url);
        else if (!skip)
            rc = origin_put(o, j->url, j->data, j->len);
        pthread_mutex_lock(&o->lock);
        o->busy = false;
        if (rc == -EAGAIN && !o->fatal && !o->stop && !o->discarded)
            retry_later(o, j);
        else
            job_free(j);
        pthread_cond_broadcast(&o->cond);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

int origin_drain(origin_t *o)
{
    pthread_mutex_lock(&o->lock);
    /* One request deadline per file waiting, and a second to spare. */
    int64_t budget_ms = (int64_t)(o->nqueued + o->busy) * o->p.timeout_ms;
    int64_t deadline = clock_mono_ms() + budget_ms + 1000;
    int ret = 0;
    while (o->head || o->busy) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            ret = -ETIMEDOUT;
            break;
        }
        wait_ms(o, left < 100 ? left : 100);
    }
    int left_files = o->nqueued + o->busy;
    pthread_mutex_unlock(&o->lock);
    if (ret < 0)
        log_warn(MOD,
                 "The origin did not take the session's last files in time; "
                 "they are dropped.",
                 "session=\"%s\" left=%d budget_ms=%lld", o->name, left_files,
                 (long long)budget_ms);
    return ret;
}

/* origin_read_text for an http(s) URL: a GET with the bearer token. */
static char *read_http(const char *url, size_t max,
                       const origin_access_t *access, size_t *lenp)
{
    char err[256], *out = NULL;
    int status = 0;
    http_client_opts_t ho = client_opts(access, READ_TIMEOUT_MS, max);
    http_client_t *c = http_client_new(&ho);
    if (!c)
        return NULL;
    /* Absent (404) or refused: NULL. */
    if (http_client_request(c, "GET", url, NULL, 0, &status, err,
                            sizeof(err)) == 0 &&
        status >= 200 && status < 300) {
        size_t n = 0;
        const char *body = http_client_body(c, &n);
        if ((out = malloc(n + 1))) {
            memcpy(out, body, n);
            out[n] = '\0';
            *lenp = n;
        }
    }
    http_client_free(&c);
    return out;
}

char *origin_read_text(const char *url, size_t max,
                       const origin_access_t *access)
{
    size_t len;
    return origin_read(url, max, access, &len);
}

char *origin_read(const char *url, size_t max, const origin_access_t *access,
                  size_t *lenp)
{
    *lenp = 0;
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
        return read_http(url, max, access, lenp);
    AVIOContext *io = NULL;
    AVDictionary *o = NULL;
    av_dict_set_int(&o, "rw_timeout", READ_TIMEOUT_MS * 1000LL, 0);
    int ret = avio_open2(&io, url, AVIO_FLAG_READ, NULL, &o);
    av_dict_free(&o);
    if (ret < 0)
        return NULL;
    size_t len = 0;
    char *buf = malloc(max + 1);
    while (buf && len < max) {
        size_t want = max - len > INT_MAX ? INT_MAX : max - len;
        int n = avio_read(io, (unsigned char *)buf + len, (int)want);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    *lenp = len;
    avio_closep(&io);
    if (buf)
        buf[len] = '\0';
    return buf;
}
