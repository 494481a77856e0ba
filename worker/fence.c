/* The worker's upload fence (fence.h). */
#include "fence.h"

int64_t fence_limit(int64_t dead_after_ms, int64_t report_ms)
{
    if (dead_after_ms <= 0)
        dead_after_ms = 3 * report_ms;
    int64_t limit = dead_after_ms - report_ms;
    return limit > report_ms / 2 ? limit : report_ms / 2;
}

void fence_init(fence_t *f, int64_t limit_ms)
{
    atomic_init(&f->beat_ms, 0);
    atomic_init(&f->limit_ms, limit_ms);
    atomic_init(&f->up, false);
    atomic_init(&f->raised, 0);
}

void fence_set_limit(fence_t *f, int64_t limit_ms)
{
    atomic_store(&f->limit_ms, limit_ms);
}

static void raise_fence(fence_t *f)
{
    if (!atomic_exchange(&f->up, true))
        atomic_fetch_add(&f->raised, 1);
}

int64_t fence_beat(fence_t *f, int64_t now_ms)
{
    int64_t last = atomic_load(&f->beat_ms), gap = last ? now_ms - last : 0;
    bool frozen = gap > atomic_load(&f->limit_ms);
    if (frozen)
        raise_fence(f);
    atomic_store(&f->beat_ms, now_ms);
    return frozen ? gap : 0;
}

bool fence_holds(fence_t *f, int64_t now_ms)
{
    if (!f)
        return false;
    /* The beat first: a beat newer than this read came after the fence
     * went up (fence_beat), so the flag read next shows it. */
    int64_t last = atomic_load(&f->beat_ms);
    if (last && now_ms - last > atomic_load(&f->limit_ms))
        raise_fence(f);
    return atomic_load(&f->up);
}

bool fence_is_up(fence_t *f)
{
    return atomic_load(&f->up);
}

void fence_lower(fence_t *f)
{
    atomic_store(&f->up, false);
}
