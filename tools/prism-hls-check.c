/* prism-hls-check: checks HLS playlists against RFC 8216's MUST rules. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hls_check.h"
#include "hls_check_ll.h"

static const char usage[] =
    "usage: prism-hls-check [--ll] [--part-naming infer|prism|none]\n"
    "                       [--prev EARLIER] [--delta DELTA] PLAYLIST\n"
    "       prism-hls-check [--ll] --reports [URI=]FILE [[URI=]FILE ...]\n"
    "       prism-hls-check --variant URI --peak BPS [--average BPS]\n"
    "                       [--tolerance F] [--video PROFILE:LEVEL|none]\n"
    "                       [--audio PROFILE|none] MASTER\n"
    "The first form checks a master or media playlist (told apart by its\n"
    "tags), the Low-Latency tags (RFC 8216bis) included; with --prev, also\n"
    "that PLAYLIST may follow EARLIER as a later snapshot of the same live\n"
    "media playlist (parts included). --ll adds Prism's Low-Latency\n"
    "promises: parts, PART-INF, SERVER-CONTROL with CAN-BLOCK-RELOAD=YES\n"
    "and a part preload hint are there, every segment's first part is\n"
    "INDEPENDENT=YES, PART-HOLD-BACK is at least 3 PART-TARGETs, parts only\n"
    "within the last three target durations. --part-naming says whether the\n"
    "parts are named <stem><MSN><tag>.<K><ext> after their segment\n"
    "<stem><MSN><tag><ext> (seg_00048_9f3a01c2.2.m4s; no digit in <stem>,\n"
    "<tag> may be empty): prism requires it, infer (the default) assumes it\n"
    "when the last segment's parts follow it; then the part preload hint\n"
    "must name the part after the last one (of the next MSN: any tag).\n"
    "--delta DELTA (with --prev): DELTA, the _HLS_skip=YES playlist served\n"
    "at the same moment as PLAYLIST, applied to EARLIER must equal PLAYLIST\n"
    "and skip only segments ending CAN-SKIP-UNTIL before the end.\n"
    "The second form checks the EXT-X-RENDITION-REPORT tags of a master's\n"
    "media playlists fetched at about the same time: FILE was served at URI\n"
    "(default: FILE), the path reports resolve against; each report must\n"
    "name another one and be within one part or one segment of it; with\n"
    "--ll, each playlist must report every other.\n"
    "The third checks the variant URI of MASTER: BANDWIDTH against the peak\n"
    "segment bit rate measured, AVERAGE-BANDWIDTH against the average\n"
    "(within F, default 0.1; without --average, only that it is there: a\n"
    "live stream's is an estimate until it ends), CODECS against the\n"
    "video's H.264 profile and level and the audio's AAC profile (ffprobe's\n"
    "names, e.g. High:30, LC).\n"
    "Prints each broken rule as FILE:LINE: RULE: sentence; exits 0 when\n"
    "there is none, 1 when there are, 2 on a usage or read error.";

/* What the first form was asked to check besides PLAYLIST itself. */
typedef struct {
    const char *prev, *delta;
    bool ll;
    hls_ll_naming_t naming;
} check_opts_t;

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

/* Reads and parses the media playlist at path into a new *mp; its own
 * problems go to r, or nowhere when r is NULL. 0, or 2 on a read error. */
static int load_media(const char *path, hls_media_t **mp, hls_report_t *r)
{
    hls_report_t *scratch = r ? NULL : calloc(1, sizeof(*scratch));
    char *text = read_text(path);
    int status = 2;
    *mp = calloc(1, sizeof(**mp));
    if (!*mp || !text || (!r && !scratch))
        goto end;
    hls_check_media(text, *mp, r ? r : scratch);
    status = 0;
end:
    if (status) {
        free(*mp);
        *mp = NULL;
    }
    free(scratch);
    free(text);
    return status;
}

/* --delta: DELTA applied to EARLIER (pm) must equal PLAYLIST (m); DELTA's
 * own problems are printed under its name. */
static int check_delta(const char *path, const hls_media_t *pm,
                       const hls_media_t *m, hls_report_t *r)
{
    hls_report_t *dr = calloc(1, sizeof(*dr));
    hls_media_t *dm = NULL;
    int status = 2;
    if (!dr || load_media(path, &dm, dr))
        goto end;
    print_report(path, dr);
    hls_check_ll_delta(pm, dm, m, r);
    status = dr->n + dr->dropped ? 1 : 0;
end:
    free(dm);
    free(dr);
    return status;
}

