/* prism-origin's disk spill: plain files named by id, written whole before
 * the store lists them as on disk, so a reader never sees a partial one. */
#include "origin_spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MOD "origin"

#define SUFFIX ".spill"

static void file_name(const char *dir, uint64_t id, char *out, size_t len)
{
    snprintf(out, len, "%s/%016" PRIx64 SUFFIX, dir, id);
}

static bool is_spill_file(const char *name)
{
    size_t n = strlen(name), m = strlen(SUFFIX);
    return n == 16 + m && !strcmp(name + 16, SUFFIX) &&
           strspn(name, "0123456789abcdef") == 16;
}

int origin_spill_open(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "spill_dir %s: %s", dir, strerror(e));
        return -e;
    }
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        snprintf(err, errlen, "spill_dir %s: %s", dir, strerror(e));
        return -e;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_spill_file(de->d_name))
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    return 0;
}

int origin_spill_write(const char *dir, uint64_t id, const origin_blob_t *b)
{
    char name[1100];
    file_name(dir, id, name, sizeof(name));
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            unlink(name);
            return -e;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        int e = errno;
        unlink(name);
        return -e;
    }
    return 0;
}

origin_blob_t *origin_spill_read(const char *dir, uint64_t id, size_t len,
                                 int *err)
{
    char name[1100];
    file_name(dir, id, name, sizeof(name));
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    origin_blob_t *b = origin_blob_alloc(len);
    size_t off = 0;
    *err = b ? 0 : -ENOMEM;
    while (b && off < len) {
        ssize_t n = read(fd, b->data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? -errno : -EIO; /* shorter than listed */
            origin_blob_unref(&b);
            break;
        }
        off += (size_t)n;
    }
    close(fd);
    if (b)
        origin_blob_seal(b);
    return b;
}

void origin_spill_remove(const char *dir, uint64_t id)
{
    char name[1100];
    file_name(dir, id, name, sizeof(name));
    unlink(name);
}

void origin_spill_run(origin_store_t *s, pthread_mutex_t *mu, const char *dir)
{
    origin_spill_job_t jobs[16];
    int rc[16], n;
    while ((n = origin_store_spill_jobs(s, jobs, 16)) > 0) {
        pthread_mutex_unlock(mu);
        for (int i = 0; i < n; i++) {
            rc[i] = 0;
            if (!jobs[i].blob)
                origin_spill_remove(dir, jobs[i].id);
            else if ((rc[i] = origin_spill_write(dir, jobs[i].id,
                                                 jobs[i].blob)) < 0)
                log_error(MOD, "Spilling a file to disk failed; it is dropped.",
                          "path=\"%.200s\" dir=\"%s\" err=\"%s\"", jobs[i].path,
                          dir, strerror(-rc[i]));
        }
        pthread_mutex_lock(mu);
        for (int i = 0; i < n; i++) {
            if (jobs[i].blob)
                origin_store_spill_done(s, &jobs[i], rc[i] == 0);
            else
                origin_spill_job_free(&jobs[i]);
        }
    }
}
