/* The devices a worker offers the coordinator, from the probe and config. */
#ifndef PRISM_DEVICE_OFFER_H
#define PRISM_DEVICE_OFFER_H

#include <stdbool.h>
#include <stdint.h>

#include "hwplan.h"
#include "prism.pb-c.h"
#include "probe.h"
#include "worker_config.h"

/* One device as offered to the coordinator. */
typedef struct {
    Prism__DeviceKind kind;
    char name[128];
    char path[64];   /* "cpu", "cuda:0", "/dev/dri/renderD128" */
    unsigned codecs; /* encode: bits 1 << ladder_codec_t */
    bool hw_encode, hw_decode;
    uint32_t max_sessions; /* 0 = no limit */
    uint64_t encode_budget, decode_budget;
    uint64_t memory_bytes; /* 0 = unknown (VAAPI) */
    char note[128];
    hwplan_backend_t backend; /* how sessions on it run */
    char device[64];          /* transcode_opts_t.device */
    int cuda_index;           /* for NVML; -1 = not a CUDA device */
} device_offer_t;

#define DEVICE_OFFER_MAX 17

/*
 * The devices offered from a probe and the config: NVENC GPUs, VAAPI
 * nodes with an encoder and, when no GPU is offered (or backend is
 * software), the CPU. Budgets come from `budgets_file` when it names the
 * device's path, else from the config (CPU 0 = 12M encode / 60M decode
 * luma pixels per second per core). Returns the number of devices (at
 * most MAX, which must leave room for the CPU).
 */
int device_offer_list(const probe_t *p, const worker_config_t *cfg,
                      device_offer_t *out, int max);

#endif
