/* NVIDIA NVML, loaded at run time, for encoder and decoder utilisation. */
#ifndef PRISM_NVML_H
#define PRISM_NVML_H

#include <stdint.h>

/*
 * libnvidia-ml.so.1 is opened with dlopen, so the worker needs no NVIDIA
 * library to build or run: without it (no driver, no GPU), nvml_open
 * returns NULL and load reports say "unknown" (-1). Threads: one thread
 * uses an nvml_t at a time (the agent's loop).
 */
typedef struct nvml nvml_t;

/* What NVML says of one GPU; -1 where it did not answer. */
typedef struct {
    int encoder_util; /* percent */
    int decoder_util; /* percent */
    int64_t memory_used;
    int64_t memory_total;
} nvml_sample_t;

/* Loads and initialises NVML; NULL when absent (logged once at debug). */
nvml_t *nvml_open(void);

/* Samples CUDA device `index` (NVML's order). 0, or -ENODEV. */
int nvml_sample(nvml_t *n, unsigned index, nvml_sample_t *out);

/* Shuts NVML down, unloads it and sets *np = NULL; NULL-safe. */
void nvml_close(nvml_t **np);

#endif
