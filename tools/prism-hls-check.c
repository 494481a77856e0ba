/* prism-hls-check: checks HLS playlists against RFC 8216's MUST rules. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hls_check.h"

static const char usage[] =
    "usage: prism-hls-check [--prev EARLIER] PLAYLIST\n"
    "       prism-hls-check --variant URI --peak BPS [--average BPS]\n"
    "                       [--tolerance F] [--video PROFILE:LEVEL|none]\n"
    "                       [--audio PROFILE|none] MASTER\n"
    "The first form checks a master or media playlist (told apart by its\n"
    "tags); with --prev, also that PLAYLIST may follow EARLIER as a later\n"
    "snapshot of the same live media playlist. The second checks the\n"
    "variant URI of MASTER: BANDWIDTH against the peak segment bit rate\n"
    "measured, AVERAGE-BANDWIDTH against the average (within F, default\n"
    "0.1; without --average, only that it is there: a live stream's is an\n"
    "estimate until it ends), CODECS against the video's H.264 profile and "
    "level and the\n"
    "audio's AAC profile (ffprobe's names, e.g. High:30, LC).\n"
    "Prints each broken rule as FILE:LINE: RULE: sentence; exits 0 when\n"
    "there is none, 1 when there are, 2 on a usage or read error.";

/* Reads a whole file (at most HLS_CHECK_MAX_TEXT bytes) as a string. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    if (!f) {
        fprintf(stderr, "prism-hls-check: fopen path=%s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    buf = malloc(HLS_CHECK_MAX_TEXT + 1);
    if (!buf) {
        fprintf(stderr, "prism-hls-check: malloc: %s\n", strerror(errno));
        goto end;
    }
    n = fread(buf, 1, HLS_CHECK_MAX_TEXT + 1, f);
    if (ferror(f) || n > HLS_CHECK_MAX_TEXT) {
        fprintf(stderr, "prism-hls-check: fread path=%s: %s\n", path,
                ferror(f) ? strerror(errno) : "larger than 4 MiB");
        free(buf);
        buf = NULL;
        goto end;
    }
    buf[n] = 0;
    if (strlen(buf) != n) /* a NUL byte: report it as a control character */
        buf[strlen(buf)] = 1;
end:
    fclose(f);
    return buf;
}

static void print_report(const char *path, const hls_report_t *r)
{
    for (int i = 0; i < r->n; i++)
        printf("%s:%d: %s: %s\n", path, r->p[i].line, r->p[i].rule,
               r->p[i].text);
    if (r->dropped)
        printf("%s:0: limit: %d more problems not shown\n", path, r->dropped);
}

static int check_variant(const char *master_path, const char *uri, double peak,
                         double avg, double tol, const char *video,
                         const char *audio)
{
    hls_report_t *r = calloc(1, sizeof(*r));
    hls_master_t *m = calloc(1, sizeof(*m));
    char *text = read_text(master_path);
    char profile[64] = "";
    int level = 0, status = 2;
    if (!r || !m || !text)
        goto end;
    if (video && strcmp(video, "none")) {
        const char *colon = strrchr(video, ':');
        if (!colon || colon == video || (size_t)(colon - video) >= 64) {
            fprintf(stderr, "prism-hls-check: --video is PROFILE:LEVEL\n");
            goto end;
        }
        snprintf(profile, sizeof(profile), "%.*s", (int)(colon - video), video);
        level = atoi(colon + 1);
    }
    hls_check_master(text, m, r);
    const hls_variant_info_t *v = hls_check_variant(m, uri);
    if (!v) {
        fprintf(stderr, "prism-hls-check: no variant %s in %s\n", uri,
                master_path);
        goto end;
    }
    r->n = r->dropped = 0; /* the master's own rules are checked alone */
    hls_check_bandwidth(v, peak, avg, tol, r);
    if (video || audio)
        hls_check_codecs(v, profile[0] ? profile : NULL, level,
                         audio && strcmp(audio, "none") ? audio : NULL, r);
    print_report(master_path, r);
    status = r->n + r->dropped ? 1 : 0;
end:
    free(text);
    free(m);
    free(r);
    return status;
}

static int check_playlist(const char *path, const char *prev_path)
{
    hls_report_t *r = calloc(1, sizeof(*r));
    hls_media_t *m = calloc(1, sizeof(*m)), *pm = NULL;
    hls_master_t *ms = NULL;
    char *text = read_text(path), *prev = NULL;
    int status = 2;
    if (!r || !m || !text)
        goto end;
    if (hls_check_kind(text) == HLS_KIND_MASTER) {
        if (!(ms = calloc(1, sizeof(*ms))))
            goto end;
        hls_check_master(text, ms, r);
    } else {
        hls_check_media(text, m, r);
        if (prev_path) {
            hls_report_t *pr = calloc(1, sizeof(*pr));
            pm = calloc(1, sizeof(*pm));
            prev = read_text(prev_path);
            if (!pr || !pm || !prev) {
                free(pr);
                goto end;
            }
            hls_check_media(prev, pm, pr); /* its problems were reported */
            free(pr);
            hls_check_media_update(pm, m, r);
        }
    }
    print_report(path, r);
    status = r->n + r->dropped ? 1 : 0;
end:
    free(text);
    free(prev);
    free(ms);
    free(pm);
    free(m);
    free(r);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"prev", required_argument, 0, 'p'},
        {"variant", required_argument, 0, 'V'},
        {"peak", required_argument, 0, 'k'},
        {"average", required_argument, 0, 'a'},
        {"tolerance", required_argument, 0, 't'},
        {"video", required_argument, 0, 'v'},
        {"audio", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *prev = NULL, *variant = NULL, *video = NULL, *audio = NULL;
    double peak = -1, avg = -1, tol = 0.1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            prev = optarg;
            break;
        case 'V':
            variant = optarg;
            break;
        case 'k':
            peak = atof(optarg);
            break;
        case 'a':
            avg = atof(optarg);
            break;
        case 't':
            tol = atof(optarg);
            break;
        case 'v':
            video = optarg;
            break;
        case 'A':
            audio = optarg;
            break;
        case 'h':
            puts(usage);
            return 0;
        default:
            fprintf(stderr, "%s\n", usage);
            return 2;
        }
    }
    if (optind != argc - 1 || (variant && peak < 0)) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (variant)
        return check_variant(argv[optind], variant, peak, avg, tol, video,
                             audio);
    return check_playlist(argv[optind], prev);
}
