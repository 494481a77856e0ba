/* `prism-worker calibrate`: timed encodes that measure device budgets. */
#ifndef PRISM_CALIBRATE_H
#define PRISM_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The budgets file (written by calibrate, read by `prism-worker run`):
 * one line per device, "PATH ENCODE_BUDGET DECODE_BUDGET", budgets in luma
 * pixels per second; lines starting with # are comments. PATH is the
 * device's path as registered ("cpu", "cuda:0", "/dev/dri/renderD128").
 */
typedef struct {
    char path[64];
    uint64_t encode_budget, decode_budget;
} calibrate_budget_t;

#define CALIBRATE_MAX 17

/*
 * Reads a budgets file into out[max]. Returns the number of entries, or
 * -errno (-ENOENT: no file) / -EINVAL (a malformed line; logged with the
 * path and line number).
 */
int calibrate_load(const char *path, calibrate_budget_t *out, int max);

/* Writes entries to path (via a temporary file and rename). 0 or -errno. */
int calibrate_save(const char *path, const calibrate_budget_t *b, int n);

/*
 * Measures one encoder: encodes generated w x h frames with `encoder`
 * ("libx264", "h264_nvenc"; options "key=value:..." may be NULL) for
 * about `seconds`, then decodes what it made. Gives encode and decode
 * luma pixels per second. 0, or a negative AVERROR (logged).
 */
int calibrate_measure(const char *encoder, const char *options, int w, int h,
                      double seconds, double *enc_pps, double *dec_pps);

/* `prism-worker calibrate`: argv[0] = "calibrate". Returns the exit code. */
int calibrate_cmd(int argc, char **argv);

#endif
