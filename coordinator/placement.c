/* Placement: which worker device runs a stream's ladder (pure, no I/O). */

/*
 * How this works
 *
 * A ladder costs a device three things (shared/ladder.h, ladder_cost):
 * encoder sessions, encode pixels/s and decode pixels/s. Each device has a
 * limit for each: max_sessions (0 = none), and the two budgets less the
 * headroom fraction. The device's current use per dimension is
 *
 *     used = max(reserved, measured + unconfirmed)
 *
 * where `reserved` is the sum of every placement the coordinator made there,
 * `unconfirmed` the part of it the worker's load reports do not show yet, and
 * `measured` what the last report said. So a fresh placement counts at once,
 * and a worker busier than its reservations explain (another process on the
 * GPU, an estimate that was too low) counts as busy as it says.
 *
 * placement_pick scans every device of every live, accepting worker once per
 * attempt and keeps the best by policy: least-loaded minimises the load
 * fraction the device would have after the placement (spreading streams),
 * best-fit maximises it (packing, so whole devices stay free for big
 * ladders). When nothing holds the full ladder, the most expensive encoded
 * rung is dropped, and so on; all these candidate rung sets are tried in
 * the same single pass over the devices. The last is the remuxed
 * Source alone, which costs no encoder and fits any accepting worker.
 *
 * The scan is linear in devices: at 10000 workers it is tens of
 * microseconds, which the sched bench measures. It keeps no index so that
 * every load change is a plain counter update.
 */
#include "placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void placement_device_used(const placement_device_t *dev, placement_load_t *out)
{
    int ms = dev->measured.sessions + dev->unconfirmed.sessions;
    out->sessions = ms > dev->reserved.sessions ? ms : dev->reserved.sessions;
    out->encode_pixels =
        max_u64(dev->reserved.encode_pixels,
                dev->measured.encode_pixels + dev->unconfirmed.encode_pixels);
    out->decode_pixels =
        max_u64(dev->reserved.decode_pixels,
                dev->measured.decode_pixels + dev->unconfirmed.decode_pixels);
}

int placement_worker_sessions(const placement_farm_t *farm, size_t worker)
{
    const placement_worker_t *w = &farm->workers[worker];
    int n = 0;
    for (size_t d = 0; d < w->ndevices; d++) {
        placement_load_t u;
        placement_device_used(&farm->devices[w->first_device + d], &u);
        n += u.sessions;
    }
    return n;
}

static double frac(uint64_t used, uint64_t budget)
{
    return budget ? (double)used / (double)budget : 0.0;
}

static double load_of(const placement_device_t *dev, const placement_load_t *u)
{
    double l = 0.0;
    if (dev->max_sessions > 0)
        l = (double)u->sessions / dev->max_sessions;
    double e = frac(u->encode_pixels, dev->enc_budget);
    double d = frac(u->decode_pixels, dev->dec_budget);
    if (e > l)
        l = e;
    if (d > l)
        l = d;
    return l;
}

double placement_device_load(const placement_device_t *dev)
{
    placement_load_t u;
    placement_device_used(dev, &u);
    return load_of(dev, &u);
}

void placement_reserve(placement_device_t *dev, const ladder_cost_t *cost,
                       int sign, bool unconfirmed)
{
    placement_load_t *t[2] = {&dev->reserved, &dev->unconfirmed};
    int n = unconfirmed ? 2 : 1;
    for (int i = 0; i < n; i++) {
        if (sign > 0) {
            t[i]->sessions += cost->sessions;
            t[i]->encode_pixels += cost->encode_pixels;
            t[i]->decode_pixels += cost->decode_pixels;
        } else {
            t[i]->sessions = t[i]->sessions > cost->sessions
                                 ? t[i]->sessions - cost->sessions
                                 : 0;
            t[i]->encode_pixels =
                sub_floor(t[i]->encode_pixels, cost->encode_pixels);
            t[i]->decode_pixels =
                sub_floor(t[i]->decode_pixels, cost->decode_pixels);
        }
    }
}

void placement_confirm(placement_device_t *dev, const ladder_cost_t *cost)
{
    placement_load_t *u = &dev->unconfirmed;
    u->sessions =
        u->sessions > cost->sessions ? u->sessions - cost->sessions : 0;
    u->encode_pixels = sub_floor(u->encode_pixels, cost->encode_pixels);
    u->decode_pixels = sub_floor(u->decode_pixels, cost->decode_pixels);
}

