/* `prism-worker calibrate`: timed encodes that measure device budgets. */
#ifndef PRISM_CALIBRATE_H
#define PRISM_CALIBRATE_H

#include <stdbool.h>
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

/* Distinct test frames made before the timed loops (cycled through). */
#define CALIBRATE_POOL 16

/*
 * Reads a budgets file into out[max]. Returns the number of entries, or
 * -errno (-ENOENT: no file) / -EINVAL (a malformed line; logged with the
 * path and line number).
 */
int calibrate_load(const char *path, calibrate_budget_t *out, int max);

/* Writes entries to path (via a temporary file and rename). 0 or -errno. */
int calibrate_save(const char *path, const calibrate_budget_t *b, int n);

/*
 * Measures one software encoder: encodes w x h frames (CALIBRATE_POOL of
 * them, generated before the clock starts) with `encoder` ("libx264";
 * options "key=value:..." may be NULL) for about `seconds`, then decodes
 * what it made with the default (CPU) decoder. Gives encode and decode
 * luma pixels per second. 0, or a negative AVERROR (logged).
 */
int calibrate_measure(const char *encoder, const char *options, int w, int h,
                      double seconds, double *enc_pps, double *dec_pps);

/* NVENC sessions a calibration opens at most side by side. */
#define CALIBRATE_MAX_SESSIONS 16

typedef struct {
    double encode_pps; /* all sessions together; 0 without NVENC */
    double decode_pps; /* NVDEC decode with a scale_cuda per frame */
    int sessions;      /* NVENC sessions that opened and ran */
    char note[160];    /* why a figure is missing (FFmpeg's words) */
} calibrate_cuda_t;

/*
 * Measures CUDA device `index` (its primary context): the decode budget
 * through NVDEC (an H.264 stream made beforehand, decoded again and again,
 * each frame scaled by scale_cuda on the device, nothing downloaded) and,
 * when nvenc, the encode budget with as many h264_nvenc sessions as open
 * (up to max_sessions and CALIBRATE_MAX_SESSIONS; the first refusal ends
 * the count and its words go to note) running side by side from frames
 * uploaded once before the clock starts. A GPU without NVENC (H100) gets
 * its decode budget. Returns 0 when a figure was measured, -ENODEV when
 * the device does not open, -EIO when nothing could be measured (note
 * says why); logged.
 */
int calibrate_cuda(int index, bool nvenc, int max_sessions, int w, int h,
                   double seconds, calibrate_cuda_t *out);

/* `prism-worker calibrate`: argv[0] = "calibrate". Returns the exit code. */
int calibrate_cmd(int argc, char **argv);

#endif
