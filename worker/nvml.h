/* NVIDIA NVML, loaded at run time, for encoder and decoder utilisation. */
#ifndef PRISM_NVML_H
#define PRISM_NVML_H

#include <stdint.h>

/*
 * libnvidia-ml.so.1 is opened with dlopen, so the worker needs no NVIDIA
 * library to build or run: without it (no driver, no GPU), nvml_open
 * returns NULL and load reports say "unknown" (-1). The worker names GPUs
 * by their CUDA index, and CUDA orders devices fastest first while NVML
 * orders them by PCI slot: each CUDA device is matched to its NVML handle
 * by PCI bus id (the CUDA driver, libcuda.so.1, also loaded with dlopen,
 * gives it). Without the CUDA driver the indices are taken as the same,
 * which holds on a host with one GPU or GPUs of one model (logged).
 * Threads: one thread uses an nvml_t at a time (the agent's loop).
 */
typedef struct nvml nvml_t;

/* What NVML says of one GPU; -1 where it did not answer. */
typedef struct {
    int encoder_util; /* percent */
    int decoder_util; /* percent */
    int sm_util;      /* percent of time a kernel ran (nvmlUtilization_t.gpu) */
    int64_t memory_used;
    int64_t memory_total;
} nvml_sample_t;

/* Loads and initialises NVML; NULL when absent (logged once at debug). */
nvml_t *nvml_open(void);

/* As nvml_open, with the libraries to load by name or path (tests load
 * fakes this way): NVML_LIB (NULL: libnvidia-ml.so.1), CUDA_LIB (NULL:
 * libcuda.so.1). */
nvml_t *nvml_open_libs(const char *nvml_lib, const char *cuda_lib);

/* Samples the GPU of CUDA index `cuda_index`, matched by PCI bus id. 0, or
 * -ENODEV. */
int nvml_sample(nvml_t *n, unsigned cuda_index, nvml_sample_t *out);

/* The PCI bus id of CUDA device `cuda_index` as matched at open ("" when
 * the indices were taken as the same). */
const char *nvml_pci_bus_id(const nvml_t *n, unsigned cuda_index);

/* Shuts NVML down, unloads it and sets *np = NULL; NULL-safe. */
void nvml_close(nvml_t **np);

#endif