void placement_cost_of(const ladder_t *ladder, const ladder_source_t *src,
                       unsigned kept, ladder_cost_t *out)
{
    ladder_t sub;
    sub.n = 0;
    for (int i = 0; i < ladder->n && i < LADDER_MAX_RUNGS; i++) {
        if (kept & (1u << i))
            sub.r[sub.n++] = ladder->r[i];
    }
    ladder_cost(&sub, src, out);
}

/* The budget left under the headroom. */
static uint64_t usable(uint64_t budget, double headroom)
{
    return (uint64_t)((double)budget * (1.0 - headroom));
}

/* A device's limits for one pick: computed once, used for every candidate. */
typedef struct {
    placement_load_t used;
    uint64_t enc_room; /* encode budget less headroom */
    uint64_t dec_room; /* decode budget less headroom (0: not limited) */
    bool can_encode;
} devview_t;

static void devview(const placement_config_t *cfg,
                    const placement_device_t *dev, devview_t *v)
{
    placement_device_used(dev, &v->used);
    v->enc_room = usable(dev->enc_budget, cfg->headroom);
    v->dec_room = dev->dec_budget ? usable(dev->dec_budget, cfg->headroom) : 0;
    v->can_encode = dev->hw_encode || dev->kind == PLACEMENT_KIND_CPU;
}

/* Does `cost` fit on the device? */
static bool fits(const placement_device_t *dev, const devview_t *v,
                 const ladder_cost_t *cost)
{
    if (cost->sessions == 0)
        return true;
    return v->can_encode && (cost->codecs & dev->enc_codecs) == cost->codecs &&
           (dev->max_sessions <= 0 ||
            v->used.sessions + cost->sessions <= dev->max_sessions) &&
           v->used.encode_pixels + cost->encode_pixels <= v->enc_room &&
           (dev->dec_budget == 0 ||
            v->used.decode_pixels + cost->decode_pixels <= v->dec_room);
}

/* The load fraction the device would have with `cost` on it. */
static double load_with(const placement_device_t *dev, const devview_t *v,
                        const ladder_cost_t *cost)
{
    placement_load_t u = v->used;
    u.sessions += cost->sessions;
    u.encode_pixels += cost->encode_pixels;
    u.decode_pixels += cost->decode_pixels;
    return load_of(dev, &u);
}

static bool accepting(const placement_worker_t *w)
{
    return w->live && !w->draining && !w->overloaded;
}

static uint64_t rung_pixels(const ladder_rendition_t *r)
{
    return (uint64_t)r->width * (uint64_t)r->height *
           (uint64_t)(ladder_rendition_fps(r) + 0.5);
}

/*
 * The candidate rung sets, best first: the whole ladder, then each time
 * without the most expensive encoded rung still kept, down to no encoded
 * rung. Returns how many (1 without allow_partial).
 */
static int candidates(const placement_request_t *req,
                      unsigned kept[LADDER_MAX_RUNGS + 1],
                      ladder_cost_t cost[LADDER_MAX_RUNGS + 1])
{
    const ladder_t *lad = req->ladder;
    unsigned all = lad->n >= 32 ? ~0u : (1u << lad->n) - 1u;
    int n = 0;
    kept[0] = all;
    ladder_cost(lad, req->source, &cost[0]);
    n = 1;
    while (req->allow_partial && cost[n - 1].sessions > 0 &&
           n <= LADDER_MAX_RUNGS) {
        int worst = -1;
        uint64_t wp = 0;
        for (int i = 0; i < lad->n; i++) {
            if (!(kept[n - 1] & (1u << i)) || lad->r[i].remux)
                continue;
            uint64_t p = rung_pixels(&lad->r[i]);
            if (worst < 0 || p > wp) {
                worst = i;
                wp = p;
            }
        }
        if (worst < 0)
            break;
        kept[n] = kept[n - 1] & ~(1u << worst);
        placement_cost_of(lad, req->source, kept[n], &cost[n]);
        n++;
    }
    return n;
}

