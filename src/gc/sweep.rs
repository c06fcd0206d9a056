//! Sweep scheduling (policy): the sweep set of the last collection, `sweepone`, the background
//! sweeper thread, sweeping to reclaim pages before the heap grows, and eager sweeping.
//!
//! The sweep set is a snapshot of `allspans` taken with the world stopped at the end of mark.
//! Spans are claimed through their sweepgen CAS (see `alloc::sweep`), so the background
//! sweeper, lazy sweeping in the central lists and explicit `ensure_swept` calls can race freely.
//!
//! Protection: `SET_SPANS`/`SET_N` are written with the world stopped (GC lock held) and read by
//! sweepers after `SET_IDX` (atomic) hands out indices.

use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use crate::alloc::sweep::{sweep_span, try_claim};
use crate::heap::{span::{MSpan, MSPAN_IN_USE}, SWEEPGEN, HEAP};
use crate::sync::{futex_wait, futex_wake};

static SET_SPANS: AtomicPtr<*mut MSpan> = AtomicPtr::new(core::ptr::null_mut());
static SET_N: AtomicUsize = AtomicUsize::new(0);
static SET_IDX: AtomicUsize = AtomicUsize::new(0);
pub static SWEEPDONE: AtomicU32 = AtomicU32::new(1);
/// Spans swept in the background / inside the pause since the last trace line.
pub static NBGSWEEP: AtomicUsize = AtomicUsize::new(0);
pub static NPAUSESWEEP: AtomicUsize = AtomicUsize::new(0);

/// Starts a new sweep set (world stopped): bump sweepgen by 2 and snapshot allspans.
pub fn begin_cycle() -> usize {
    let prev_n = SET_N.load(Ordering::Relaxed);
    HEAP.with(|h| {
        SET_SPANS.store(h.allspans, Ordering::Relaxed);
        SET_N.store(h.nspan, Ordering::Relaxed);
    });
    SET_IDX.store(0, Ordering::Relaxed);
    SWEEPGEN.fetch_add(2, Ordering::AcqRel);
    SWEEPDONE.store(0, Ordering::Release);
    prev_n
}

/// Sweepers inside `sweepone`, and a flag that keeps the background sweeper out while the
/// collector owns the mark bits.
static ACTIVE: AtomicU32 = AtomicU32::new(0);
static PAUSED: AtomicU32 = AtomicU32::new(0);

/// `runtime_sweepone`: sweep the next span of the set. Returns pages returned to the heap, or
/// `usize::MAX` when the set is exhausted.
pub fn sweepone() -> usize {
    // The ACTIVE count is held only inside the critical section, so an attached thread is
    // never stopped while counted (the collector waits for ACTIVE to drain with the world
    // stopped).
    crate::sync::enter_critical();
    // SeqCst on both sides of this Dekker-style handshake (increment, then read the flag; set
    // the flag, then read the count): with weaker orderings the flag store and the count load
    // may pass each other and both sides proceed.
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let r = if PAUSED.load(Ordering::SeqCst) != 0 { usize::MAX } else { sweepone_claimed() };
    ACTIVE.fetch_sub(1, Ordering::AcqRel);
    crate::sync::leave_critical();
    r
}

/// One span: claim and sweep as one critical section (see `alloc::sweep::try_claim`).
fn sweepone_inner() -> usize {
    crate::sync::enter_critical();
    let r = sweepone_claimed();
    crate::sync::leave_critical();
    r
}

/// Keeps the background sweeper out and waits for a sweep in progress (world stopped).
pub fn pause_background() {
    PAUSED.store(1, Ordering::SeqCst);
    while ACTIVE.load(Ordering::SeqCst) != 0 {
        core::hint::spin_loop();
    }
}

pub fn resume_background() {
    PAUSED.store(0, Ordering::Release);
}

fn sweepone_claimed() -> usize {
    loop {
        let i = SET_IDX.fetch_add(1, Ordering::AcqRel);
        if i >= SET_N.load(Ordering::Acquire) {
            SWEEPDONE.store(1, Ordering::Release);
            return usize::MAX;
        }
        // SAFETY: the snapshot array holds SET_N live span records and is never freed.
        let s = unsafe { *SET_SPANS.load(Ordering::Acquire).add(i) };
        // SAFETY: span records are never unmapped.
        let sp = unsafe { &*s };
        // SAFETY: a volatile read of a record the heap may be re-initialising (see MSpan::init).
        let state = unsafe { core::ptr::read_volatile(&sp.state) };
        core::sync::atomic::fence(Ordering::Acquire);
        if state != MSPAN_IN_USE {
            // Free or dead spans are trivially swept.
            let sg = SWEEPGEN.load(Ordering::Relaxed);
            let _ = sp.sweepgen.compare_exchange(sg.wrapping_sub(2), sg, Ordering::AcqRel, Ordering::Relaxed);
            continue;
        }
        if !try_claim(sp) {
            continue;
        }
        let npages = sp.npages;
        // SAFETY: claimed above.
        let freed = unsafe { sweep_span(s) };
        return if freed { npages } else { 0 };
    }
}

pub fn is_done() -> bool {
    SWEEPDONE.load(Ordering::Acquire) != 0
}

