/* The worker's load report: each device's load, each session's figures. */
#ifndef PRISM_LOAD_REPORT_H
#define PRISM_LOAD_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "device_offer.h"
#include "host_load.h"
#include "ladder.h"
#include "nvml.h"
#include "prism.pb-c.h"
#include "transcode.h"
#include "zmq_source.h"

/*
 * Every report_ms the agent sends a LoadReport, its heartbeat too: per
 * device the sessions and pixel rates of the sessions running on it (the
 * cost the coordinator counts), what was measured of it (measured_use:
 * the CPU device's share busy from host_load.c, a GPU's largest of NVML's
 * encoder, decoder and SM utilisation, a VAAPI node's busiest engine class
 * from drm_fdinfo.c; -1 unknown) and NVML's encoder,
 * decoder, SM and memory use where NVML answers (-1 otherwise); per
 * running session its speed (since the start and over the last 10 s),
 * frames in and out a second, encode latency, queue depth, drops, media
 * times, origin counters and the renditions it dropped. The agent gathers
 * the sessions (load_report_session_t, under each session's lock) and
 * samples the CPU; this module samples NVML and builds the message.
 * Threads: the agent's.
 */

/* One running session as the report shows it. */
typedef struct {
    const char *stream_id; /* borrowed */
    uint64_t generation;
    int device; /* index into the devices */
    ladder_cost_t cost;
    bool have_stats; /* st and zs hold the session's figures */
    transcode_stats_t st;
    zmq_source_stats_t zs;
} load_report_session_t;

typedef struct load_report load_report_t;

/*
 * Builds report number SEQ for NDEV devices DEV (NVML, may be NULL, is
 * sampled for the CUDA ones; CPU, may be NULL, is the CPU devices' sample;
 * VAAPI_USE, may be NULL, holds per device the VAAPI render node's use
 * from drm_fdinfo.h, negative unknown) and NSESS sessions SESS. DEV, CPU,
 * VAAPI_USE and SESS are borrowed and must outlive the report. Returns
 * NULL when out of memory.
 */
load_report_t *load_report_new(uint64_t seq, const device_offer_t *dev,
                               int ndev, nvml_t *nvml,
                               const host_load_sample_t *cpu,
                               const double *vaapi_use,
                               const load_report_session_t *sess, int nsess);

/* The envelope to send; the report owns it. */
Prism__Envelope *load_report_envelope(load_report_t *r);

void load_report_free(load_report_t **rp);

#endif
