//! The collector: policy on top of the allocator's mechanisms (libgo-abi.md §13).
//!
//! ## One collection (`gc(force)`)
//! 1. Take the host's GC semaphore if it registered one (gccgo's `worldsema`: a goroutine
//!    parks there), then the GC lock; with force = 0 give up if someone else already
//!    brought `heap_alloc` under `next_gc`.
//! 2. Stop the world (`world`), finish sweeping the previous cycle, run the `sync.Pool`
//!    cleanup hook, flush every thread cache (their free lists go back to the spans, the tiny
//!    blocks are dropped).
//! 3. Mark: roots (registered lists and ranges, every stopped thread's stack and saved
//!    registers, finalizer records and queue) into the injector, then all workers drain.
//! 4. Statistics and pacing: `next_gc = max(heap_alloc * (1 + GOGC/100), 4 MiB * GOGC/100)` (heap_alloc
//!    still counts the garbage; sweeping lowers next_gc by `freed*(GOGC+100)/100`).
//! 5. Start a sweep cycle (sweepgen += 2), restart the world, then sweep lazily and in the
//!    background, or (force = 2) sweep everything before returning.
//!
//! ## Protection
//! `GC_LOCK` serialises collections. `GCPERCENT` is atomic (set by `setgcpercent`, read by
//! pacing). The pause ring and counters in MStats are written with the world stopped.

pub mod finalizer;
pub mod gcprog;
pub mod mark;
pub mod roots;
pub mod scavenge;
pub mod sweep;
pub mod world;

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::alloc::sweep::GCPERCENT;
use crate::config;
use crate::heap::{self, span::MSpan};
use crate::os::{nanotime, unixnanotime};
use crate::stats::{self, Field};
use crate::sync::RawLock;

static GC_LOCK: RawLock = RawLock::new_plain();
/// Smallest collection goal at GOGC=100 (scaled by GOGC), as in Go since 1.5. gccgo's GCC 6
/// runtime had none and collected every few kilobytes while the heap was tiny; with a
/// minimum, small programs pay a handful of collections instead of thousands. The first
/// collection still happens at the first eligible allocation (next_gc starts at 0).
pub const HEAP_MINIMUM: u64 = 4 << 20;
/// Thread id (pthread_self) of the thread running a collection, 0 if none.
static GC_THREAD: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated since the last stress collection (GODEBUG=stress=N).
static STRESS_BYTES: AtomicU64 = AtomicU64::new(0);
/// Registered `sync.Pool` cleanup func value.
pub static POOL_CLEANUP: AtomicUsize = AtomicUsize::new(0);

/// Attaches the collector to the allocator (called at heap initialisation).
pub fn install() {
    world::install();
    crate::collector_hooks::register(after_alloc, before_free);
    if config::DEBUG.stress.load(Ordering::Relaxed) > 0 {
        crate::collector_hooks::ALWAYS_CALL.store(1, Ordering::Relaxed);
    }
    crate::collector_hooks::register_sweep(None, sweep::reclaim);
    finalizer::install();
    // SAFETY: the static MStats; standalone programs collect from the start.
    unsafe { (*stats::mstats()).enablegc = true };
}

fn after_alloc(size: usize) {
    let stress = config::DEBUG.stress.load(Ordering::Relaxed);
    if stress > 0 {
        let n = STRESS_BYTES.fetch_add(size as u64, Ordering::Relaxed) + size as u64;
        if n >= stress as u64 {
            STRESS_BYTES.store(0, Ordering::Relaxed);
            gc(1);
            return;
        }
    }
    if stats::heap_alloc() >= stats::next_gc() {
        gc(0);
    }
}

fn before_free(span: &mut MSpan, base: usize) {
    crate::alloc::sweep::ensure_swept(span);
    let size = span.elemsize;
    finalizer::check_free(span, base, size);
}

fn self_id() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

/// Reads GOGC the first time it is needed (§13.2): unset/empty → 100, `off` → -1, else the
/// leading digits (so `-1` and `abc` mean 0).
pub fn gcpercent() -> i64 {
    let v = GCPERCENT.load(Ordering::Acquire);
    if v != -2 {
        return v;
    }
    let p = parse_gogc(config::getenv(c"GOGC"));
    let _ = GCPERCENT.compare_exchange(-2, p, Ordering::AcqRel, Ordering::Acquire);
    GCPERCENT.load(Ordering::Acquire)
}

pub fn parse_gogc(v: Option<&[u8]>) -> i64 {
    match v {
        None | Some(b"") => 100,
        Some(b"off") => -1,
        Some(s) => config::atoi(s),
    }
}

