/* The worker's load report: each device's load, each session's figures. */
#include "load_report.h"

#include <stdlib.h>

/* The renditions one session dropped, as the message lists them. */
typedef struct {
    Prism__RenditionFailure m[LADDER_MAX_RUNGS];
    Prism__RenditionFailure *p[LADDER_MAX_RUNGS];
} failures_t;

struct load_report {
    Prism__Envelope env;
    Prism__LoadReport r;
    Prism__DeviceLoad dl[DEVICE_OFFER_MAX], *dlp[DEVICE_OFFER_MAX];
    Prism__SessionLoad *sl, **slp;
    failures_t *rf;
};

/* Device i's load: the CPU sample for a CPU device, NVML's figures for a
 * CUDA one where it answers; -1 where nothing was measured. */
static void device_load(Prism__DeviceLoad *x, int i, const device_offer_t *d,
                        nvml_t *nvml, const host_load_sample_t *cpu,
                        const double *vaapi_use)
{
    *x = (Prism__DeviceLoad)PRISM__DEVICE_LOAD__INIT;
    x->index = (uint32_t)i;
    x->encoder_util = -1;
    x->decoder_util = -1;
    x->sm_util = -1;
    x->measured_use = -1;
    x->measured_source = (char *)"";
    if (cpu && d->kind == PRISM__DEVICE_KIND__DEVICE_KIND_CPU) {
        x->measured_use = cpu->use;
        x->cpu_cores = cpu->cores;
        x->process_cores = cpu->process_cores > 0 ? cpu->process_cores : 0;
        x->measured_source = (char *)cpu->source;
    }
    if (vaapi_use && d->kind == PRISM__DEVICE_KIND__DEVICE_KIND_VAAPI &&
        vaapi_use[i] >= 0) {
        x->measured_use = vaapi_use[i];
        x->measured_source = (char *)"drm";
    }
    if (nvml && d->cuda_index >= 0) {
        nvml_sample_t ns;
        if (nvml_sample(nvml, (unsigned)d->cuda_index, &ns) == 0) {
            x->encoder_util = ns.encoder_util;
            x->decoder_util = ns.decoder_util;
            x->sm_util = ns.sm_util;
            x->memory_used_bytes =
                ns.memory_used > 0 ? (uint64_t)ns.memory_used : 0;
            int u = ns.encoder_util > ns.decoder_util ? ns.encoder_util
                                                      : ns.decoder_util;
            u = ns.sm_util > u ? ns.sm_util : u;
            x->measured_use = u >= 0 ? u / 100.0 : -1;
            x->measured_source = (char *)(u >= 0 ? "nvml" : "");
        }
    }
}

/* A session's figures; its dropped renditions point into IN. */
static void session_load(Prism__SessionLoad *x, failures_t *rf,
                         const load_report_session_t *in)
{
    *x = (Prism__SessionLoad)PRISM__SESSION_LOAD__INIT;
    x->stream_id = (char *)in->stream_id;
    x->generation = in->generation;
    x->device_index = (uint32_t)in->device;
    if (!in->have_stats)
        return;
    const transcode_stats_t *st = &in->st;
    x->fps = st->fps;
    x->speed = st->speed;
    x->speed_10s = st->speed_10s;
    x->fps_in = st->fps_in_10s;
    x->fps_out = st->fps_out_10s;
    x->encode_latency_ms = (uint32_t)(st->encode_latency_s * 1000);
    x->queue_depth = (uint32_t)st->queue_depth;
    x->dropped_packets = (uint64_t)(st->dropped_packets + in->zs.dropped);
    x->last_output_pts_ms = (int64_t)(st->media_s * 1000);
    x->last_input_pts_ms = in->zs.last_input_ms;
    x->renditions = (uint32_t)st->renditions;
    x->errors = (uint64_t)st->corrupt;
    x->origin_puts = (uint64_t)st->origin.puts;
    x->origin_put_failed = (uint64_t)st->origin.put_failed;
    x->origin_deletes = (uint64_t)st->origin.deletes;
    x->origin_delete_failed = (uint64_t)st->origin.delete_failed;
    x->origin_dropped = (uint64_t)st->origin.dropped;
    x->master_out = st->master_out;
    x->frames_unordered = (uint64_t)st->frames_unordered;
    x->frames_filled = (uint64_t)st->frames_filled;
    int nf = st->nfailed < LADDER_MAX_RUNGS ? st->nfailed : LADDER_MAX_RUNGS;
    for (int j = 0; j < nf; j++) {
        Prism__RenditionFailure m = PRISM__RENDITION_FAILURE__INIT;
        m.name = (char *)st->failed[j].name;
        m.error = (char *)st->failed[j].reason;
        rf->m[j] = m;
        rf->p[j] = &rf->m[j];
    }
    x->n_failed_renditions = (size_t)nf;
    x->failed_renditions = rf->p;
}

load_report_t *load_report_new(uint64_t seq, const device_offer_t *dev,
                               int ndev, nvml_t *nvml,
                               const host_load_sample_t *cpu,
                               const double *vaapi_use,
                               const load_report_session_t *sess, int nsess)
{
    load_report_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->sl = calloc((size_t)nsess + 1, sizeof(*r->sl));
    r->slp = calloc((size_t)nsess + 1, sizeof(*r->slp));
    r->rf = calloc((size_t)nsess + 1, sizeof(*r->rf));
    if (!r->sl || !r->slp || !r->rf)
        goto err;
    if (ndev > DEVICE_OFFER_MAX)
        ndev = DEVICE_OFFER_MAX;
    for (int i = 0; i < ndev; i++) {
        device_load(&r->dl[i], i, &dev[i], nvml, cpu, vaapi_use);
        r->dlp[i] = &r->dl[i];
    }
    for (int k = 0; k < nsess; k++) {
        const load_report_session_t *s = &sess[k];
        session_load(&r->sl[k], &r->rf[k], s);
        if (s->device >= 0 && s->device < ndev) {
            r->dl[s->device].sessions += (uint32_t)s->cost.sessions;
            r->dl[s->device].encode_pixels += s->cost.encode_pixels;
            r->dl[s->device].decode_pixels += s->cost.decode_pixels;
        }
        r->slp[k] = &r->sl[k];
    }
    r->r = (Prism__LoadReport)PRISM__LOAD_REPORT__INIT;
    r->r.seq = seq;
    r->r.n_devices = (size_t)ndev;
    r->r.devices = r->dlp;
    r->r.n_sessions = (size_t)nsess;
    r->r.sessions = r->slp;
    r->env = (Prism__Envelope)PRISM__ENVELOPE__INIT;
    r->env.body_case = PRISM__ENVELOPE__BODY_LOAD_REPORT;
    r->env.load_report = &r->r;
    return r;
err:
    load_report_free(&r);
    return NULL;
}

Prism__Envelope *load_report_envelope(load_report_t *r)
{
    return &r->env;
}

void load_report_free(load_report_t **rp)
{
    load_report_t *r = rp ? *rp : NULL;
    if (!r)
        return;
    free(r->sl);
    free(r->slp);
    free(r->rf);
    free(r);
    *rp = NULL;
}
