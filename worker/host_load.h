/* CPU use of the host, the worker process and its cgroup, from /proc. */
#ifndef PRISM_HOST_LOAD_H
#define PRISM_HOST_LOAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * What the CPU device of a worker holds and uses. Where the worker runs in
 * a cgroup with a CPU limit (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over
 * cpu.cfs_period_us, on its own cgroup or an ancestor), that limit is the
 * device's size and the cgroup's usage (v2 cpu.stat usage_usec, v1
 * cpuacct.usage) its use: a container given 4 of 64 cores is a 4-core
 * device, and a process sharing the cgroup counts. Without a limit, the
 * device is the host's online CPUs and its use the busy share of
 * /proc/stat (user, nice, system, irq, softirq, steal over all but idle
 * and iowait too). The worker process's own use (/proc/self/stat utime +
 * stime) is reported beside it. Use is a rate: each sample is the change
 * since the previous one.
 *
 * The parsers are pure functions over the files' text (unit-tested with
 * samples of the real formats); host_load_t reads the files. Threads: one
 * thread uses a host_load_t at a time (the agent's loop).
 */

/* /proc/stat: busy and total jiffies of the "cpu " line. 0 or -EINVAL. */
int host_load_parse_proc_stat(const char *text, uint64_t *busy,
                              uint64_t *total);

/* /proc/self/stat: utime + stime in clock ticks. 0 or -EINVAL. */
int host_load_parse_self_stat(const char *text, uint64_t *ticks);

/* cgroup v2 cpu.max ("max 100000", "50000 100000"): the limit in cores,
 * 0 when there is none. 0 or -EINVAL. */
int host_load_parse_cpu_max(const char *text, double *cores);

/* cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us: the limit in cores,
 * 0 when there is none (quota -1). 0 or -EINVAL. */
int host_load_parse_cfs(const char *quota, const char *period, double *cores);

/* cgroup v2 cpu.stat: usage_usec. 0 or -EINVAL. */
int host_load_parse_usage_usec(const char *text, uint64_t *usec);

/* cgroup v1 cpuacct.usage (nanoseconds), in microseconds. 0 or -EINVAL. */
int host_load_parse_cpuacct_usage(const char *text, uint64_t *usec);

/*
 * /proc/self/cgroup: the path of the hierarchy that has CONTROLLER (v1,
 * "N:cpu,cpuacct:/path"), or of the unified one when CONTROLLER is NULL
 * ("0::/path"), into OUT. 0, -ENOENT or -ENAMETOOLONG.
 */
int host_load_cgroup_path(const char *text, const char *controller, char *out,
                          size_t outlen);

/*
 * /proc/self/mountinfo: where the cgroup hierarchy with CONTROLLER (v1) or
 * the cgroup2 one (CONTROLLER NULL) is mounted, into MNT, and the
 * hierarchy's path that mount shows (its root, "/" unless the mount is of
 * a sub-tree) into ROOT. 0, -ENOENT or -ENAMETOOLONG.
 */
int host_load_mount(const char *text, const char *controller, char *mnt,
                    size_t mntlen, char *root, size_t rootlen);

/* What the CPU device's use is measured from (the worker's cpu_measure):
 * AUTO the cgroup's limit and usage where a limit is set, else the host's
 * /proc/stat; PROCESS the worker process alone over the host's CPUs (for
 * several workers sharing a host without cgroups, where the host's figure
 * would count each one's load against all); OFF nothing. */
typedef enum {
    HOST_LOAD_AUTO = 0,
    HOST_LOAD_PROCESS,
    HOST_LOAD_OFF,
} host_load_mode_t;

/* "auto", "process" or "off" into *out (may be NULL). 0 or -EINVAL. */
int host_load_mode_parse(const char *s, host_load_mode_t *out);

/* One sample: the change since the previous one. */
typedef struct {
    double use;           /* fraction of the CPU device busy; -1 unknown */
    double cores;         /* the device's size in cores */
    double process_cores; /* cores the worker process used; -1 unknown */
    const char *source;   /* "cgroup", "host" or "process" (static) */
} host_load_sample_t;

typedef struct host_load host_load_t;

/* Finds the worker's cgroup and its CPU limit (logged once) for MODE
 * (AUTO or PROCESS). NULL when out of memory. */
host_load_t *host_load_new(host_load_mode_t mode);

/* The CPU limit of the worker's cgroup in cores (AUTO: the tightest on
 * its cgroup and ancestors), 0 when there is none or none was looked for
 * (PROCESS). */
double host_load_limit_cores(const host_load_t *h);

/* Samples at now_us (monotonic): the change since the last call (use -1
 * at the first). 0, or a negative errno when /proc could not be read (the
 * sample then says unknown). */
int host_load_sample(host_load_t *h, int64_t now_us, host_load_sample_t *out);

void host_load_free(host_load_t **hp);

#endif