static int check_playlist(const char *path, const check_opts_t *o)
{
    hls_report_t *r = calloc(1, sizeof(*r));
    hls_media_t *m = calloc(1, sizeof(*m)), *pm = NULL;
    hls_master_t *ms = NULL;
    char *text = read_text(path);
    int status = 2, delta_status = 0;
    hls_ll_opts_t ll = o->ll ? hls_ll_prism : hls_ll_spec;
    ll.naming = o->naming;
    if (!r || !m || !text)
        goto end;
    if (hls_check_kind(text) == HLS_KIND_MASTER) {
        if (!(ms = calloc(1, sizeof(*ms))))
            goto end;
        hls_check_master(text, ms, r);
    } else {
        hls_check_media(text, m, r);
        hls_check_ll(m, &ll, r);
        /* EARLIER's own problems were reported when it was checked. */
        if (o->prev && load_media(o->prev, &pm, NULL))
            goto end;
        if (pm) {
            hls_check_media_update(pm, m, r);
            hls_check_ll_update(pm, m, r);
        }
        if (pm && o->delta && (delta_status = check_delta(o->delta, pm, m, r)))
            if (delta_status == 2)
                goto end;
    }
    print_report(path, r);
    status = r->n + r->dropped || delta_status ? 1 : 0;
end:
    free(text);
    free(ms);
    free(pm);
    free(m);
    free(r);
    return status;
}

/* --reports: the rendition reports of the playlists args[0..n-1], each
 * [URI=]FILE. */
static int check_reports(char **args, int n, bool all)
{
    hls_media_t **pl = calloc((size_t)n, sizeof(*pl));
    const char **uris = calloc((size_t)n, sizeof(*uris));
    hls_report_t *r = calloc(1, sizeof(*r));
    int status = 2, i;
    if (!pl || !uris || !r)
        goto end;
    for (i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        uris[i] = args[i];
        if (eq)
            *eq = 0;
        if (load_media(eq ? eq + 1 : args[i], &pl[i], NULL))
            goto end;
    }
    hls_check_ll_reports((const hls_media_t *const *)pl, uris, n, all, r);
    print_report("reports", r);
    status = r->n + r->dropped ? 1 : 0;
end:
    for (i = 0; pl && i < n; i++)
        free(pl[i]);
    free(pl);
    free(uris);
    free(r);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"prev", required_argument, 0, 'p'},
        {"delta", required_argument, 0, 'd'},
        {"ll", no_argument, 0, 'l'},
        {"part-naming", required_argument, 0, 'n'},
        {"reports", no_argument, 0, 'R'},
        {"variant", required_argument, 0, 'V'},
        {"peak", required_argument, 0, 'k'},
        {"average", required_argument, 0, 'a'},
        {"tolerance", required_argument, 0, 't'},
        {"video", required_argument, 0, 'v'},
        {"audio", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    check_opts_t o = {.naming = HLS_LL_NAMING_INFER};
    const char *variant = NULL, *video = NULL, *audio = NULL;
    double peak = -1, avg = -1, tol = 0.1;
    bool reports = false, bad = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o.prev = optarg;
            break;
        case 'd':
            o.delta = optarg;
            break;
        case 'l':
            o.ll = true;
            break;
        case 'n':
            o.naming = !strcmp(optarg, "prism")  ? HLS_LL_NAMING_PRISM
                       : !strcmp(optarg, "none") ? HLS_LL_NAMING_NONE
                                                 : HLS_LL_NAMING_INFER;
            bad |= strcmp(optarg, "prism") && strcmp(optarg, "none") &&
                   strcmp(optarg, "infer");
            break;
        case 'R':
            reports = true;
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
    if (reports && optind < argc && !variant)
        return check_reports(argv + optind, argc - optind, o.ll);
    if (bad || reports || optind != argc - 1 || (variant && peak < 0) ||
        (o.delta && !o.prev)) {
        fprintf(stderr, "%s\n", usage);
        return 2;
    }
    if (variant)
        return check_variant(argv[optind], variant, peak, avg, tol, video,
                             audio);
    return check_playlist(argv[optind], &o);
}
