/* The devices a worker offers the coordinator, from the probe and config. */
#include "device_offer.h"

#include <stdio.h>
#include <string.h>

#include "calibrate.h"
#include "log.h"

#define MOD "agent"

static const calibrate_budget_t *find_budget(const calibrate_budget_t *b, int n,
                                             const char *path)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(b[i].path, path))
            return &b[i];
    return NULL;
}

/* The CPU, its sessions hybrid on a GPU that decodes but cannot encode
 * (auto or hybrid asked for), else software. */
static void offer_cpu(const probe_t *p, const worker_config_t *cfg,
                      device_offer_t *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = PRISM__DEVICE_KIND__DEVICE_KIND_CPU;
    /* A cgroup limit is the device's size: a container given 4 of 64
     * cores is a 4-core device. */
    double cores = p->cpu_limit_cores > 0 ? p->cpu_limit_cores
                   : p->cpu_cores > 0     ? p->cpu_cores
                                          : 1;
    if (p->cpu_limit_cores > 0)
        snprintf(d->name, sizeof(d->name), "cpu (%.2f of %d cores: cgroup)",
                 p->cpu_limit_cores, p->cpu_cores);
    else
        snprintf(d->name, sizeof(d->name), "cpu (%d cores)", p->cpu_cores);
    snprintf(d->path, sizeof(d->path), "cpu");
    d->cuda_index = -1;
    d->memory_bytes = p->memory_bytes;
    d->backend = HWPLAN_SOFTWARE;
    /* A GPU without NVENC: H100, H200, A100. */
    bool hybrid =
        !strcmp(cfg->backend, "auto") || !strcmp(cfg->backend, "hybrid");
    for (int i = 0; hybrid && i < p->ncuda; i++) {
        if (!p->cuda[i].nvdec_h264 || p->cuda[i].nvenc_h264 == PROBE_NVENC_OK)
            continue;
        d->backend = HWPLAN_HYBRID;
        d->hw_decode = true;
        snprintf(d->device, sizeof(d->device), "%d", p->cuda[i].index);
        snprintf(d->note, sizeof(d->note),
                 "hybrid: NVDEC and scale_cuda on cuda:%d, encode on the "
                 "CPU",
                 p->cuda[i].index);
        break;
    }
    if (strstr(p->sw_encoders, "libx264"))
        d->codecs |= 1u << LADDER_CODEC_H264;
    if (strstr(p->sw_encoders, "libx265"))
        d->codecs |= 1u << LADDER_CODEC_HEVC;
    if (strstr(p->sw_encoders, "libsvtav1"))
        d->codecs |= 1u << LADDER_CODEC_AV1;
    d->max_sessions = (uint32_t)cfg->cpu_max_sessions;
    d->encode_budget = cfg->cpu_encode_budget ? (uint64_t)cfg->cpu_encode_budget
                                              : (uint64_t)(cores * 12e6);
    d->decode_budget = cfg->cpu_decode_budget ? (uint64_t)cfg->cpu_decode_budget
                                              : (uint64_t)(cores * 60e6);
}

/*
 * The encoder sessions a GPU is offered with: the operator's
 * gpu_max_sessions (0 = no limit set) and the count the probe learned by
 * opening sessions side by side until one was refused (nvenc_limit says
 * why; "" when PROBE_NVENC_SESSIONS_MAX opened and none was refused: no
 * limit known), the smaller of those that are set.
 */
static uint32_t gpu_max_sessions(const probe_cuda_t *c, int64_t configured)
{
    uint32_t learned = c->nvenc_limit[0] && c->nvenc_sessions > 0
                           ? (uint32_t)c->nvenc_sessions
                           : 0;
    uint32_t set = configured > 0 ? (uint32_t)configured : 0;
    if (!learned)
        return set;
    return set && set < learned ? set : learned;
}

