/* Ladder profiles: parsing their JSON, fitting them to a source, costing. */
#include "ladder.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * How this works.
 *
 * A profile is a list of rungs (ladders/default.json is the built-in one).
 * ladder_apply() walks the rungs in order and turns each into at most one
 * rendition for a given source:
 *
 *  - Geometry works on the source's display size (stored width times the
 *    sample aspect ratio, height as stored), so anamorphic sources come out
 *    with square pixels at the right shape. The rung's "height" is the short
 *    side of the output (the height of a landscape source, the width of a
 *    portrait one) and its "width", when given, bounds the long side; when
 *    both are given the output fits inside that box. The bound side is
 *    rounded down to even, the other side is computed from the display
 *    aspect ratio and rounded to the nearest even number (at least 2, never
 *    larger than the source's display size rounded down to even). A rung
 *    that would need more pixels than the source has on its bound side is
 *    dropped: we never upscale.
 *  - Frame rates only go down, and only by keeping one of every k source
 *    frames (frame_step = k), k the smallest integer with
 *    source / k <= rung fps. Comparisons of rates allow FPS_TOLERANCE_PCT so
 *    that a 60 fps rung keeps a 60.2 fps source whole and a 59.94 source
 *    keeps 59.94; a 30 fps rung turns 59.94 into 29.97 (30000/1001) and
 *    50 into 25, and leaves 25 or 24 alone. Rates stay exact fractions.
 *  - A rung with min_source_fps only applies when the source is faster than
 *    that (same tolerance), so 60 fps rungs exist only for 60 fps sources.
 *  - A rung's bitrate is meant for its nominal fps: it is scaled by
 *    out_fps / rung fps and rounded.
 *  - An output equal to an earlier one (size, rate, codec, remux or not) is
 *    dropped; the first wins.
 *
 * The cost of a ladder is what the capacity model counts: encoded luma
 * pixels per second (exact fractions summed per rendition and rounded),
 * the source's decoded pixels per second when anything is encoded, encode
 * sessions and the set of codecs. The remuxed Source costs nothing.
 */

/* Slack, in percent, when comparing a source's frame rate with a rung's. */
#define FPS_TOLERANCE_PCT 1
/* The source frame rate assumed when the source does not tell. */
#define DEFAULT_SOURCE_FPS 30
/* Largest side, in pixels, of a source or rung. */
#define MAX_SIDE 16384
/* Highest frame rate a source or rung may have; faster sources are junk. */
#define MAX_FPS 1000
/* Highest bitrate a rung may ask for. */
#define MAX_BITRATE_KBPS 1000000
/* A sample aspect ratio beyond 1:8..8:1 is treated as square pixels. */
#define MAX_SAR 8
/* Largest profile file read by ladder_profile_load. */
#define MAX_PROFILE_FILE (1 << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static const char *const codec_names[] = {"h264", "hevc", "av1"};

const char *ladder_codec_name(ladder_codec_t codec)
{
    if ((int)codec < 0 ||
        (size_t)codec >= sizeof(codec_names) / sizeof(*codec_names))
        return "unknown";
    return codec_names[codec];
}

int ladder_codec_parse(const char *name, ladder_codec_t *out)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(codec_names) / sizeof(*codec_names); i++) {
        if (strcasecmp(name, codec_names[i]) == 0) {
            *out = (ladder_codec_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

double ladder_rendition_fps(const ladder_rendition_t *r)
{
    if (r->fps_den <= 0)
        return 0.0;
    return (double)r->fps_num / (double)r->fps_den;
}

bool ladder_codec_profile_ok(ladder_codec_t codec, const char *profile)
{
    static const char *const h264[] = {"baseline", "constrained_baseline",
                                       "main", "high", NULL};
    static const char *const main_only[] = {"main", NULL};
    if (!profile || !profile[0])
        return true;
    for (const char *const *p = codec == LADDER_CODEC_H264 ? h264 : main_only;
         *p; p++) {
        if (!strcmp(*p, profile))
            return true;
    }
    return false;
}

/*
 * Checks the values of one rung, as parsed or as built by hand. The message
 * names the rung's index and field.
 */
static int rung_check(const ladder_rung_t *r, int i, char *err, size_t errlen)
{
    if (!memchr(r->name, '\0', sizeof(r->name)))
        return fail(err, errlen, "renditions[%d].name: too long", i);
    if (!memchr(r->profile, '\0', sizeof(r->profile)))
        return fail(err, errlen, "renditions[%d].profile: too long", i);
    if (r->remux) {
        if (r->height || r->width || r->fps || r->min_source_fps ||
            r->bitrate_kbps)
            return fail(err, errlen,
                        "renditions[%d].remux: a remux rung takes no size, "
                        "fps or bitrate",
                        i);
        return 0;
    }
    if (r->height < 0 || r->height > MAX_SIDE)
        return fail(err, errlen,
                    "renditions[%d].height: must be 0..%d (got %d)", i,
                    MAX_SIDE, r->height);
    if (r->width < 0 || r->width > MAX_SIDE)
        return fail(err, errlen, "renditions[%d].width: must be 0..%d (got %d)",
                    i, MAX_SIDE, r->width);
    if (r->height == 0 && r->width == 0)
        return fail(err, errlen,
                    "renditions[%d].height: an encoded rung needs a height "
                    "or a width",
                    i);
    if (r->height == 1 || r->width == 1)
        return fail(err, errlen, "renditions[%d].%s: must be at least 2", i,
                    r->height == 1 ? "height" : "width");
    if (r->fps < 1 || r->fps > MAX_FPS)
        return fail(err, errlen, "renditions[%d].fps: must be 1..%d (got %d)",
                    i, MAX_FPS, r->fps);
    if (r->min_source_fps < 0 || r->min_source_fps > MAX_FPS)
        return fail(err, errlen,
                    "renditions[%d].min_source_fps: must be 0..%d (got %d)", i,
                    MAX_FPS, r->min_source_fps);
    if (r->bitrate_kbps < 1 || r->bitrate_kbps > MAX_BITRATE_KBPS)
        return fail(err, errlen,
                    "renditions[%d].bitrate_kbps: must be 1..%d on an "
                    "encoded rung (got %d)",
                    i, MAX_BITRATE_KBPS, r->bitrate_kbps);
    if ((int)r->codec < 0 || r->codec > LADDER_CODEC_AV1)
        return fail(err, errlen, "renditions[%d].codec: unknown codec %d", i,
                    (int)r->codec);
    if (!ladder_codec_profile_ok(r->codec, r->profile))
        return fail(err, errlen,
                    "renditions[%d].profile: \"%s\" is not a %s profile every "
                    "backend can encode (%s, or none)",
                    i, r->profile, ladder_codec_name(r->codec),
                    r->codec == LADDER_CODEC_H264 ? LADDER_PROFILES_H264
                                                  : "main");
    return 0;
}

static int json_int_field(json_t *v, int i, const char *key, int *out,
                          char *err, size_t errlen)
{
    if (!json_is_integer(v))
        return fail(err, errlen, "renditions[%d].%s: must be an integer", i,
                    key);
    json_int_t x = json_integer_value(v);
    if (x < -MAX_BITRATE_KBPS || x > MAX_BITRATE_KBPS)
        return fail(err, errlen,
                    "renditions[%d].%s: out of range (%" PRId64 ")", i, key,
                    (int64_t)x);
    *out = (int)x;
    return 0;
}

static int json_str_field(json_t *v, int i, const char *key, char *out,
                          size_t outlen, char *err, size_t errlen)
{
    if (!json_is_string(v))
        return fail(err, errlen, "renditions[%d].%s: must be a string", i, key);
    const char *s = json_string_value(v);
    if (strlen(s) >= outlen)
        return fail(err, errlen, "renditions[%d].%s: longer than %zu bytes", i,
                    key, outlen - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int parse_rung(json_t *obj, int i, ladder_rung_t *r, char *err,
                      size_t errlen)
{
    const char *key;
    json_t *v;
    const char *encoded_only = NULL; /* a field only an encoded rung takes */
    bool have_fps = false;
    int rc;

    if (!json_is_object(obj))
        return fail(err, errlen, "renditions[%d]: must be an object", i);
    memset(r, 0, sizeof(*r));
    r->codec = LADDER_CODEC_H264;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "name") == 0) {
            rc = json_str_field(v, i, key, r->name, sizeof(r->name), err,
                                errlen);
        } else if (strcmp(key, "remux") == 0) {
            if (!json_is_boolean(v))
                return fail(err, errlen,
                            "renditions[%d].remux: must be true or false", i);
            r->remux = json_is_true(v);
            rc = 0;
        } else if (strcmp(key, "height") == 0) {
            rc = json_int_field(v, i, key, &r->height, err, errlen);
            encoded_only = key;
        } else if (strcmp(key, "width") == 0) {
            rc = json_int_field(v, i, key, &r->width, err, errlen);
            encoded_only = key;
        } else if (strcmp(key, "fps") == 0) {
            rc = json_int_field(v, i, key, &r->fps, err, errlen);
            encoded_only = key;
            have_fps = true;
        } else if (strcmp(key, "min_source_fps") == 0) {
            rc = json_int_field(v, i, key, &r->min_source_fps, err, errlen);
            encoded_only = key;
        } else if (strcmp(key, "bitrate_kbps") == 0) {
            rc = json_int_field(v, i, key, &r->bitrate_kbps, err, errlen);
            encoded_only = key;
        } else if (strcmp(key, "codec") == 0) {
            if (!json_is_string(v) ||
                ladder_codec_parse(json_string_value(v), &r->codec) < 0)
                return fail(err, errlen,
                            "renditions[%d].codec: unknown codec (want h264, "
                            "hevc or av1)",
                            i);
            encoded_only = key;
            rc = 0;
        } else if (strcmp(key, "profile") == 0) {
            rc = json_str_field(v, i, key, r->profile, sizeof(r->profile), err,
                                errlen);
            encoded_only = key;
        } else {
            return fail(err, errlen, "renditions[%d].%s: unknown field", i,
                        key);
        }
        if (rc < 0)
            return rc;
    }
    if (r->remux && encoded_only)
        return fail(err, errlen,
                    "renditions[%d].%s: not allowed on a remux rung", i,
                    encoded_only);
    if (!r->remux && !have_fps)
        r->fps = DEFAULT_SOURCE_FPS;
    return rung_check(r, i, err, errlen);
}

int ladder_profile_parse(const char *json, ladder_profile_t *out, char *err,
                         size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *key;
    json_t *v;
    json_t *rungs = NULL;
    int rc = 0;

    if (err && errlen > 0)
        err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (!json) {
        rc = fail(err, errlen, "profile: no JSON text");
        goto end;
    }
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = fail(err, errlen, "profile: line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        goto end;
    }
    if (!json_is_object(root)) {
        rc = fail(err, errlen, "profile: must be a JSON object");
        goto end;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) >= sizeof(out->name)) {
                rc = fail(err, errlen, "name: must be a string of 1..%zu bytes",
                          sizeof(out->name) - 1);
                goto end;
            }
            memcpy(out->name, json_string_value(v), json_string_length(v));
        } else if (strcmp(key, "renditions") == 0) {
            rungs = v;
        } else if (strcmp(key, "segment_ms") == 0 ||
                   strcmp(key, "part_ms") == 0) {
            bool seg = key[0] == 's';
            int lo = seg ? LADDER_SEGMENT_MS_MIN : LADDER_PART_MS_MIN;
            int hi = seg ? LADDER_SEGMENT_MS_MAX : LADDER_PART_MS_MAX;
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
            if (x != 0 && (x < lo || x > hi)) {
                rc = fail(err, errlen, "%s: must be 0 or %d..%d (got %s)", key,
                          lo, hi,
                          json_is_integer(v) ? "out of range" : "no integer");
                goto end;
            }
            *(seg ? &out->segment_ms : &out->part_ms) = (int)x;
        } else {
            rc = fail(err, errlen, "%s: unknown field", key);
            goto end;
        }
    }
    if (out->name[0] == '\0') {
        rc = fail(err, errlen, "name: missing");
        goto end;
    }
    if (out->part_ms && out->segment_ms && 2 * out->part_ms > out->segment_ms) {
        rc = fail(err, errlen,
                  "part_ms: must be at most half of segment_ms (%d > %d / 2)",
                  out->part_ms, out->segment_ms);
        goto end;
    }
    if (!json_is_array(rungs) || json_array_size(rungs) == 0) {
        rc = fail(err, errlen, "renditions: must be a non-empty array");
        goto end;
    }
    if (json_array_size(rungs) > LADDER_MAX_RUNGS) {
        rc = fail(err, errlen, "renditions: at most %d rungs (got %zu)",
                  LADDER_MAX_RUNGS, json_array_size(rungs));
        goto end;
    }
    for (size_t i = 0; i < json_array_size(rungs); i++) {
        rc = parse_rung(json_array_get(rungs, i), (int)i, &out->rungs[i], err,
                        errlen);
        if (rc < 0)
            goto end;
        out->nrungs++;
    }
