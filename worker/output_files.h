/* The session's output: paths under it, and whole files written there. */
#ifndef PRISM_OUTPUT_FILES_H
#define PRISM_OUTPUT_FILES_H

#include <stddef.h>

#include "transcode_int.h"

/* The path (or origin URL) of REL under the session's output, in
 * buf[len]. */
void output_files_path(const transcode_session_t *s, const char *rel, char *buf,
                       size_t len);

/* The path of FILE of rendition r relative to the output
 * ("360p30/index.m3u8"), in buf[len]. */
void output_files_rend_rel(const rend_t *r, const char *file, char *buf,
                           size_t len);

/* The text of REL under the output (a playlist, the master), read back
 * from the directory or the origin; NULL when it cannot be read. The
 * caller frees it. Blocks on the origin (its timeouts). */
char *output_files_read(const transcode_session_t *s, const char *rel);

/* As output_files_read, for a file of any bytes up to MAX: its length in
 * *LEN. */
char *output_files_read_bytes(const transcode_session_t *s, const char *rel,
                              size_t max, size_t *len);

/* output_files_read of rendition r's playlist. */
char *output_files_read_playlist(const transcode_session_t *s, const rend_t *r);

/*
 * Writes a file whole under the output: to a directory through a
 * temporary file and a rename, so a reader never sees half of it; to an
 * origin by queueing it for the uploader (a refused PUT is counted there
 * and the origin's policy ends the session). Returns 0 or the session's
 * fatal code (set here for a local write that fails, logged).
 */
int output_files_put(transcode_session_t *s, const char *rel, const void *data,
                     size_t len);

/* Creates directory PATH when missing and checks it is a writable
 * directory. Returns 0 or -EIO (logged). */
int output_files_make_dir(const char *path);

#endif