int device_offer_list(const probe_t *p, const worker_config_t *cfg,
                      device_offer_t *out, int max)
{
    calibrate_budget_t b[CALIBRATE_MAX];
    int nb = 0, n = 0;
    if (cfg->budgets_file[0]) {
        nb = calibrate_load(cfg->budgets_file, b, CALIBRATE_MAX);
        if (nb < 0) {
            log_warn(MOD, "No calibrated budgets; using the configured ones.",
                     "path=\"%s\" err=\"%s\"", cfg->budgets_file,
                     strerror(-nb));
            nb = 0;
        }
    }
    bool sw = !strcmp(cfg->backend, "software");
    bool want_nv =
        !strcmp(cfg->backend, "auto") || !strcmp(cfg->backend, "nvenc");
    bool want_va =
        !strcmp(cfg->backend, "auto") || !strcmp(cfg->backend, "vaapi");
    for (int i = 0; !sw && want_nv && i < p->ncuda && n < max - 1; i++) {
        const probe_cuda_t *c = &p->cuda[i];
        device_offer_t *d = &out[n];
        memset(d, 0, sizeof(*d));
        d->kind = PRISM__DEVICE_KIND__DEVICE_KIND_NVENC;
        snprintf(d->name, sizeof(d->name), "%s", c->name);
        snprintf(d->path, sizeof(d->path), "cuda:%d", c->index);
        snprintf(d->device, sizeof(d->device), "%d", c->index);
        d->cuda_index = c->index;
        d->memory_bytes = c->memory_bytes;
        d->backend = HWPLAN_NVENC;
        d->hw_decode = c->nvdec_h264;
        if (c->nvenc_h264 == PROBE_NVENC_OK)
            d->codecs |= 1u << LADDER_CODEC_H264;
        if (c->nvenc_hevc == PROBE_NVENC_OK)
            d->codecs |= 1u << LADDER_CODEC_HEVC;
        d->hw_encode = d->codecs != 0;
        if (!d->hw_encode) {
            if (c->nvenc_h264 == PROBE_NVENC_ABSENT)
                snprintf(d->note, sizeof(d->note),
                         "NVDEC only: no NVENC on this GPU");
            else
                snprintf(d->note, sizeof(d->note), "NVENC: %s",
                         probe_nvenc_name(c->nvenc_h264));
            continue; /* nothing to encode with: not offered */
        }
        d->max_sessions = gpu_max_sessions(c, cfg->gpu_max_sessions);
        d->encode_budget = (uint64_t)cfg->gpu_encode_budget;
        d->decode_budget = (uint64_t)cfg->gpu_decode_budget;
        n++;
    }
    for (int i = 0; !sw && want_va && i < p->nvaapi && n < max - 1; i++) {
        const probe_vaapi_t *v = &p->vaapi[i];
        if (!v->ok)
            continue;
        device_offer_t *d = &out[n];
        memset(d, 0, sizeof(*d));
        for (int k = 0; k < v->nprofiles; k++) {
            if (!v->profiles[k].encode)
                continue;
            if (strstr(v->profiles[k].profile, "H264"))
                d->codecs |= 1u << LADDER_CODEC_H264;
            if (strstr(v->profiles[k].profile, "HEVC"))
                d->codecs |= 1u << LADDER_CODEC_HEVC;
            /* Only what the planner has an encoder for on VAAPI. */
            if (strstr(v->profiles[k].profile, "AV1") &&
                hwplan_encoder_name(HWPLAN_VAAPI, LADDER_CODEC_AV1))
                d->codecs |= 1u << LADDER_CODEC_AV1;
        }
        if (!d->codecs)
            continue;
        d->kind = PRISM__DEVICE_KIND__DEVICE_KIND_VAAPI;
        snprintf(d->name, sizeof(d->name), "%s", v->vendor);
        snprintf(d->path, sizeof(d->path), "%s", v->path);
        snprintf(d->device, sizeof(d->device), "%s", v->path);
        d->cuda_index = -1;
        d->backend = HWPLAN_VAAPI;
        d->hw_encode = d->hw_decode = true;
        d->max_sessions = (uint32_t)cfg->gpu_max_sessions;
        d->encode_budget = (uint64_t)cfg->gpu_encode_budget;
        d->decode_budget = (uint64_t)cfg->gpu_decode_budget;
        n++;
    }
    if (n == 0 || sw)
        offer_cpu(p, cfg, &out[n++]);
    /* Calibrated figures win over defaults, not over explicit config. */
    for (int i = 0; i < n; i++) {
        const calibrate_budget_t *cb = find_budget(b, nb, out[i].path);
        bool cpu = out[i].kind == PRISM__DEVICE_KIND__DEVICE_KIND_CPU;
        if (!cb)
            continue;
        if (!cpu || !cfg->cpu_encode_budget)
            out[i].encode_budget = cb->encode_budget;
        if (!cpu || !cfg->cpu_decode_budget)
            out[i].decode_budget = cb->decode_budget;
    }
    return n;
}