/// `runtime_setgcpercent`: store a new GOGC (negative → -1) and return the old one.
pub fn setgcpercent(v: i32) -> i32 {
    heap::ensure_init();
    let old = gcpercent();
    GCPERCENT.store(if v < 0 { -1 } else { v as i64 }, Ordering::Release);
    old as i32
}

/// Runs the pool cleanup hook registered by `sync.runtime_registerPoolCleanup`.
fn clearpools() {
    let f = POOL_CLEANUP.load(Ordering::Acquire);
    if f != 0 {
        extern "C" {
            fn gogc_call_funcval0(fv: *const crate::ffi::types::FuncVal);
        }
        // SAFETY: f is the FuncVal registered by the runtime; called with its static chain.
        unsafe { gogc_call_funcval0(f as *const crate::ffi::types::FuncVal) };
    }
}

/// `runtime_gc(force)`: 0 collects only if the heap reached `next_gc`; 1 always collects and
/// sweeps lazily; 2 always collects and sweeps everything before returning.
pub fn gc(force: i32) {
    heap::ensure_init();
    // SAFETY: reading a bool in the static MStats.
    if !unsafe { (*stats::mstats()).enablegc } {
        return;
    }
    if GC_THREAD.load(Ordering::Relaxed) == self_id() {
        return; // a collection is already running on this thread (e.g. a finalizer allocating)
    }
    let pct = gcpercent();
    if pct < 0 {
        return;
    }
    crate::host::gc_acquire();
    world::prepare();
    GC_LOCK.lock();
    if force == 0 && stats::heap_alloc() < stats::next_gc() {
        GC_LOCK.unlock();
        crate::host::gc_release();
        return;
    }
    GC_THREAD.store(self_id(), Ordering::Relaxed);
    let twice = config::gctrace() > 1;
    for _ in 0..if twice { 2 } else { 1 } {
        collect(force, pct);
    }
    GC_THREAD.store(0, Ordering::Relaxed);
    GC_LOCK.unlock();
    crate::host::gc_release();
    if force == 2 {
        sweep::finish();
    } else {
        sweep::wake_background();
    }
}

/// Hook for finalizer roots and specials (set by the finalizer module).
pub type MarkHookFn = fn();
static EXTRA_ROOTS: AtomicUsize = AtomicUsize::new(0);
/// Registers a function that pushes extra roots (finalizer queue, special records).
pub fn set_extra_roots(f: MarkHookFn) {
    EXTRA_ROOTS.store(f as usize, Ordering::Release);
}

/// Queues every root: registered lists and ranges, stacks, finalizer records and queue.
fn push_all_roots(own_sp: usize) {
    roots::for_each(mark::push_root);
    world::push_stack_roots(own_sp);
    let f = EXTRA_ROOTS.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: only MarkHookFn values are stored.
        let f: MarkHookFn = unsafe { core::mem::transmute::<usize, MarkHookFn>(f) };
        f();
    }
}

fn collect(force: i32, pct: i64) {
    let t0 = nanotime();
    world::stop();
    clearpools();
    let t1 = nanotime();
    let npause = sweep::finish_stw();
    sweep::NPAUSESWEEP.fetch_add(npause, Ordering::Relaxed);
    crate::alloc::mcache::for_each_cache(|c| c.release_all());

    let nproc = mark::nworkers();
    let (mut t2, mut t3) = (0, 0);
    // The whole mark runs below the spill area (see `world::with_registers_spilled`).
    world::with_registers_spilled(&mut |sp| {
        push_all_roots(sp);
        t2 = nanotime();
        mark::run(nproc);
        t3 = nanotime();
        if config::DEBUG.checkmark.load(Ordering::Relaxed) != 0 {
            push_all_roots(sp);
            mark::run_checkmark();
        }
    });

    // Statistics and pacing.
    let old_next = stats::next_gc();
    stats::update(true);
    let heap1 = stats::heap_alloc();
    let floor = HEAP_MINIMUM * pct as u64 / 100;
    crate::alloc::sweep::NEXT_GC_FLOOR.store(floor, Ordering::Relaxed);
    let next = (heap1 + heap1 * pct as u64 / 100).max(floor);
    stats::atomic(Field::NextGc).store(next, Ordering::Relaxed);
    let t4 = nanotime();
    let pause = (t4 - t0) as u64;
    // SAFETY: the world is stopped; we are the only writer of these MStats fields.
    let m = unsafe { &mut *stats::mstats() };
    m.last_gc = unixnanotime() as u64;
    let i = (m.numgc % 256) as usize;
    m.pause_ns[i] = pause;
    m.pause_end[i] = m.last_gc;
    m.pause_total_ns += pause;
    m.numgc += 1;
    let prev_nspan = sweep::begin_cycle();
    if config::gctrace() > 0 {
        let heap0 = old_next.wrapping_mul(100) / (pct as u64 + 100);
        crate::rprint!(
            "gc{}({}): {}+{}+{}+{} us, {} -> {} MB, {} ({}-{}) objects, {}/{}/{} sweeps, {}({}) handoff, {}({}) steal, {}/{}/{} yields\n",
            m.numgc,
            nproc,
            (t1 - t0) / 1000,
            (t2 - t1) / 1000,
            (t3 - t2) / 1000,
            (t4 - t3) / 1000,
            heap0 >> 20,
            heap1 >> 20,
            m.nmalloc - m.nfree,
            m.nmalloc,
            m.nfree,
            prev_nspan,
            sweep::NBGSWEEP.swap(0, Ordering::Relaxed),
            sweep::NPAUSESWEEP.swap(0, Ordering::Relaxed),
            0,
            0,
            mark::NSTEAL.load(Ordering::Relaxed),
            mark::NSTEALCNT.load(Ordering::Relaxed),
            0,
            mark::NYIELD.load(Ordering::Relaxed),
            0
        );
    }
    let _ = force;
    world::start();
}

