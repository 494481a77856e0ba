/* NVIDIA NVML, loaded at run time, for encoder and decoder utilisation. */
#include "nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MOD "nvml"

/* CUDA devices matched by PCI bus id; more are sampled by index. */
#define NVML_MAX_GPUS 16
#define BUS_ID_LEN    32

/* The few NVML and CUDA driver entry points used, as their headers have
 * them. */
typedef void *nvml_dev_t;
typedef struct {
    unsigned long long total, free, used;
} nvml_memory_t;
typedef struct {
    unsigned gpu, memory;
} nvml_util_t;

struct nvml {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    int (*handle)(unsigned, nvml_dev_t *);
    int (*by_bus)(const char *, nvml_dev_t *);
    int (*enc_util)(nvml_dev_t, unsigned *, unsigned *);
    int (*dec_util)(nvml_dev_t, unsigned *, unsigned *);
    int (*util)(nvml_dev_t, nvml_util_t *);
    int (*memory)(nvml_dev_t, nvml_memory_t *);
    int ngpus; /* CUDA devices matched by bus id */
    nvml_dev_t dev[NVML_MAX_GPUS];
    char bus[NVML_MAX_GPUS][BUS_ID_LEN];
};

/* Matches each CUDA device to its NVML handle by PCI bus id, through the
 * CUDA driver loaded from CUDA_LIB; without it n->ngpus stays 0. */
static void match_by_bus(nvml_t *n, const char *cuda_lib)
{
    int (*cu_init)(unsigned), (*cu_count)(int *), (*cu_get)(int *, int),
        (*cu_bus)(char *, int, int);
    void *cu = dlopen(cuda_lib, RTLD_NOW | RTLD_LOCAL);
    if (!cu || !n->by_bus) {
        log_info(MOD,
                 "No CUDA driver to match GPUs by PCI bus id; CUDA and "
                 "NVML indices are taken as the same.",
                 "lib=%s", cuda_lib);
        if (cu)
            dlclose(cu);
        return;
    }
    *(void **)&cu_init = dlsym(cu, "cuInit");
    *(void **)&cu_count = dlsym(cu, "cuDeviceGetCount");
    *(void **)&cu_get = dlsym(cu, "cuDeviceGet");
    *(void **)&cu_bus = dlsym(cu, "cuDeviceGetPCIBusId");
    int count = 0;
    if (!cu_init || !cu_count || !cu_get || !cu_bus || cu_init(0) != 0 ||
        cu_count(&count) != 0)
        count = 0;
    if (count > NVML_MAX_GPUS)
        count = NVML_MAX_GPUS;
    int k = 0;
    for (; k < count; k++) {
        int d;
        if (cu_get(&d, k) != 0 || cu_bus(n->bus[k], BUS_ID_LEN, d) != 0 ||
            n->by_bus(n->bus[k], &n->dev[k]) != 0) {
            log_warn(MOD, "A CUDA device has no NVML match by PCI bus id.",
                     "cuda_index=%d bus_id=%s", k, n->bus[k]);
            break;
        }
        log_info(MOD, "GPU matched by PCI bus id.", "cuda_index=%d bus_id=%s",
                 k, n->bus[k]);
    }
    n->ngpus = k == count ? count : 0;
    dlclose(cu);
}

nvml_t *nvml_open_libs(const char *nvml_lib, const char *cuda_lib)
{
    const char *name = nvml_lib ? nvml_lib : "libnvidia-ml.so.1";
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        log_debug(MOD, "NVML is not present; utilisation is unknown.",
                  "err=\"%s\"", dlerror());
        return NULL;
    }
    nvml_t *n = calloc(1, sizeof(*n));
    if (!n) {
        dlclose(lib);
        return NULL;
    }
    n->lib = lib;
    /* POSIX allows converting dlsym's object pointer to a function one. */
    *(void **)&n->init = dlsym(lib, "nvmlInit_v2");
    *(void **)&n->shutdown = dlsym(lib, "nvmlShutdown");
    *(void **)&n->handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->by_bus = dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&n->enc_util = dlsym(lib, "nvmlDeviceGetEncoderUtilization");
    *(void **)&n->dec_util = dlsym(lib, "nvmlDeviceGetDecoderUtilization");
    *(void **)&n->util = dlsym(lib, "nvmlDeviceGetUtilizationRates");
    *(void **)&n->memory = dlsym(lib, "nvmlDeviceGetMemoryInfo");
    if (!n->init || !n->shutdown || !n->handle || !n->enc_util ||
        !n->dec_util || !n->memory) {
        log_warn(MOD, "NVML lacks an entry point; utilisation is unknown.",
                 "call=dlsym lib=%s", name);
        goto err;
    }
    int ret = n->init();
    if (ret != 0) {
        log_warn(MOD, "NVML did not initialise; utilisation is unknown.",
                 "call=nvmlInit_v2 code=%d", ret);
        goto err;
    }
    match_by_bus(n, cuda_lib ? cuda_lib : "libcuda.so.1");
    log_info(MOD, "NVML loaded: encoder and decoder utilisation reported.",
             "matched_by_bus_id=%d", n->ngpus);
    return n;
err:
    dlclose(lib);
    free(n);
    return NULL;
}

nvml_t *nvml_open(void)
{
    return nvml_open_libs(NULL, NULL);
}

int nvml_sample(nvml_t *n, unsigned cuda_index, nvml_sample_t *out)
{
    nvml_dev_t d;
    unsigned u, period;
    nvml_memory_t m;
    nvml_util_t ut;
    out->encoder_util = out->decoder_util = out->sm_util = -1;
    out->memory_used = out->memory_total = -1;
    if (!n)
        return -ENODEV;
    if (n->ngpus > 0) {
        if (cuda_index >= (unsigned)n->ngpus)
            return -ENODEV;
        d = n->dev[cuda_index];
    } else if (n->handle(cuda_index, &d) != 0) {
        return -ENODEV;
    }
    if (n->enc_util(d, &u, &period) == 0)
        out->encoder_util = (int)u;
    if (n->dec_util(d, &u, &period) == 0)
        out->decoder_util = (int)u;
    if (n->util && n->util(d, &ut) == 0)
        out->sm_util = (int)ut.gpu;
    if (n->memory(d, &m) == 0) {
        out->memory_used = (int64_t)m.used;
        out->memory_total = (int64_t)m.total;
    }
    return 0;
}

const char *nvml_pci_bus_id(const nvml_t *n, unsigned cuda_index)
{
    return n && cuda_index < (unsigned)n->ngpus ? n->bus[cuda_index] : "";
}

void nvml_close(nvml_t **np)
{
    nvml_t *n = np ? *np : NULL;
    if (!n)
        return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
    *np = NULL;
}
