/*
 * t_gc_util.h: helpers shared by the collector tests (ctests/t_gc_*.c). Include after testutil.h.
 *
 *  gc_scrub_stack()      overwrite a large area below the caller's frame, so that stale copies
 *                        of pointers left there by earlier (deeper) calls cannot retain objects
 *                        when the collector scans this thread's stack conservatively.
 *  gc_full()             scrub, then runtime_GC() (force 2: mark, then sweep everything).
 *  gc_stats(&m)          runtime_ReadMemStats (exact).
 *  gc_hide(p)/unhide(h)  keep a heap address in a form that is never a heap address, so that the
 *                        bookkeeping of a test can never keep its own objects alive.
 *  gc_large_live(p)      1 while the large object at p is allocated: its pages form an in-use
 *                        span, so runtime_mlookup finds it; once the collector frees it the span
 *                        is gone (as long as nothing was allocated since, the pages cannot have
 *                        been reused). Used to tell, per object, whether a collection freed it.
 *  (tu_run_self, to re-run this program in a fresh child, is in testutil.h.)
 */
#ifndef GOGC_T_GC_UTIL_H
#define GOGC_T_GC_UTIL_H

#include "gogc.h"

#define GC_HIDE_MASK 0xA5A5000000000000ULL /* the top bits make it a non-canonical address */

static TU_UNUSED uint64_t gc_hide(const void *p) { return (uint64_t)(uintptr_t)p ^ GC_HIDE_MASK; }
static TU_UNUSED void *gc_unhide(uint64_t h) { return (void *)(uintptr_t)(h ^ GC_HIDE_MASK); }

static TU_UNUSED __attribute__((noinline)) void gc_scrub_stack(void)
{
    volatile unsigned char buf[256 * 1024];
    memset((void *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

static TU_UNUSED __attribute__((noinline)) void gc_full(void)
{
    gc_scrub_stack();
    runtime_GC();
}

static TU_UNUSED __attribute__((noinline)) void gc_force(int force)
{
    gc_scrub_stack();
    runtime_gc(force);
}

static TU_UNUSED void gc_stats(MStats *m)
{
    memset(m, 0, sizeof *m);
    runtime_ReadMemStats(m);
}

static TU_UNUSED int gc_large_live(const void *p)
{
    uint8_t *base = NULL;
    uintptr_t size = 0;
    MSpan *s = NULL;
    return runtime_mlookup((void *)p, &base, &size, &s) == 1;
}

/* A GoType with the given kind code, size and GC program. */
static TU_UNUSED void gc_init_type(GoType *t, uint8_t code, uintptr_t size, const uintptr_t *prog)
{
    memset(t, 0, sizeof *t);
    t->__code = code;
    t->__align = 8;
    t->__field_align = 8;
    t->__size = size;
    t->__hash = (uint32_t)(size * 2654435761u) ^ code;
    t->__gc = prog;
}

#endif /* GOGC_T_GC_UTIL_H */
