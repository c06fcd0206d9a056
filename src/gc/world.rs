//! Stopping the world for a collection, and the stacks it must scan (policy over `threads`).
//!
//! * `prepare` runs before the GC lock is taken: it creates the mark helpers and the
//!   background sweeper while no thread is stopped (thread creation may need locks that a
//!   stopped thread holds).
//! * `stop`/`start` stop every other attached thread (signals; see `threads`) and pause the
//!   background sweeper, which is not an attached thread and must not touch mark bits while
//!   the collector uses them.
//! * `with_registers_spilled` spills the collector's registers and runs the whole mark below
//!   the spill area; `push_stack_roots` queues the collector's stack from there and every
//!   stopped thread's stack from its saved stack pointer to its base.
//! * fork: `pthread_atfork` takes the GC lock, the thread registry and every allocator lock
//!   before fork and releases them after it; the child keeps only the forking thread, and
//!   recreates the helper threads on its first collection.

use core::cell::Cell;

use crate::gc::{mark, sweep};

std::thread_local! {
    static STACK_HI: Cell<usize> = const { Cell::new(0) };
}

extern "C" {
    fn gogc_with_spilled_registers(f: extern "C" fn(sp: usize, arg: *mut libc::c_void), arg: *mut libc::c_void);
}

/// Installs the suspend handler and the fork hooks (heap initialisation).
pub fn install() {
    crate::threads::init();
    // SAFETY: registering plain extern "C" hooks.
    unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
}

/// Work that must happen before the GC lock is taken (thread creation).
pub fn prepare() {
    mark::setup();
    // The collecting thread's first steal initialises crossbeam's per-thread epoch record,
    // which registers a TLS destructor and so takes the dynamic loader's lock: do it now, not
    // while the world is stopped (a stopped thread may hold that lock, e.g. inside
    // pthread_exit).
    mark::warm_thread();
    sweep::ensure_background();
    crate::gc::scavenge::ensure_started();
}

pub fn stop() {
    match crate::host::get() {
        // SAFETY: the host's stop callback, registered for exactly this.
        Some(crate::host::GogcHost { stop_world: Some(f), ctx, .. }) => unsafe { f(ctx) },
        _ => crate::threads::stop_world(),
    }
    sweep::pause_background();
}

pub fn start() {
    sweep::resume_background();
    match crate::host::get() {
        // SAFETY: the host's start callback.
        Some(crate::host::GogcHost { start_world: Some(f), ctx, .. }) => unsafe { f(ctx) },
        _ => crate::threads::start_world(),
    }
}

/// Stack pointers of stopped threads (and of the collector) that lie outside their thread's
/// own stack: they run on coroutine stacks that the host reports as "running" ranges.
struct Foreign {
    sps: [usize; 64],
    n: usize,
    own_sp: usize,
}

unsafe extern "C" fn host_suspended(lo: *mut libc::c_void, hi: *mut libc::c_void, _arg: *mut libc::c_void) {
    mark::push_root(lo as usize, hi as usize);
}

unsafe extern "C" fn host_running(lo: *mut libc::c_void, hi: *mut libc::c_void, arg: *mut libc::c_void) {
    // SAFETY: arg is the Foreign record built in push_stack_roots for this call.
    let f = unsafe { &*(arg as *const Foreign) };
    let (lo, hi) = (lo as usize, hi as usize);
    let mut from = lo;
    for &sp in f.sps[..f.n].iter().chain(core::iter::once(&f.own_sp)) {
        if sp >= lo && sp < hi {
            from = sp;
        }
    }
    mark::push_root(from, hi);
}

/// The calling thread's stack top (highest address), cached per thread.
fn stack_hi() -> usize {
    let rec = crate::tls::thread() as *const crate::threads::ThreadRec;
    if !rec.is_null() {
        // SAFETY: our own live record.
        return unsafe { (*rec).stack_hi };
    }
    STACK_HI.with(|c| {
        if c.get() == 0 {
            c.set(crate::gc::roots::thread_stack_bounds().1);
        }
        c.get()
    })
}

/// Runs `f(sp)` with the calling thread's callee-saved registers spilled into a frame whose
/// lowest address is `sp`. Everything `f` does happens in frames below `sp`, so the range from
/// `sp` to the stack top (the spill area and every caller's frame) stays unchanged while `f`
/// runs: the collector runs its whole mark inside `f`, and its own stack range is then stable
/// while other workers scan it, and the same in every pass (a checkmark pass must not find
/// stale words that the first pass's frames left below a later spill point).
pub fn with_registers_spilled(f: &mut dyn FnMut(usize)) {
    extern "C" fn tramp(sp: usize, arg: *mut libc::c_void) {
        // SAFETY: arg is the `&mut dyn FnMut` passed below, alive for this call.
        let f = unsafe { &mut *(arg as *mut &mut dyn FnMut(usize)) };
        f(sp);
    }
    let mut r: &mut dyn FnMut(usize) = f;
    // SAFETY: the helper spills callee-saved registers into its frame and calls `tramp` with
    // the address of that spill area, which lies inside this thread's current stack.
    unsafe { gogc_with_spilled_registers(tramp, &mut r as *mut &mut dyn FnMut(usize) as *mut libc::c_void) };
}

/// Queues the collecting thread's stack from `sp` (see [`with_registers_spilled`]), every
/// stopped thread's stack, and the ranges the host reports (coroutine stacks and saved
/// contexts).
pub fn push_stack_roots(sp: usize) {
    let rec = crate::tls::thread() as *const crate::threads::ThreadRec;
    // SAFETY: our own live record, if attached.
    let lo = if rec.is_null() { 0 } else { unsafe { (*rec).stack_lo } };
    let hi = stack_hi();
    let mut foreign = Foreign { sps: [0; 64], n: 0, own_sp: 0 };
    if sp < hi && sp >= lo {
        mark::push_root(sp, hi);
    } else {
        foreign.own_sp = sp; // running on a coroutine stack
    }
    if crate::host::get().and_then(|h| h.stop_world).is_none() {
        crate::threads::for_each_stopped_thread(|sp, lo, hi| {
            if sp >= lo && sp < hi {
                mark::push_root(sp, hi);
            } else if foreign.n < foreign.sps.len() {
                foreign.sps[foreign.n] = sp;
                foreign.n += 1;
            }
        });
    }
    if let Some(crate::host::GogcHost { scan_roots: Some(f), ctx, .. }) = crate::host::get() {
        // SAFETY: the host's enumerator; `foreign` outlives the call.
        unsafe { f(ctx, Some(host_suspended), Some(host_running), &mut foreign as *mut Foreign as *mut libc::c_void) };
    }
}

// ------------------------------------------------------------------------------------------
// fork().

// Before fork the world is stopped (every other attached thread parked outside the allocator,
// the background sweeper paused) and every allocator lock taken, so the child's copy of the
// heap, caches and span lists is consistent.
extern "C" fn fork_prepare() {
    if !crate::heap::is_init() {
        return;
    }
    super::lock_for_fork();
    stop();
    crate::heap::lock_all_for_fork();
}

extern "C" fn fork_parent() {
    if !crate::heap::is_init() {
        return;
    }
    crate::heap::unlock_all_after_fork(false);
    start();
    super::unlock_after_fork(false);
}

extern "C" fn fork_child() {
    if !crate::heap::is_init() {
        return;
    }
    crate::heap::unlock_all_after_fork(true);
    crate::threads::after_fork_child();
    mark::after_fork_child();
    sweep::after_fork_child();
    crate::gc::scavenge::after_fork_child();
    super::unlock_after_fork(true);
}