end:
    json_decref(root);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int ladder_profile_load(const char *path, ladder_profile_t *out, char *err,
                        size_t errlen)
{
    char *buf = NULL;
    FILE *f = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto end;
    }
    buf = malloc(MAX_PROFILE_FILE + 1);
    if (!buf) {
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto end;
    }
    size_t n = fread(buf, 1, MAX_PROFILE_FILE + 1, f);
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", path);
        goto end;
    }
    if (n > MAX_PROFILE_FILE) {
        rc = -EINVAL;
        snprintf(err, errlen, "%s: larger than %d bytes", path,
                 MAX_PROFILE_FILE);
        goto end;
    }
    buf[n] = '\0';
    char perr[200];
    rc = ladder_profile_parse(buf, out, perr, sizeof(perr));
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, perr);
end:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

int ladder_profile_default(ladder_profile_t *out)
{
    char err[200];
    int rc = ladder_profile_parse(ladder_default_json(), out, err, sizeof(err));
    if (rc < 0)
        log_error("ladder", "The embedded default profile does not parse.",
                  "err=\"%s\"", err);
    return rc;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int64_t even_floor(int64_t x)
{
    x &= ~(int64_t)1;
    return x < 2 ? 2 : x;
}

/* num/den rounded to the nearest even integer (halves up), at least 2. */
static int64_t round_even(int64_t num, int64_t den)
{
    int64_t x = 2 * ((num + den) / (2 * den));
    return x < 2 ? 2 : x;
}

/* The source's frame rate as a reduced fraction; unknown or junk -> 30. */
static void source_rate(const ladder_source_t *s, int64_t *num, int64_t *den)
{
    int64_t n = s->fps_num, d = s->fps_den;
    if (n <= 0 || d <= 0 || n > (int64_t)MAX_FPS * d) {
        *num = DEFAULT_SOURCE_FPS;
        *den = 1;
        return;
    }
    int64_t g = gcd64(n, d);
    n /= g;
    d /= g;
    if (d > 1000000) { /* keep later products in range */
        n = (n * 1000000 + d / 2) / d;
        d = 1000000;
        if (n == 0) {
            n = DEFAULT_SOURCE_FPS;
            d = 1;
        }
        g = gcd64(n, d);
        n /= g;
        d /= g;
    }
    *num = n;
    *den = d;
}

/* The sample aspect ratio as a reduced fraction; unknown or absurd -> 1:1. */
static void source_sar(const ladder_source_t *s, int64_t *num, int64_t *den)
{
    int64_t n = s->sar_num, d = s->sar_den;
    if (n <= 0 || d <= 0 || n > MAX_SAR * d || d > MAX_SAR * n) {
        *num = 1;
        *den = 1;
        return;
    }
    int64_t g = gcd64(n, d);
    *num = n / g;
    *den = d / g;
}

/* Is num/den faster than fps, beyond the tolerance? */
static bool rate_above(int64_t num, int64_t den, int fps)
{
    return num * 100 > (int64_t)fps * den * (100 + FPS_TOLERANCE_PCT);
}

/*
 * Sizes one rung for the source. Returns false when the rung would upscale.
 * sn/sd is the source's short display side, ln/ld its long one.
 */
static bool fit_size(const ladder_rung_t *rung, int64_t sn, int64_t sd,
                     int64_t ln, int64_t ld, int64_t *short_side,
                     int64_t *long_side)
{
    int64_t H = rung->height, W = rung->width;
    /* With both, the side whose bound is tighter decides: H/S <= W/L. */
    bool by_height = H > 0 && (W == 0 || H * ln * sd <= W * sn * ld);

    if (by_height) {
        if (H * sd > sn)
            return false;
        *short_side = even_floor(H);
        /* long = short * L / S */
        *long_side = round_even(*short_side * ln * sd, ld * sn);
        int64_t cap = even_floor(ln / ld);
        if (*long_side > cap)
            *long_side = cap;
    } else {
        if (W * ld > ln)
            return false;
        *long_side = even_floor(W);
        *short_side = round_even(*long_side * sn * ld, sd * ln);
        int64_t cap = even_floor(sn / sd);
        if (*short_side > cap)
            *short_side = cap;
    }
    return true;
}

static bool same_output(const ladder_rendition_t *a,
                        const ladder_rendition_t *b)
{
    return a->remux == b->remux && a->width == b->width &&
           a->height == b->height && a->fps_num == b->fps_num &&
           a->fps_den == b->fps_den && a->codec == b->codec;
}

void ladder_audio_only(ladder_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->r[0].name, sizeof(out->r[0].name), "audio");
    out->r[0].remux = true;
    out->n = 1;
}