/// Exact statistics: stop the world, flush and fold every cache, recompute, and copy the
/// first `n` bytes of MStats to `out` (if non-null) before anyone can change them again
/// (ReadMemStats).
///
/// # Safety
/// `out` is null or points to `n` writable bytes.
pub unsafe fn read_memstats(out: *mut u8, n: usize) {
    heap::ensure_init();
    crate::host::gc_acquire();
    world::prepare();
    GC_LOCK.lock();
    world::stop();
    stats::update(true);
    if !out.is_null() {
        // SAFETY: out has room for n bytes (caller's obligation); MStats is at least n bytes.
        unsafe { core::ptr::copy_nonoverlapping(stats::mstats() as *const u8, out, n) };
    }
    world::start();
    GC_LOCK.unlock();
    crate::host::gc_release();
}

pub(crate) fn lock_for_fork() {
    GC_LOCK.lock();
}

pub(crate) fn unlock_after_fork(child: bool) {
    if child {
        GC_LOCK.reset();
        GC_THREAD.store(0, Ordering::Relaxed);
    } else {
        GC_LOCK.unlock();
    }
}

/// Runs `f` holding the GC lock (no collection in progress).
pub fn with_gc_lock<R>(f: impl FnOnce() -> R) -> R {
    GC_LOCK.lock();
    let r = f();
    GC_LOCK.unlock();
    r
}

/// `runtime_debug.readGCStats` (§13.6).
pub fn read_gc_stats(pauses: &mut crate::ffi::types::GoSlice) {
    if pauses.__capacity < 256 + 3 {
        crate::fatal::throw("runtime: short slice passed to readGCStats");
    }
    heap::ensure_init();
    crate::heap::HEAP.with(|_| {
        // SAFETY: the static MStats, read under the heap lock; the slice has room for 259.
        unsafe {
            let m = &*stats::mstats();
            let p = pauses.__values as *mut u64;
            let n = (m.numgc as usize).min(256);
            for i in 0..n {
                *p.add(i) = m.pause_ns[(m.numgc as usize + 255 - i) % 256];
            }
            *p.add(n) = m.last_gc;
            *p.add(n + 1) = m.numgc as u64;
            *p.add(n + 2) = m.pause_total_ns;
            pauses.__count = (n + 3) as isize;
        }
    });
}

/// `runtime_memorydump`: every in-use span's objects, word by word, with their bitmap bits.
pub fn memorydump() {
    heap::ensure_init();
    crate::heap::HEAP.with(|h| {
        for i in 0..h.nspan {
            // SAFETY: allspans holds nspan live records.
            let s = unsafe { &**h.allspans.add(i) };
            if s.state != crate::heap::span::MSPAN_IN_USE {
                continue;
            }
            let n = if s.sizeclass == 0 { 1 } else { s.nelems as usize };
            for k in 0..n {
                let p = s.base() + k * s.elemsize;
                let size = if s.sizeclass == 0 { s.limit - p } else { s.elemsize };
                let b = crate::bitmap::bits(p);
                crate::rprint!(
                    "{:#x} size={} {}{}{}\n",
                    p,
                    size,
                    if b & crate::bitmap::BIT_ALLOCATED != 0 { "allocated" } else { "free" },
                    if b & crate::bitmap::BIT_SCAN != 0 { " scan" } else { "" },
                    if b & crate::bitmap::BIT_MARKED != 0 { " marked" } else { "" }
                );
                let mut w = 0;
                while w + 8 <= size {
                    // SAFETY: p..p+size lies in an in-use span.
                    let v = unsafe { *((p + w) as *const usize) };
                    crate::rprint!("\t{:#x}: {:#x}\n", p + w, v);
                    w += 8;
                }
            }
        }
    });
}
