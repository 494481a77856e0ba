/* VAAPI engine busy time from the DRM fdinfo of a render node's clients. */
#ifndef PRISM_DRM_FDINFO_H
#define PRISM_DRM_FDINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The kernel's DRM drivers (i915, amdgpu, xe's "drm-engine-*" lines, msm,
 * panfrost, v3d) show, per open DRM file, in /proc/PID/fdinfo/FD the
 * client's id and, per engine class, the nanoseconds the engine spent on
 * the client's work ("drm-engine-video: 1234 ns"), and how many engines
 * of that class there are ("drm-engine-capacity-video: 2"; 1 when
 * absent) (Documentation/gpu/drm-usage-stats.rst). A device's use is the
 * busiest class's busy time over the wall time and its capacity, summed
 * over every client of the render node that this process may read (its
 * own user's; root or CAP_SYS_PTRACE sees all). The parser is a pure
 * function over the text; drm_load_t scans /proc. Threads: one thread
 * uses a drm_load_t at a time (the agent's loop).
 */

#define DRM_FDINFO_ENGINES 8

typedef struct {
    char pdev[32];      /* drm-pdev: the PCI address, "" when absent */
    uint64_t client_id; /* drm-client-id */
    int nengines;
    struct {
        char name[24];    /* "video", "video-enhance", "render", "dec" */
        uint64_t busy_ns; /* drm-engine-NAME */
        int capacity;     /* drm-engine-capacity-NAME, 1 when absent */
    } engine[DRM_FDINFO_ENGINES];
} drm_fdinfo_t;

/* Parses one fdinfo file's text. 0, or -ENOENT when it is not a DRM
 * client's (no drm-client-id). Engines past DRM_FDINFO_ENGINES are left
 * out. */
int drm_fdinfo_parse(const char *text, drm_fdinfo_t *out);

typedef struct drm_load drm_load_t;

/* The render node at RENDER_PATH ("/dev/dri/renderD128"). NULL when out
 * of memory. */
drm_load_t *drm_load_new(const char *render_path);

/* The busiest engine class's use of the node (0..1) since the last call
 * at now_us, into *use; -1 at the first call or when no client of it was
 * found then. 0, or a negative errno when /proc cannot be read. */
int drm_load_sample(drm_load_t *d, int64_t now_us, double *use);

void drm_load_free(drm_load_t **dp);

#endif
