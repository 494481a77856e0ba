/* NVIDIA NVML, loaded at run time, for encoder and decoder utilisation. */
#include "nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"

/* The few NVML entry points used, declared as nvml.h has them. */
typedef void *nvml_dev_t;
typedef struct {
    unsigned long long total, free, used;
} nvml_memory_t;

struct nvml {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    int (*handle)(unsigned, nvml_dev_t *);
    int (*enc_util)(nvml_dev_t, unsigned *, unsigned *);
    int (*dec_util)(nvml_dev_t, unsigned *, unsigned *);
    int (*memory)(nvml_dev_t, nvml_memory_t *);
};

nvml_t *nvml_open(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        log_debug("nvml", "NVML is not present; utilisation is unknown.",
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
    *(void **)&n->enc_util = dlsym(lib, "nvmlDeviceGetEncoderUtilization");
    *(void **)&n->dec_util = dlsym(lib, "nvmlDeviceGetDecoderUtilization");
    *(void **)&n->memory = dlsym(lib, "nvmlDeviceGetMemoryInfo");
    if (!n->init || !n->shutdown || !n->handle || !n->enc_util ||
        !n->dec_util || !n->memory) {
        log_warn("nvml", "NVML lacks an entry point; utilisation is unknown.",
                 "call=dlsym lib=libnvidia-ml.so.1");
        goto err;
    }
    int ret = n->init();
    if (ret != 0) {
        log_warn("nvml", "NVML did not initialise; utilisation is unknown.",
                 "call=nvmlInit_v2 code=%d", ret);
        goto err;
    }
    log_info("nvml", "NVML loaded: encoder and decoder utilisation reported.",
             NULL);
    return n;
err:
    dlclose(lib);
    free(n);
    return NULL;
}

int nvml_sample(nvml_t *n, unsigned index, nvml_sample_t *out)
{
    nvml_dev_t d;
    unsigned u, period;
    nvml_memory_t m;
    out->encoder_util = out->decoder_util = -1;
    out->memory_used = out->memory_total = -1;
    if (!n || n->handle(index, &d) != 0)
        return -ENODEV;
    if (n->enc_util(d, &u, &period) == 0)
        out->encoder_util = (int)u;
    if (n->dec_util(d, &u, &period) == 0)
        out->decoder_util = (int)u;
    if (n->memory(d, &m) == 0) {
        out->memory_used = (int64_t)m.used;
        out->memory_total = (int64_t)m.total;
    }
    return 0;
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
