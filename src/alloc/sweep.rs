//! Sweeping one span: the mechanism half of the sweeper (gccgo's `runtime_MSpan_Sweep`,
//! libgo-abi.md §11.4). *When* to sweep (background thread, at GC start, eager) is policy and
//! lives in `gc::sweep`; this module only turns mark bits into free objects.
//!
//! Sweep generations: with `sg = SWEEPGEN`, a span at `sg-2` needs sweeping, `sg-1` is being
//! swept by the thread that won the CAS from `sg-2`, and `sg` is swept. Whoever wins the CAS
//! owns the span's objects until it publishes `sg` (the central list does that under its lock
//! when objects were freed, so the span's lists and its sweepgen change together).

use core::ptr;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::alloc::{mcentral::CENTRAL, typeinfo};
use crate::bitmap;
use crate::config::{NUM_SIZE_CLASSES, PAGE_SHIFT, PAGE_SIZE};
use crate::fatal::throw;
use crate::heap::{self, span::{MLink, MSpan, MSPAN_IN_USE}, SWEEPGEN};
use crate::stats::{self, Field};

/// GOGC as a number (-1 = off, -2 = not read yet). Written by the collector's pacing code,
/// read here to lower `next_gc` for freed bytes.
pub static GCPERCENT: AtomicI64 = AtomicI64::new(-2);

/// Objects freed by sweeping, folded into MStats by `updatememstats`.
pub static SWEPT_SMALL: [AtomicU64; NUM_SIZE_CLASSES] = [const { AtomicU64::new(0) }; NUM_SIZE_CLASSES];
pub static SWEPT_LARGE_N: AtomicU64 = AtomicU64::new(0);
pub static SWEPT_LARGE_BYTES: AtomicU64 = AtomicU64::new(0);

/// Lowest value sweeping may lower `next_gc` to (the collector's heap minimum for the current
/// GOGC). gccgo let the subtraction wrap; here it saturates at the floor.
pub static NEXT_GC_FLOOR: AtomicU64 = AtomicU64::new(0);

fn lower_next_gc(freed: u64) {
    let pct = GCPERCENT.load(Ordering::Relaxed);
    if pct < 0 {
        return;
    }
    let d = freed.wrapping_mul((pct + 100) as u64) / 100;
    let floor = NEXT_GC_FLOOR.load(Ordering::Relaxed);
    let _ = stats::atomic(Field::NextGc).fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(d).max(floor))
    });
}

/// Sweeps span `s`, which the caller claimed (sweepgen == sg-1). Returns true if the span went
/// back to the page heap.
///
/// # Safety
/// `s` must be a live span record claimed by the caller through the sweepgen CAS.
pub unsafe fn sweep_span(s: *mut MSpan) -> bool {
    // A span is swept as one critical section: a thread must never be stopped for a
    // collection with a half-swept span (its mark bits would mix two cycles).
    crate::sync::enter_critical();
    // SAFETY: forwarded claim.
    let r = unsafe { sweep_span_inner(s) };
    crate::sync::leave_critical();
    r
}

