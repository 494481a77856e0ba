/* What /proc says of a process, for the benches' figures. */
#ifndef PRISM_BENCH_PROC_STAT_H
#define PRISM_BENCH_PROC_STAT_H

#include <sys/types.h>

/* CPU seconds (user + system) process PID has used; -1 unknown. */
double proc_cpu_s(pid_t pid);

/* A kB field of /proc/PID/status ("VmHWM:" the peak RSS, "VmRSS:" the
 * RSS now) of process PID (0: this one); -1 unknown. */
long proc_status_kb(pid_t pid, const char *field);

#endif
