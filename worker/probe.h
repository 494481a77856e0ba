/* Device probe: CUDA (NVDEC, NVENC by opening sessions), VAAPI, CPU. */
#ifndef PRISM_PROBE_H
#define PRISM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hwplan.h"

#define PROBE_MAX_CUDA  8
#define PROBE_MAX_VAAPI 8
/* NVENC sessions the probe opens side by side at most to learn the
 * device's limit (GeForce cards refuse after a few; data-centre cards
 * have none but memory). */
#define PROBE_NVENC_SESSIONS_MAX 16

/* How an attempt to open an NVENC session ended. */
typedef enum {
    PROBE_NVENC_OK = 0,
    PROBE_NVENC_ABSENT,        /* the GPU has no NVENC (H100, H200, ...) */
    PROBE_NVENC_SESSION_LIMIT, /* out of sessions: GeForce limit reached */
    PROBE_NVENC_DRIVER,        /* driver too old for this FFmpeg's API */
    PROBE_NVENC_ERROR,         /* anything else */
} probe_nvenc_t;

typedef struct {
    int index;
    char name[128];
    bool nvdec_h264, nvdec_hevc, nvdec_av1;
    probe_nvenc_t nvenc_h264, nvenc_hevc;
    char nvenc_error[256]; /* FFmpeg's own words when a session failed */
    /* h264_nvenc sessions that opened side by side (0 = not counted: no
     * NVENC); with nvenc_limit "" it is PROBE_NVENC_SESSIONS_MAX and the
     * limit is at least that, else nvenc_limit is why the next failed. */
    int nvenc_sessions;
    char nvenc_limit[160];
    uint64_t memory_bytes; /* total GPU memory (NVML); 0 = unknown */
} probe_cuda_t;

typedef struct {
    char profile[40];
    char entrypoints[128]; /* "EncSlice,EncSliceLP,VLD" */
    bool encode;
} probe_vaapi_profile_t;

typedef struct {
    char path[64];
    char vendor[256];
    char driver_error[128]; /* why it did not initialise, when it did not */
    bool ok;
    int nprofiles;
    probe_vaapi_profile_t profiles[48];
} probe_vaapi_t;

typedef struct {
    bool cuda_driver;
    char cuda_error[128]; /* why there is no CUDA, when there is none */
    int ncuda;
    probe_cuda_t cuda[PROBE_MAX_CUDA];
    int nvaapi;
    probe_vaapi_t vaapi[PROBE_MAX_VAAPI];
    int cpu_cores;
    double cpu_limit_cores; /* the worker's cgroup CPU limit; 0 = none */
    uint64_t memory_bytes;  /* the host's RAM; 0 = unknown */
    char sw_encoders[128];  /* "libx264,libx265,libsvtav1,aac" */
} probe_t;

/*
 * Probes every device. NVENC is checked by opening a real h264_nvenc and
 * hevc_nvenc session on each CUDA device, and its session limit learned
 * by opening sessions side by side until one is refused (bounded), VAAPI by
 * initialising libva on each render node. Never fails: what is missing is
 * recorded with a reason. Not thread safe (it takes over the FFmpeg log
 * callback while it runs).
 */
void probe_run(probe_t *p);

/*
 * Classifies a failed NVENC open from FFmpeg's log text: "OpenEncodeSessionEx
 * failed: out of memory (10)" is the session limit of GeForce cards (other
 * sessions are open), "No capable devices found" / "unsupported device"
 * means the GPU has no NVENC, "Driver does not support the required nvenc
 * API version" an old driver.
 */
probe_nvenc_t probe_classify_nvenc(int averr, const char *log_text);
const char *probe_nvenc_name(probe_nvenc_t v);

/* Reduces a probe to what hwplan_pick_backend() needs. */
void probe_devices(const probe_t *p, hwplan_devices_t *out);

/* Writes the probe as text (for people) or JSON to a FILE *. */
void probe_print(const probe_t *p, bool json, void *out);

#endif
