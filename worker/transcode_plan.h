/* What a transcode session will make: codec check, ladder, backend plan. */
#ifndef PRISM_TRANSCODE_PLAN_H
#define PRISM_TRANSCODE_PLAN_H

#include "transcode_int.h"

/*
 * These run on the session thread, in this order, once s->vi and s->ai
 * are known; each returns 0 or a negative code and logs its own failure.
 */

/* Refuses an input whose video or audio this FFmpeg cannot decode
 * (AVERROR_DECODER_NOT_FOUND). */
int transcode_plan_check_codecs(const transcode_session_t *s);

/* Applies the ladder profile to the source and fills s->rend, s->nrend
 * and s->nencoded (an audio-only input: one "audio" rendition). */
int transcode_plan_ladder(transcode_session_t *s);

/* Picks the backend (-ENODEV when the requested one cannot run) and plans
 * the filter graph and each rendition's encoder. */
int transcode_plan_session(transcode_session_t *s);

#endif
