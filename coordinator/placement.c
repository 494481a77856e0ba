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
 * The scan is linear in devices and keeps no index, so that every load
 * change is a plain counter update. What keeps it cheap is that most
 * devices are settled by a few loads and a multiplication (settled()):
 * least-loaded, once some device holds candidate bj with load bl, a device
 * whose encode fraction alone (a lower bound of its load) is not below bl
 * cannot win with bj, and the candidates' costs are nested (each at most
 * the one before), so a device that does not fit bj - 1 (or bj, when its
 * load may beat bl) fits nothing better either. The host's free sessions
 * and the encode room are checked before the device's full use is
 * computed. Best-fit has no lower bound (a fuller device wins), so there
 * only the host's free sessions and the encode room for bj settle a
 * device. Only the few devices left go through try_device(), which
 * computes the load with divisions exactly as before; every shortcut gives
 * the same answer as the full test, so the pick is the same device.
 * At 10,000 workers (about 14,000 devices) a pick is about 50 us of CPU,
 * which the sched bench measures.
 */
#include "placement.h"

#include <errno.h>
#include <limits.h>
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

/* The budget left under the headroom; hf = 1 - headroom. */
static uint64_t usable(uint64_t budget, double hf)
{
    return (uint64_t)((double)budget * hf);
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

/* Below these, a conversion to double is exact or rounds as the unsigned
 * one does, and the signed conversion is a single instruction. */
#define EXACT_LIMIT  (1ull << 53)
#define SIGNED_LIMIT (1ull << 63)
#define FAST_LIMIT   (1ull << 52)

/*
 * Is frac(used, budget) >= bl, exactly as frac() computes it? Decided by a
 * multiplication with a relative margin far above the rounding error; only
 * when the two are that close does it divide.
 */
static inline bool frac_at_least(uint64_t used, uint64_t budget, double bl)
{
    if (!budget)
        return 0.0 >= bl;
    if (used >= SIGNED_LIMIT || budget >= SIGNED_LIMIT)
        return (double)used / (double)budget >= bl;
    double a = (double)(int64_t)used, t = bl * (double)(int64_t)budget;
    if (a > t * (1.0 + 1e-9))
        return true;
    if (a < t * (1.0 - 1e-9))
        return false;
    return a / (double)(int64_t)budget >= bl;
}

/*
 * x <= usable(budget, hf), without the conversion back: for an integer x
 * and a product p >= 0, x <= (uint64_t)p exactly when x <= p.
 */
static inline bool within(uint64_t x, uint64_t budget, double hf)
{
    if (x < EXACT_LIMIT && budget < SIGNED_LIMIT)
        return (double)(int64_t)x <= (double)(int64_t)budget * hf;
    return x <= usable(budget, hf);
}

/* A worker's host session limit, its free count computed when first
 * needed. */
typedef struct {
    const placement_device_t *devs; /* the worker's devices */
    size_t n;
    int max;  /* max_host_sessions, <= 0: none */
    int free; /* INT_MIN until computed */
} host_t;

static inline int host_free(host_t *h)
{
    if (h->free == INT_MIN) {
        int s = 0;
        for (size_t k = 0; k < h->n; k++) {
            const placement_device_t *d = &h->devs[k];
            int ms = d->measured.sessions + d->unconfirmed.sessions;
            s += ms > d->reserved.sessions ? ms : d->reserved.sessions;
        }
        h->free = h->max - s;
    }
    return h->free;
}

/* Does `c` fit on the device, whose use is `u`? Cheap checks first. */
static inline bool fits(const placement_device_t *dev,
                        const placement_load_t *u, const ladder_cost_t *c,
                        double hf, host_t *h)
{
    if (c->sessions == 0)
        return true;
    if (!(dev->hw_encode || dev->kind == PLACEMENT_KIND_CPU) ||
        (c->codecs & dev->enc_codecs) != c->codecs)
        return false;
    if (dev->max_sessions > 0 && u->sessions + c->sessions > dev->max_sessions)
        return false;
    /* A host already past its limit (its reports show more sessions than
     * were reserved) has a negative free count and takes nothing more. */
    if (h->max > 0 && c->sessions > host_free(h))
        return false;
    return within(u->encode_pixels + c->encode_pixels, dev->enc_budget, hf) &&
           (dev->dec_budget == 0 ||
            within(u->decode_pixels + c->decode_pixels, dev->dec_budget, hf));
}

static inline uint64_t used_encode(const placement_device_t *dev)
{
    return max_u64(dev->reserved.encode_pixels,
                   dev->measured.encode_pixels +
                       dev->unconfirmed.encode_pixels);
}

/* One pick's fixed inputs and where its scan stands. */
typedef struct {
    const ladder_cost_t *cost;
    int ncand;
    bool pack;
    bool nested; /* every candidate costs at most the one before it */
    double hf;   /* 1 - headroom */
    bool fast;   /* every candidate's encode pixels below FAST_LIMIT */
    double cenc[LADDER_MAX_RUNGS + 1]; /* their encode pixels, as doubles */
    int bj; /* best candidate index (lower is better); ncand = none */
    long bw, bd;
    double bl;           /* its load after */
    double bl_hi, bl_lo; /* bl with the margin settled() uses */
} scan_t;

/*
 * Tries one device with the candidates from the whole ladder down to the
 * best one some device already holds, and records it if it beats that:
 * a better candidate always does, the same one when its load after is
 * lower (least-loaded) or higher (best-fit).
 */
static void try_device(scan_t *sc, const placement_device_t *dev, host_t *h,
                       size_t wi, size_t di)
{
    placement_load_t u;
    placement_device_used(dev, &u);
    int last = sc->bj < sc->ncand ? sc->bj : sc->ncand - 1;
    for (int j = 0; j <= last; j++) {
        const ladder_cost_t *c = &sc->cost[j];
        if (!fits(dev, &u, c, sc->hf, h))
            continue;
        placement_load_t after = u;
        after.sessions += c->sessions;
        after.encode_pixels += c->encode_pixels;
        after.decode_pixels += c->decode_pixels;
        double l = load_of(dev, &after);
        if (j < sc->bj || (sc->pack ? l > sc->bl : l < sc->bl)) {
            sc->bj = j;
            sc->bw = (long)wi;
            sc->bd = (long)di;
            sc->bl = l;
            sc->bl_hi = l * (1.0 + 1e-9);
            sc->bl_lo = l * (1.0 - 1e-9);
        }
        return;
    }
}

/*
 * The least-loaded shortcut, once some device holds candidate bj: the load
 * after is at least the encode fraction, so a device whose encode fraction
 * alone does not beat the best cannot win with bj. It wins only if it holds
 * a better candidate, and with nested costs one that does not hold bj - 1
 * holds none better. So most devices cost a few loads, two conversions and
 * a multiplication or two. Returns true when the device is settled (cannot
 * win); false sends it to try_device.
 *
 * The fast form works in doubles: for integers below 2^52, (double)x +
 * (double)c rounds once, exactly as (double)(x + c) does, and for an
 * integer x below 2^53, x <= (uint64_t)p exactly when x <= p, so each test
 * gives the same answer as frac() and usable() do. The load comparison
 * uses bl with a relative margin of 1e-9 on each side, far above the
 * rounding error; inside the margin it divides as frac() does.
 */
static inline bool settled(const scan_t *sc, const placement_device_t *dev,
                           host_t *h)
{
    int bj = sc->bj;
    uint64_t ue = used_encode(dev), budget = dev->enc_budget;
    bool fast = sc->fast && budget && budget < SIGNED_LIMIT && ue < FAST_LIMIT;
    double da = 0, db = 0;
    bool pruned = false;
    if (fast) {
        da = (double)(int64_t)ue;
        db = (double)(int64_t)budget;
    }
    /* Best-fit has no lower bound to prune with (a fuller device wins):
     * only the fit of the best candidate so far settles a device there. */
    if (!sc->pack && fast) {
        double a = da + sc->cenc[bj];
        pruned =
            a > sc->bl_hi * db || (a >= sc->bl_lo * db && a / db >= sc->bl);
    } else if (!sc->pack) {
        pruned = frac_at_least(ue + sc->cost[bj].encode_pixels, budget, sc->bl);
    }
    if (pruned && bj == 0)
        return true;
    if (!sc->nested)
        return false;
    /* The best candidate it could still win with: bj if its load may beat
     * the best, else bj - 1. With nested costs, one that does not fit it
     * fits none better. */
    int top = pruned ? bj - 1 : bj;
    const ladder_cost_t *c = &sc->cost[top];
    if (c->sessions > 0) {
        /* The cheap parts of fits() first: the host's sessions (a GeForce
         * host is full long before its encode fraction says so), then the
         * encode room. */
        if (h->max > 0 && c->sessions > host_free(h))
            return true;
        if (fast && !(da + sc->cenc[top] <= db * sc->hf))
            return true;
    }
    if (sc->pack)
        return false; /* try_device computes the full use once */
    placement_load_t u;
    placement_device_used(dev, &u);
    return !fits(dev, &u, c, sc->hf, h);
}

static bool nested(const ladder_cost_t *cost, int n)
{
    for (int j = 1; j < n; j++) {
        const ladder_cost_t *a = &cost[j - 1], *b = &cost[j];
        if (b->sessions > a->sessions || b->encode_pixels > a->encode_pixels ||
            b->decode_pixels > a->decode_pixels || (b->codecs & ~a->codecs))
            return false;
    }
    return true;
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
    scan_t sc = {
        .cost = cost,
        .ncand = ncand,
        .pack = cfg->policy == PLACEMENT_BEST_FIT,
        .nested = nested(cost, ncand),
        .hf = 1.0 - cfg->headroom,
        .bj = ncand,
        .bw = -1,
        .bd = -1,
        .bl = 0,
    };
    sc.fast = true;
    for (int j = 0; j < ncand; j++) {
        sc.fast = sc.fast && cost[j].encode_pixels < FAST_LIMIT;
        sc.cenc[j] = (double)cost[j].encode_pixels;
    }
    bool any = false;

    /*
     * One pass: each device is tried with the candidates from the whole
     * ladder down, but never past the best candidate some device already
     * holds, so once the whole ladder fits somewhere every other device
     * costs one check.
     */
    const placement_worker_t *workers = farm->workers;
    const placement_device_t *devices = farm->devices;
    for (size_t wi = 0; wi < farm->nworkers; wi++) {
        const placement_worker_t *w = &workers[wi];
        if (!accepting(w) || w->ndevices == 0)
            continue;
        any = true;
        host_t h = {&devices[w->first_device], w->ndevices,
                    w->max_host_sessions, INT_MIN};
        for (size_t k = 0; k < w->ndevices; k++) {
            const placement_device_t *dev = &h.devs[k];
            if (sc.bj < ncand && settled(&sc, dev, &h))
                continue;
            try_device(&sc, dev, &h, wi, w->first_device + k);
        }
    }
    if (!any)
        return PLACEMENT_ENOWORKER;
    if (sc.bw < 0)
        return PLACEMENT_ENOSPACE;
    out->worker = sc.bw;
    out->device = sc.bd;
    out->kept = kept[sc.bj];
    out->partial = sc.bj > 0;
    out->cost = cost[sc.bj];
    out->load_after = sc.bl;
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
                           size_t n, placement_apply_fn apply, void *ctx)
{
    qsort(items, n, sizeof(*items), item_cmp);
    for (size_t i = 0; i < n; i++) {
        placement_item_t *it = &items[i];
        placement_worker_t *aw =
            it->avoid && it->avoid_worker >= 0 &&
                    (size_t)it->avoid_worker < farm->nworkers
                ? &farm->workers[it->avoid_worker]
                : NULL;
        it->rc = -1;
        if (aw && !aw->draining) {
            /* The others first: the pick is synchronous, so marking the
             * worker draining for its duration is invisible elsewhere. */
            aw->draining = true;
            it->rc = placement_pick(cfg, farm, &it->req, &it->result);
            aw->draining = false;
        }
        if (it->rc < 0)
            it->rc = placement_pick(cfg, farm, &it->req, &it->result);
        if (apply)
            apply(ctx, it);
        else if (it->rc == 0)
            placement_reserve(&farm->devices[it->result.device],
                              &it->result.cost, +1, true);
        if (it->rc == PLACEMENT_ENOWORKER) {
            for (size_t k = i + 1; k < n; k++)
                items[k].rc = PLACEMENT_ENOWORKER;
            break;
        }
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

static int upgrade_cmp(const void *a, const void *b)
{
    const placement_upgrade_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

size_t placement_upgrade_order(placement_upgrade_t *s, size_t n, int64_t now,
                               int64_t cooldown_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].partial ||
            (s[i].upgraded_ms != 0 && now - s[i].upgraded_ms < cooldown_ms))
            continue;
        if (k != i) {
            placement_upgrade_t t = s[k];
            s[k] = s[i];
            s[i] = t;
        }
        k++;
    }
    qsort(s, k, sizeof(*s), upgrade_cmp);
    return k;
}

int64_t placement_rate_left(placement_rate_t *r, int64_t now, int64_t per_s)
{
    if (now - r->window_ms >= 1000 || now < r->window_ms) {
        r->window_ms = now;
        r->used = 0;
    }
    return per_s > r->used ? per_s - r->used : 0;
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
