/* Monotonic and wall-clock time in milliseconds and microseconds. */
#ifndef PRISM_CLOCK_H
#define PRISM_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for intervals, timeouts and liveness. */
int64_t clock_mono_ms(void);
/* Microseconds on CLOCK_MONOTONIC. */
int64_t clock_mono_us(void);
/* Milliseconds since the Unix epoch: for timestamps that leave the process. */
int64_t clock_wall_ms(void);
int64_t clock_wall_us(void);

#endif
