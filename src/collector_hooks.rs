//! Points where the allocator calls up into collector policy.
//!
//! The allocator (mechanism) must not depend on the collector (policy). These three functions
//! are the whole interface: the allocator calls them, and they dispatch to whatever the
//! collector registered. Until a collector module registers, allocation never triggers a
//! collection, which is the behaviour of a heap with `mstats.enablegc == 0`.

use core::sync::atomic::{AtomicPtr, Ordering};

use crate::heap::span::MSpan;

/// Called by mallocgc after an allocation that may start a collection (not FlagNoInvokeGC).
pub type AfterAllocFn = fn(size: usize);
/// Called by explicit free before the block is released (sweep-state and specials checks).
pub type BeforeFreeFn = fn(span: &mut MSpan, base: usize);

/// Called by the span sweeper before it looks at mark bits: handles special records
/// (finalizers) of unmarked objects, re-marking objects that must survive this cycle.
pub type SweepSpecialsFn = fn(span: &mut MSpan);
/// Called by the page heap before it grows while sweeping is unfinished: sweep to reclaim
/// at least `npages` pages.
pub type ReclaimFn = fn(npages: usize);

static SWEEP_SPECIALS: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static RECLAIM: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

pub fn register_sweep(specials: Option<SweepSpecialsFn>, reclaim: ReclaimFn) {
    if let Some(f) = specials {
        SWEEP_SPECIALS.store(f as *mut (), Ordering::Release);
    }
    RECLAIM.store(reclaim as *mut (), Ordering::Release);
}

#[inline]
pub fn sweep_specials(span: &mut MSpan) {
    if span.specials.is_null() {
        return;
    }
    let f = SWEEP_SPECIALS.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only SweepSpecialsFn values are stored in SWEEP_SPECIALS.
        let f: SweepSpecialsFn = unsafe { core::mem::transmute::<*mut (), SweepSpecialsFn>(f) };
        f(span);
    }
}

#[inline]
pub fn reclaim(npages: usize) {
    let f = RECLAIM.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only ReclaimFn values are stored in RECLAIM.
        let f: ReclaimFn = unsafe { core::mem::transmute::<*mut (), ReclaimFn>(f) };
        f(npages);
    }
}

static AFTER_ALLOC: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static BEFORE_FREE: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

pub fn register(after_alloc: AfterAllocFn, before_free: BeforeFreeFn) {
    AFTER_ALLOC.store(after_alloc as *mut (), Ordering::Release);
    BEFORE_FREE.store(before_free as *mut (), Ordering::Release);
}

/// Non-zero when every allocation must reach the collector (GODEBUG=stress).
pub static ALWAYS_CALL: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// The allocation-side trigger test, inline: only when the heap reached its goal (or stress
/// mode wants every allocation) does the call reach the collector.
#[inline(always)]
pub fn after_alloc(size: usize) {
    if heap_goal_reached() || ALWAYS_CALL.load(Ordering::Relaxed) != 0 {
        after_alloc_slow(size);
    }
}

/// The heap reached its collection goal (`heap_alloc >= next_gc`).
#[inline(always)]
pub fn heap_goal_reached() -> bool {
    crate::stats::heap_alloc() >= crate::stats::next_gc()
}

#[cold]
#[inline(never)]
fn after_alloc_slow(size: usize) {
    let f = AFTER_ALLOC.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only AfterAllocFn values are stored in AFTER_ALLOC.
        let f: AfterAllocFn = unsafe { core::mem::transmute::<*mut (), AfterAllocFn>(f) };
        f(size);
    }
}

#[inline]
pub fn before_free(span: &mut MSpan, base: usize) {
    let f = BEFORE_FREE.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: only BeforeFreeFn values are stored in BEFORE_FREE.
        let f: BeforeFreeFn = unsafe { core::mem::transmute::<*mut (), BeforeFreeFn>(f) };
        f(span, base);
    }
}

/// Pattern written over freed objects under GODEBUG=clobberfree=1: odd and non-canonical, so
/// it can never be mistaken for a heap pointer by a conservative scan.
pub(crate) const CLOBBER_PATTERN: usize = 0xdeadbeefdeadbeef;

/// Fills words 2.. of a freed block (words 0 and 1 carry the free link and zeroing poison).
#[inline]
pub fn clobber(base: usize, size: usize) {
    if crate::config::DEBUG.clobberfree.load(Ordering::Relaxed) == 0 {
        return;
    }
    let p = base as *mut usize;
    for i in 2..size / 8 {
        // SAFETY: base is a dead block of `size` bytes owned by the freeing thread.
        unsafe { *p.add(i) = CLOBBER_PATTERN };
    }
}
