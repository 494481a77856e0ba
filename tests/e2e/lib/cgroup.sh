# Sourced by the e2e tests that give their workers cgroups with a CPU
# limit (farm_load.sh, farm_slow.sh), so that what a worker measures is
# its cgroup's use and not the rest of a shared host. Set CG_TEST (a
# name) first; call cg_setup (exits 77 where no such cgroup can be made),
# then cg_make, cg_enter, and cg_cleanup on exit.
# shellcheck shell=bash

CG_NAME=prism-${CG_TEST:-e2e}-$$
CG_DIRS=()
# cg_setup: the hierarchies to use (v1 cpu and cpuacct, or v2), or exit 77.
cg_setup() {
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] &&
        [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] &&
        mkdir "/sys/fs/cgroup/cpu/$CG_NAME" 2>/dev/null &&
        mkdir "/sys/fs/cgroup/cpuacct/$CG_NAME" 2>/dev/null; then
        CG_V=1
        CG_DIRS=("/sys/fs/cgroup/cpuacct/$CG_NAME" "/sys/fs/cgroup/cpu/$CG_NAME")
        CG_ROOTS=(/sys/fs/cgroup/cpu /sys/fs/cgroup/cpuacct)
        return 0
    fi
    rmdir "/sys/fs/cgroup/cpu/$CG_NAME" 2>/dev/null || true
    if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null &&
        mkdir "/sys/fs/cgroup/$CG_NAME" 2>/dev/null &&
        echo +cpu >"/sys/fs/cgroup/$CG_NAME/cgroup.subtree_control" 2>/dev/null; then
        CG_V=2
        CG_DIRS=("/sys/fs/cgroup/$CG_NAME")
        CG_ROOTS=(/sys/fs/cgroup)
        return 0
    fi
    rmdir "/sys/fs/cgroup/$CG_NAME" 2>/dev/null || true
    echo "SKIP: cannot create a cgroup with a CPU limit here (neither v1 cpu+cpuacct under /sys/fs/cgroup/cpu{,acct} nor v2 with the cpu controller): the load control loop needs per-worker cgroups on a shared host"
    exit 77
}
# cg_make NAME CORES: a child cgroup limited to CORES (a decimal).
cg_make() {
    local quota
    quota=$(echo "$2 * 100000 / 1" | bc)
    if [ "$CG_V" = 1 ]; then
        mkdir "/sys/fs/cgroup/cpu/$CG_NAME/$1" "/sys/fs/cgroup/cpuacct/$CG_NAME/$1"
        CG_DIRS=("/sys/fs/cgroup/cpu/$CG_NAME/$1" "/sys/fs/cgroup/cpuacct/$CG_NAME/$1" "${CG_DIRS[@]}")
        echo 100000 >"/sys/fs/cgroup/cpu/$CG_NAME/$1/cpu.cfs_period_us"
        echo "$quota" >"/sys/fs/cgroup/cpu/$CG_NAME/$1/cpu.cfs_quota_us"
    else
        mkdir "/sys/fs/cgroup/$CG_NAME/$1"
        CG_DIRS=("/sys/fs/cgroup/$CG_NAME/$1" "${CG_DIRS[@]}")
        echo "$quota 100000" >"/sys/fs/cgroup/$CG_NAME/$1/cpu.max"
    fi
}
# cg_enter NAME: this shell (and what it starts next) into cgroup NAME, or
# back to the root cgroup with "".
cg_enter() {
    local r
    for r in "${CG_ROOTS[@]}"; do
        if [ -n "$1" ]; then
            echo "$BASHPID" >"$r/$CG_NAME/$1/cgroup.procs"
        else
            echo "$BASHPID" >"$r/cgroup.procs"
        fi
    done
}
# cg_cleanup: a process still in the test's cgroups is one the test
# started (a worker or hog that outlived farm_down): it is killed, then
# the cgroups are removed (children first).
cg_cleanup() {
    local d p _
    for d in "${CG_DIRS[@]}"; do
        [ -d "$d" ] || continue
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
            kill -9 "$p" 2>/dev/null || true
        done
        for _ in $(seq 20); do
            rmdir "$d" 2>/dev/null && break
            sleep 0.1
        done
    done
    return 0
}
