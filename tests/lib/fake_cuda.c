/* A fake libcuda for tests: CUDA orders the faster GPU (slot 65) first. */
#include <stdio.h>

int cuInit(unsigned flags);
int cuDeviceGetCount(int *n);
int cuDeviceGet(int *d, int ordinal);
int cuDeviceGetPCIBusId(char *buf, int len, int d);

int cuInit(unsigned flags)
{
    (void)flags;
    return 0;
}

int cuDeviceGetCount(int *n)
{
    *n = 2;
    return 0;
}

int cuDeviceGet(int *d, int ordinal)
{
    if (ordinal < 0 || ordinal >= 2)
        return 101; /* CUDA_ERROR_INVALID_DEVICE */
    *d = ordinal;
    return 0;
}

int cuDeviceGetPCIBusId(char *buf, int len, int d)
{
    snprintf(buf, (size_t)len, "%s", d == 0 ? "0000:65:00.0" : "0000:17:00.0");
    return 0;
}