unsafe fn sweep_span_inner(s: *mut MSpan) -> bool {
    // SAFETY: the caller owns the span's objects through the sweepgen claim.
    let sp = unsafe { &mut *s };
    let sg = SWEEPGEN.load(Ordering::Relaxed);
    if sp.state != MSPAN_IN_USE || sp.sweepgen.load(Ordering::Relaxed) != sg.wrapping_sub(1) {
        crate::rprint!(
            "MSpan_Sweep: state={} sweepgen={} mheap.sweepgen={}\n",
            sp.state,
            sp.sweepgen.load(Ordering::Relaxed),
            sg
        );
        throw("MSpan_Sweep: bad span state");
    }
    if sp.incache {
        throw("sweep of incache span");
    }
    crate::collector_hooks::sweep_specials(sp);
    let size = sp.elemsize;
    if sp.sizeclass == 0 {
        let v = sp.base();
        let b = bitmap::bits(v);
        if b & bitmap::BIT_ALLOCATED == 0 || b & bitmap::BIT_MARKED != 0 || sp.limit <= v {
            if b & bitmap::BIT_MARKED != 0 {
                bitmap::clear_mark(v);
            }
            sp.sweepgen.store(sg, Ordering::Release);
            return false;
        }
        // Free the large object.
        crate::collector_hooks::clobber(v, size.min(PAGE_SIZE));
        typeinfo::cleartype(sp, v);
        sp.needzero = 1;
        bitmap::unmarkspan(v, PAGE_SIZE);
        SWEPT_LARGE_N.fetch_add(1, Ordering::Relaxed);
        SWEPT_LARGE_BYTES.fetch_add(size as u64, Ordering::Relaxed);
        lower_next_gc(size as u64);
        sp.sweepgen.store(sg, Ordering::Release);
        if crate::config::efence() {
            heap::account_faulted_large(sp);
            crate::os::sys_fault(v as *mut u8, sp.npages << PAGE_SHIFT);
            return false;
        }
        // SAFETY: the only object is dead and the span is on the busy list only.
        unsafe { heap::free(s, true) };
        return true;
    }

    // Small span. With no block marked and no FlagNoGC block (invisible to marking, never
    // freed), every block is free after this sweep (free-list blocks are unmarked, and the
    // rest are dead; objects whose finalizer was just queued were marked by
    // `sweep_specials` above): the span goes straight back to the page heap, without walking
    // its free list or writing links and poison into dead blocks. The page heap zeroes it
    // when it is next handed out (needzero). clobberfree wants the dead blocks written, so it
    // takes the general path.
    let clobber = crate::config::DEBUG.clobberfree.load(Ordering::Relaxed) != 0;
    if !clobber && !bitmap::any_kept(sp.base(), sp.npages << PAGE_SHIFT) {
        let cl = sp.sizeclass as usize;
        let nfreed = sp.ref_ as u64;
        SWEPT_SMALL[cl].fetch_add(nfreed, Ordering::Relaxed);
        let bytes = nfreed * size as u64;
        stats::atomic(Field::HeapAlloc).fetch_sub(bytes, Ordering::Relaxed);
        lower_next_gc(bytes);
        // SAFETY: claimed and swept by us, no block marked, its ref_ objects counted above.
        unsafe { CENTRAL[cl].free_dead_span(s) };
        return true;
    }
    // Ask for its bitmap words and type-index bytes up front: the loop below
    // walks them in order and would otherwise wait for each line in turn.
    {
        let lo = bitmap::locate(sp.end() - 8).0 as *const _ as usize;
        let hi = bitmap::locate(sp.base()).0 as *const _ as usize;
        let mut a = lo & !63;
        while a <= hi {
            // SAFETY: prefetch is a hint and never faults.
            unsafe { core::arch::x86_64::_mm_prefetch(a as *const i8, core::arch::x86_64::_MM_HINT_T0) };
            a += 64;
        }
        if let Some((t, n)) = typeinfo::index_bytes(sp) {
            let mut a = t & !63;
            while a < t + n {
                // SAFETY: as above.
                unsafe { core::arch::x86_64::_mm_prefetch(a as *const i8, core::arch::x86_64::_MM_HINT_T0) };
                a += 64;
            }
        }
    }
    // Objects already on the free list are marked so they are not freed twice.
    // The sweeper owns the span exclusively (it won the sweepgen CAS and no mark is running),
    // so its bitmap words are updated with plain stores.
    let mut f = sp.freelist;
    while !f.is_null() {
        bitmap::update_owned(f as usize, 0, bitmap::BIT_MARKED);
        // SAFETY: free-list objects link through word 0.
        f = unsafe { (*f).next };
    }
    let n = sp.nelems as usize;
    let base = sp.base();
    let mut head: *mut MLink = ptr::null_mut();
    let mut tail: *mut MLink = ptr::null_mut();
    // One bitmap word at a time: marks cleared (the old free list's too), dead blocks found
    // with a few mask operations per 16 heap words instead of a read-modify-write per block.
    let nfreed = bitmap::sweep_owned(base, base + n * size, size, |v| {
        typeinfo::cleartype(sp, v);
        // SAFETY: v is a dead object of `size` bytes in a span we own.
        unsafe {
            let w = v as *mut usize;
            if clobber {
                crate::collector_hooks::clobber(v, size);
            }
            if size > 16 {
                *w.add(1) = crate::alloc::malloc::SWEEP_POISON;
            } else if size == 16 {
                *w.add(1) = 0;
            }
            let l = v as *mut MLink;
            (*l).next = ptr::null_mut();
            if tail.is_null() {
                head = l;
            } else {
                (*tail).next = l;
            }
        }
        tail = v as *mut MLink;
    });
    if nfreed == 0 {
        sp.sweepgen.store(sg, Ordering::Release);
        return false;
    }
    let cl = sp.sizeclass as usize;
    SWEPT_SMALL[cl].fetch_add(nfreed as u64, Ordering::Relaxed);
    let bytes = nfreed as u64 * size as u64;
    stats::atomic(Field::HeapAlloc).fetch_sub(bytes, Ordering::Relaxed);
    lower_next_gc(bytes);
    // SAFETY: head..tail is a chain of nfreed dead objects of this span.
    unsafe { CENTRAL[cl].free_span(s, nfreed, head, tail) }
}

/// Claims and sweeps `s` if it is unswept; waits if someone else is sweeping it
/// (`runtime_MSpan_EnsureSwept`).
pub fn ensure_swept(s: &MSpan) {
    // Claim and sweep inside one critical section: a stop-the-world between the two would
    // find a span claimed for a sweep generation that no longer exists.
    crate::sync::enter_critical();
    ensure_swept_inner(s);
    crate::sync::leave_critical();
}

fn ensure_swept_inner(s: &MSpan) {
    let sg = SWEEPGEN.load(Ordering::Acquire);
    if s.sweepgen.load(Ordering::Acquire) == sg {
        return;
    }
    if s
        .sweepgen
        .compare_exchange(sg.wrapping_sub(2), sg.wrapping_sub(1), Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        // SAFETY: we won the claim.
        unsafe { sweep_span(s as *const MSpan as *mut MSpan) };
        return;
    }
    while s.sweepgen.load(Ordering::Acquire) != sg {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// Tries to claim `s` for sweeping (sg-2 → sg-1). The caller must be inside a critical
/// section (`sync::enter_critical`) from the claim until the sweep is done.
#[inline]
pub fn try_claim(s: &MSpan) -> bool {
    let sg = SWEEPGEN.load(Ordering::Acquire);
    s.sweepgen.load(Ordering::Relaxed) == sg.wrapping_sub(2)
        && s
            .sweepgen
            .compare_exchange(sg.wrapping_sub(2), sg.wrapping_sub(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
}

/// Folds the sweep counters into the heap totals (world stopped or heap lock held).
pub fn fold_stats(h: &mut heap::MHeap) {
    for (total, swept) in h.nsmallfree.iter_mut().zip(SWEPT_SMALL.iter()) {
        *total += swept.swap(0, Ordering::Relaxed);
    }
    h.nlargefree += SWEPT_LARGE_N.swap(0, Ordering::Relaxed);
    h.largefree += SWEPT_LARGE_BYTES.swap(0, Ordering::Relaxed);
}