int placement_pick(const placement_config_t *cfg, const placement_farm_t *farm,
                   const placement_request_t *req, placement_result_t *out)
{
    unsigned kept[LADDER_MAX_RUNGS + 1];
    ladder_cost_t cost[LADDER_MAX_RUNGS + 1];
    memset(out, 0, sizeof(*out));
    out->worker = -1;
    out->device = -1;

    int ncand = candidates(req, kept, cost);
    bool pack = cfg->policy == PLACEMENT_BEST_FIT;
    bool any = false;
    int bj = ncand; /* best candidate index found so far (lower is better) */
    long bw = -1, bd = -1;
    double bl = 0;

    /*
     * One pass: each device is tried with the candidates from the whole
     * ladder down, but never past the best candidate some device already
     * holds, so once the whole ladder fits somewhere every other device
     * costs one check.
     */
    for (size_t wi = 0; wi < farm->nworkers; wi++) {
        const placement_worker_t *w = &farm->workers[wi];
        if (!accepting(w) || w->ndevices == 0)
            continue;
        any = true;
        int host_free = -1;
        if (w->max_host_sessions > 0)
            host_free =
                w->max_host_sessions - placement_worker_sessions(farm, wi);
        for (size_t k = 0; k < w->ndevices; k++) {
            size_t di = w->first_device + k;
            const placement_device_t *dev = &farm->devices[di];
            devview_t v;
            devview(cfg, dev, &v);
            for (int j = 0; j < ncand && j <= bj; j++) {
                if (host_free >= 0 && cost[j].sessions > 0 &&
                    cost[j].sessions > host_free)
                    continue;
                if (!fits(dev, &v, &cost[j]))
                    continue;
                /* Least-loaded, same candidate as the best so far: the
                 * load is at least the encode fraction, so a device whose
                 * encode fraction alone does not beat the best cannot. */
                if (!pack && j == bj &&
                    frac(v.used.encode_pixels + cost[j].encode_pixels,
                         dev->enc_budget) >= bl)
                    break;
                double l = load_with(dev, &v, &cost[j]);
                if (j < bj || (pack ? l > bl : l < bl)) {
                    bj = j;
                    bw = (long)wi;
                    bd = (long)di;
                    bl = l;
                }
                break;
            }
        }
    }
    if (!any)
        return PLACEMENT_ENOWORKER;
    if (bw < 0)
        return PLACEMENT_ENOSPACE;
    out->worker = bw;
    out->device = bd;
    out->kept = kept[bj];
    out->partial = bj > 0;
    out->cost = cost[bj];
    out->load_after = bl;
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    const placement_item_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

void placement_place_batch(const placement_config_t *cfg,
                           placement_farm_t *farm, placement_item_t *items,
                           size_t n)
{
    qsort(items, n, sizeof(*items), item_cmp);
    for (size_t i = 0; i < n; i++) {
        placement_item_t *it = &items[i];
        it->rc = placement_pick(cfg, farm, &it->req, &it->result);
        if (it->rc == 0)
            placement_reserve(&farm->devices[it->result.device],
                              &it->result.cost, +1, true);
    }
}

long placement_shed_pick(const uint32_t *priority, const uint64_t *seq,
                         size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (best < 0 || priority[i] < priority[best] ||
            (priority[i] == priority[best] && seq[i] > seq[best]))
            best = (long)i;
    }
    return best;
}

static const char *const kind_names[PLACEMENT_KIND_COUNT] = {"cpu", "nvenc",
                                                             "vaapi", "qsv"};

const char *placement_kind_name(placement_kind_t kind)
{
    return (unsigned)kind < PLACEMENT_KIND_COUNT ? kind_names[kind] : "unknown";
}

int placement_kind_parse(const char *name, placement_kind_t *out)
{
    for (int i = 0; i < PLACEMENT_KIND_COUNT; i++) {
        if (!strcasecmp(name, kind_names[i])) {
            *out = (placement_kind_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *placement_policy_name(placement_policy_t policy)
{
    return policy == PLACEMENT_BEST_FIT ? "best-fit" : "least-loaded";
}

int placement_policy_parse(const char *name, placement_policy_t *out)
{
    if (!strcasecmp(name, "least-loaded") || !strcasecmp(name, "least_loaded"))
        *out = PLACEMENT_LEAST_LOADED;
    else if (!strcasecmp(name, "best-fit") || !strcasecmp(name, "best_fit"))
        *out = PLACEMENT_BEST_FIT;
    else
        return -EINVAL;
    return 0;
}
