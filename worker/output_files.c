/* The session's output: paths under it, and whole files written there. */
#include "output_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "origin.h"

#define MOD "transcode"
/* The longest playlist read back from the output. */
#define TEXT_MAX (1 << 20)

void output_files_path(const transcode_session_t *s, const char *rel, char *buf,
                       size_t len)
{
    size_t n = strlen(s->o.output);
    bool slash = n && s->o.output[n - 1] == '/';
    snprintf(buf, len, "%s%s%s", s->o.output, slash ? "" : "/", rel);
}

void output_files_rend_rel(const rend_t *r, const char *file, char *buf,
                           size_t len)
{
    snprintf(buf, len, "%s/%s", r->r.name, file);
}

char *output_files_read(const transcode_session_t *s, const char *rel)
{
    char url[1400];
    output_files_path(s, rel, url, sizeof(url));
    return origin_read_text(url, TEXT_MAX, &s->o.origin.access);
}

char *output_files_read_bytes(const transcode_session_t *s, const char *rel,
                              size_t max, size_t *len)
{
    char url[1400];
    output_files_path(s, rel, url, sizeof(url));
    return origin_read(url, max, &s->o.origin.access, len);
}

char *output_files_read_playlist(const transcode_session_t *s, const rend_t *r)
{
    char rel[160];
    output_files_rend_rel(r, "index.m3u8", rel, sizeof(rel));
    return output_files_read(s, rel);
}

int output_files_put(transcode_session_t *s, const char *rel, const void *data,
                     size_t len)
{
    char path[1400], tmp[1410];
    if (s->fatal)
        return s->fatal;
    output_files_path(s, rel, path, sizeof(path));
    if (s->http) {
        /* Queued for the uploader; a refused PUT is counted there and the
         * origin's policy ends the session. */
        origin_send(s->origin, path, data, len);
        return s->fatal = origin_fatal(s->origin);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        int e = errno;
        log_error(MOD, "Cannot write an output file.",
                  "call=fwrite path=\"%s\" err=\"%s\"", tmp, strerror(e));
        if (f)
            fclose(f);
        return s->fatal = -EIO;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        log_error(MOD, "Cannot rename an output file.",
                  "call=rename path=\"%s\" err=\"%s\"", path, strerror(e));
        return s->fatal = -EIO;
    }
    return 0;
}

int output_files_make_dir(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        log_error(MOD, "Cannot create the output directory.",
                  "call=mkdir path=\"%s\" err=\"%s\"", path, strerror(e));
        return -EIO;
    }
    if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        log_error(MOD, "The output directory is not a directory.",
                  "call=stat path=\"%s\" err=\"%s\"", path, strerror(ENOTDIR));
        return -EIO;
    }
    if (access(path, W_OK) < 0) {
        int e = errno;
        log_error(MOD, "The output directory is not writable.",
                  "call=access path=\"%s\" err=\"%s\"", path, strerror(e));
        return -EIO;
    }
    return 0;
}
