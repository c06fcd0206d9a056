//! Returning memory to the OS (libgo-abi.md §15): the scavenger thread and
//! `runtime_debug.freeOSMemory`.
//!
//! Free spans unused for longer than the limit are released with `madvise(MADV_DONTNEED)`
//! (their pages come back zeroed on reuse; `heap_released` goes down again when they are
//! allocated). The scavenger ticks every 60 s (min(forced period, limit)/2), forces a
//! collection when none ran for 120 s, and releases spans idle for 300 s, printing gccgo's
//! `scvg` lines under gctrace. `freeOSMemory` collects (force 2) and releases every free span.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::config::PAGE_SHIFT;
use crate::heap::HEAP;
use crate::os;
use crate::stats::{self, Field};

const FORCED_GC_NS: i64 = 120_000_000_000;
const LIMIT_NS: i64 = 300_000_000_000;

static STARTED: AtomicU32 = AtomicU32::new(0);

/// Releases free spans idle since before `now - limit`; prints the scvg lines (gctrace).
pub fn scavenge(k: i64, now: i64, limit: i64) {
    let mut released = 0u64;
    HEAP.with(|h| {
        h.for_each_free(|s| {
            if now.saturating_sub(s.unusedsince) > limit && s.npreleased != s.npages {
                let bytes = ((s.npages - s.npreleased) << PAGE_SHIFT) as u64;
                released += bytes;
                os::stat_add(stats::field(Field::HeapReleased), bytes);
                s.npreleased = s.npages;
                os::sys_unused(s.base() as *mut u8, s.npages << PAGE_SHIFT);
            }
        });
    });
    if crate::config::gctrace() > 0 {
        if released > 0 {
            crate::rprint!("scvg{}: {} MB released\n", k, released >> 20);
        }
        // SAFETY: reading counters of the static MStats.
        let m = unsafe { &*stats::mstats() };
        crate::rprint!(
            "scvg{}: inuse: {}, idle: {}, sys: {}, released: {}, consumed: {} (MB)\n",
            k,
            m.heap_inuse >> 20,
            m.heap_idle >> 20,
            m.heap_sys >> 20,
            m.heap_released >> 20,
            (m.heap_sys - m.heap_released) >> 20
        );
    }
}

/// `runtime_debug.freeOSMemory`.
pub fn free_os_memory() {
    crate::gc::gc(2);
    scavenge(-1, i64::MAX, 0);
}

/// `runtime_MHeap_Scavenger`: the scavenger loop, run on the calling thread (gccgo starts it as
/// a goroutine; standalone programs get a thread from `ensure_started`).
pub fn run_loop() -> ! {
    let tick = FORCED_GC_NS.min(LIMIT_NS) / 2;
    let mut k = 0i64;
    loop {
        let ts = libc::timespec { tv_sec: (tick / 1_000_000_000) as libc::time_t, tv_nsec: 0 };
        // SAFETY: plain sleep with a valid timespec.
        unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
        // SAFETY: reading a counter of the static MStats.
        let last = unsafe { (*stats::mstats()).last_gc } as i64;
        if os::unixnanotime() - last > FORCED_GC_NS {
            crate::gc::gc(1);
            if crate::config::gctrace() > 0 {
                crate::rprint!("scvg{}: GC forced\n", k);
            }
        }
        scavenge(k, os::nanotime(), LIMIT_NS);
        k += 1;
    }
}

/// Starts the scavenger thread once (standalone programs).
pub fn ensure_started() {
    if STARTED.swap(1, Ordering::AcqRel) != 0 {
        return;
    }
    extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
        run_loop()
    }
    if !crate::host::spawn(body, core::ptr::null_mut(), 256 << 10) {
        STARTED.store(0, Ordering::Release);
    }
}

pub fn after_fork_child() {
    STARTED.store(0, Ordering::Release);
}
