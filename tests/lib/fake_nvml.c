/* A fake libnvidia-ml for tests: two GPUs in PCI slot order, by dlopen. */
#include <string.h>

/* NVML index 0 is the GPU in the lower slot; each has its own figures. */
typedef struct {
    const char *bus;
    unsigned enc, dec, sm;
} fake_gpu_t;

static fake_gpu_t gpus[2] = {
    {"00000000:17:00.0", 11, 12, 13},
    {"00000000:65:00.0", 91, 92, 93},
};

typedef struct {
    unsigned long long total, free, used;
} fake_memory_t;
typedef struct {
    unsigned gpu, memory;
} fake_util_t;

int nvmlInit_v2(void);
int nvmlShutdown(void);
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d);
int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, void **d);
int nvmlDeviceGetEncoderUtilization(void *d, unsigned *u, unsigned *p);
int nvmlDeviceGetDecoderUtilization(void *d, unsigned *u, unsigned *p);
int nvmlDeviceGetUtilizationRates(void *d, fake_util_t *u);
int nvmlDeviceGetMemoryInfo(void *d, fake_memory_t *m);

int nvmlInit_v2(void)
{
    return 0;
}

int nvmlShutdown(void)
{
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d)
{
    if (i >= 2)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *d = &gpus[i];
    return 0;
}

/* NVML takes "domain:bus:device.function" with a 4 or 8 digit domain. */
int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, void **d)
{
    const char *tail = strchr(bus, ':');
    for (int i = 0; tail && i < 2; i++) {
        if (!strcmp(strchr(gpus[i].bus, ':'), tail)) {
            *d = &gpus[i];
            return 0;
        }
    }
    return 6; /* NVML_ERROR_NOT_FOUND */
}

int nvmlDeviceGetEncoderUtilization(void *d, unsigned *u, unsigned *p)
{
    *u = ((fake_gpu_t *)d)->enc;
    *p = 1000000;
    return 0;
}

int nvmlDeviceGetDecoderUtilization(void *d, unsigned *u, unsigned *p)
{
    *u = ((fake_gpu_t *)d)->dec;
    *p = 1000000;
    return 0;
}

int nvmlDeviceGetUtilizationRates(void *d, fake_util_t *u)
{
    u->gpu = ((fake_gpu_t *)d)->sm;
    u->memory = 0;
    return 0;
}

int nvmlDeviceGetMemoryInfo(void *d, fake_memory_t *m)
{
    m->total = 16ULL << 30;
    m->used = ((fake_gpu_t *)d)->enc * (1ULL << 20);
    m->free = m->total - m->used;
    return 0;
}