/// Sweeps everything left with the world running (before a collection, and for force = 2).
/// Goes through the pausable path, because the caller may be an unattached thread that a
/// stop-the-world does not stop: while a collection owns the mark bits it must not sweep.
pub fn finish() -> usize {
    let mut n = 0;
    while sweepone() != usize::MAX {
        n += 1;
    }
    n
}

/// Sweeps everything left inside the pause (world stopped, background sweeper paused): the
/// collector itself bypasses the pause flag.
pub fn finish_stw() -> usize {
    let mut n = 0;
    while sweepone_inner() != usize::MAX {
        n += 1;
    }
    n
}

/// Reclaim hook for the page heap: sweep until `npages` pages came back or nothing is left.
pub fn reclaim(npages: usize) {
    if is_done() {
        return;
    }
    let mut got = 0;
    while got < npages {
        let r = sweepone();
        if r == usize::MAX {
            return;
        }
        got += r;
    }
}

// ------------------------------------------------------------------------------------------
// The background sweeper thread.

static BG_GEN: AtomicU32 = AtomicU32::new(0);
static BG_STARTED: AtomicU32 = AtomicU32::new(0);

/// Test switch: keeps the background sweeper asleep so a test can watch sweepgen transitions.
#[cfg(test)]
pub static BG_DISABLED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Wakes the background sweeper.
pub fn wake_background() {
    #[cfg(test)]
    if BG_DISABLED.load(Ordering::Acquire) {
        return;
    }
    BG_GEN.fetch_add(1, Ordering::AcqRel);
    futex_wake(&BG_GEN, 1);
}

pub fn after_fork_child() {
    BG_STARTED.store(0, Ordering::Release);
    ACTIVE.store(0, Ordering::Release);
    PAUSED.store(0, Ordering::Release);
}

/// Creates the background sweeper thread if it does not exist (before any stop).
pub fn ensure_background() {
    if BG_STARTED.swap(1, Ordering::AcqRel) == 0 {
        extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
            let mut seen = 0;
            loop {
                let g = BG_GEN.load(Ordering::Acquire);
                if g == seen {
                    futex_wait(&BG_GEN, g);
                    continue;
                }
                seen = g;
                while sweepone() != usize::MAX {
                    NBGSWEEP.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: sched_yield has no preconditions; be polite to mutators.
                    unsafe { libc::sched_yield() };
                }
            }
        }
        if !crate::host::spawn(body, core::ptr::null_mut(), 256 << 10) {
            BG_STARTED.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::sweep::{ensure_swept, sweep_span, try_claim};
    use crate::bitmap;
    use crate::heap::arena;

    /// needs sweeping (sg-2) → claimed (sg-1, a second claim fails) → swept (sg); sweeping
    /// clears the mark of a live object and frees an unreachable one.
    #[test]
    fn sweepgen_transitions() {
        BG_DISABLED.store(true, Ordering::Release);
        let live = crate::alloc::malloc::mallocgc(100_000, 0, 0) as usize;
        // The unreachable object is made in a separate frame, then the stack is overwritten, so
        // no conservative root keeps it.
        #[inline(never)]
        fn make_dead() -> (usize, usize) {
            let d = crate::alloc::malloc::mallocgc(100_000, 0, crate::config::FLAG_NO_SCAN) as usize;
            (!d, arena::span_of(d) as usize)
        }
        #[inline(never)]
        fn clobber() {
            let mut buf = [0usize; 4096];
            core::hint::black_box(&mut buf);
        }
        let (dead_hidden, dead_span) = make_dead();
        clobber();
        crate::gc::gc(1);
        let sg = SWEEPGEN.load(Ordering::Acquire);
        // SAFETY: span records are never unmapped; `live` keeps its span in use.
        let s = unsafe { &*arena::span_of(live) };
        assert_eq!(s.sweepgen.load(Ordering::Acquire), sg.wrapping_sub(2), "unswept after mark");
        assert_ne!(bitmap::bits(live) & bitmap::BIT_MARKED, 0, "live object marked");
        assert!(try_claim(s));
        assert_eq!(s.sweepgen.load(Ordering::Acquire), sg.wrapping_sub(1));
        assert!(!try_claim(s), "a claimed span cannot be claimed twice");
        // SAFETY: claimed above.
        let freed = unsafe { sweep_span(s as *const _ as *mut _) };
        assert!(!freed, "the live large object stays");
        assert_eq!(s.sweepgen.load(Ordering::Acquire), sg);
        assert_eq!(bitmap::bits(live) & bitmap::BIT_MARKED, 0, "sweep clears the mark");
        ensure_swept(s);
        assert_eq!(s.sweepgen.load(Ordering::Acquire), sg);
        // The unreachable object's span is swept by ensure_swept and goes back to the heap.
        // SAFETY: as above.
        let ds = unsafe { &*(dead_span as *const crate::heap::span::MSpan) };
        ensure_swept(ds);
        assert_ne!(ds.state, crate::heap::span::MSPAN_IN_USE, "dead large object freed");
        assert!(crate::heap::lookup_maybe(!dead_hidden).is_null());
        BG_DISABLED.store(false, Ordering::Release);
        core::hint::black_box(live);
    }
}