int ladder_apply(const ladder_profile_t *profile, const ladder_source_t *src,
                 ladder_t *out)
{
    char err[200];

    memset(out, 0, sizeof(*out));
    if (src->width < 1 || src->width > MAX_SIDE || src->height < 1 ||
        src->height > MAX_SIDE) {
        log_error("ladder", "The source has no usable size.",
                  "profile=\"%s\" width=%d height=%d", profile->name,
                  src->width, src->height);
        return -EINVAL;
    }
    if (profile->nrungs < 0 || profile->nrungs > LADDER_MAX_RUNGS) {
        log_error("ladder", "The profile has a bad rung count.",
                  "profile=\"%s\" nrungs=%d", profile->name, profile->nrungs);
        return -EINVAL;
    }
    for (int i = 0; i < profile->nrungs; i++) {
        if (rung_check(&profile->rungs[i], i, err, sizeof(err)) < 0) {
            log_error("ladder", "The profile has a bad rung.",
                      "profile=\"%s\" err=\"%s\"", profile->name, err);
            return -EINVAL;
        }
    }

    int64_t fn, fd, sarn, sard;
    source_rate(src, &fn, &fd);
    source_sar(src, &sarn, &sard);

    /* Display size: width * sar (a fraction) by height. */
    int64_t dwn = src->width * sarn, dwd = sard, dh = src->height;
    bool portrait = dwn < dh * dwd;
    int64_t sn, sd, ln, ld; /* short and long display sides as fractions */
    if (portrait) {
        sn = dwn, sd = dwd, ln = dh, ld = 1;
    } else {
        sn = dh, sd = 1, ln = dwn, ld = dwd;
    }

    for (int i = 0; i < profile->nrungs; i++) {
        const ladder_rung_t *rung = &profile->rungs[i];
        ladder_rendition_t r;
        memset(&r, 0, sizeof(r));
        r.codec = rung->codec;
        memcpy(r.profile, rung->profile, sizeof(r.profile));

        if (rung->remux) {
            r.remux = true;
            r.width = src->width;
            r.height = src->height;
            r.fps_num = (int)fn;
            r.fps_den = (int)fd;
            r.frame_step = 1;
            r.bitrate_kbps = src->bitrate_kbps > 0 ? src->bitrate_kbps : 0;
            snprintf(r.name, sizeof(r.name), "%s",
                     rung->name[0] ? rung->name : "source");
        } else {
            if (rung->min_source_fps > 0 &&
                !rate_above(fn, fd, rung->min_source_fps))
                continue;
            int64_t s, l;
            if (!fit_size(rung, sn, sd, ln, ld, &s, &l))
                continue;
            r.width = (int)(portrait ? s : l);
            r.height = (int)(portrait ? l : s);

            /* Smallest k with (fn / fd) / k <= fps, within the tolerance. */
            int64_t lim = (int64_t)rung->fps * fd * (100 + FPS_TOLERANCE_PCT);
            int64_t k = (fn * 100 + lim - 1) / lim;
            if (k < 1)
                k = 1;
            int64_t on = fn, od = fd * k;
            int64_t g = gcd64(on, od);
            on /= g;
            od /= g;
            r.fps_num = (int)on;
            r.fps_den = (int)od;
            r.frame_step = (int)k;

            /* bitrate * (on / od) / fps, rounded. */
            int64_t bd = od * rung->fps;
            int64_t kbps =
                (2 * (int64_t)rung->bitrate_kbps * on + bd) / (2 * bd);
            r.bitrate_kbps = kbps < 1 ? 1 : (int)kbps;

            if (rung->name[0]) {
                snprintf(r.name, sizeof(r.name), "%s", rung->name);
            } else {
                /* Both are bounded (LADDER size and fps limits), so the
                 * name fits; as ints the compiler can see that too. */
                int rounded = (int)((2 * on + od) / (2 * od));
                snprintf(r.name, sizeof(r.name), "%dp%d", (int)s, rounded);
            }
        }

        bool dup = false;
        for (int j = 0; j < out->n && !dup; j++)
            dup = same_output(&out->r[j], &r);
        if (!dup)
            out->r[out->n++] = r;
    }
    return 0;
}

/* w * h * num / den, rounded to the nearest pixel. */
static uint64_t pixel_rate(int w, int h, int64_t num, int64_t den)
{
    if (w <= 0 || h <= 0 || num <= 0 || den <= 0)
        return 0;
    uint64_t px = (uint64_t)w * (uint64_t)h * (uint64_t)num;
    return (px + (uint64_t)den / 2) / (uint64_t)den;
}

void ladder_cost(const ladder_t *ladder, const ladder_source_t *src,
                 ladder_cost_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < ladder->n; i++) {
        const ladder_rendition_t *r = &ladder->r[i];
        if (r->remux)
            continue;
        out->encode_pixels +=
            pixel_rate(r->width, r->height, r->fps_num, r->fps_den);
        out->sessions++;
        out->codecs |= 1u << r->codec;
    }
    if (out->sessions > 0) {
        int64_t fn, fd;
        source_rate(src, &fn, &fd);
        out->decode_pixels = pixel_rate(src->width, src->height, fn, fd);
    }
}
