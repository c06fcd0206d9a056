//! The host interface: how a runtime with its own scheduler (goroutines on their own stacks,
//! ucontext coroutines, split stacks) plugs into gogc. Registered once with `gogc_set_host`.
//!
//! The table's contract is documented on `GogcHost` (it is copied into the header).
//!
//! Protection: the table is copied into `HOST` once, before the first collection can use it;
//! registering again replaces it under the GC lock.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, Ordering};

/// Callback receiving one address range `[lo, hi)`.
pub type GogcRangeFn = Option<unsafe extern "C" fn(lo: *mut c_void, hi: *mut c_void, arg: *mut c_void)>;

/// The table a runtime registers once with `gogc_set_host`.
///
/// Every callback is optional; what is left NULL uses the built-in host (attached OS threads,
/// stopped by signals):
/// * `stop_world`/`start_world` (both or neither): stop every mutator except the caller at a
///   point where it is not inside gogc (not between entry and return of any gogc function), and
///   restart them. With them set, the built-in signal stopper is not used.
/// * `scan_roots`: report stack ranges the collector cannot find by itself: for each suspended
///   coroutine the live part of its stack and its saved context (`suspended(lo, hi)`), and for
///   each coroutine stack that a stopped thread is currently running on, its whole extent
///   (`running(lo, hi)`). gogc scans a running range from the stopped thread's saved stack
///   pointer when one lies inside it (from the collector's own stack pointer if it runs there),
///   else the whole range.
/// * `start_thread`: create the collector's helper threads (mark workers, background sweeper).
/// * `fatal`: called with the message after gogc printed `fatal error: ...`, instead of abort
///   (it must not return; if it does, gogc aborts).
/// * `gc_acquire`/`gc_release` (both or neither; gccgo's `worldsema`): taken around every
///   collection and every stop-the-world gogc starts (`runtime_gc`, allocation-triggered
///   collections, `ReadMemStats`), before gogc takes its own GC lock. A runtime whose
///   `stop_world` is cooperative needs them: a goroutine that wants to collect while another
///   collection is stopping the world must park (so its thread reaches a scheduling point)
///   rather than block its thread on gogc's lock, which would deadlock the stop. gogc calls
///   `gc_acquire` holding no lock and no per-thread state, so the caller may be parked and
///   resumed on another thread.
/// * `run_finalizer`: runs one Go finalizer (a FuncVal with gccgo's calling convention) for
///   `obj`, given the finalizer's func type and the object's pointer type as SetFinalizer
///   recorded them; without it gogc calls the FuncVal itself with its static chain (it knows
///   the one- and two-word argument forms of §12). Called on the finalizer thread (started by
///   `start_thread` when set). C finalizers (`gogc_set_finalizer`) are always called directly.
///
/// Versions: the table starts with `size`; a table from a caller compiled before the last
/// three fields existed (size = 56 on 64-bit) is accepted and those fields read as NULL.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GogcHost {
    /// `sizeof(GogcHost)` as the caller compiled it (for future extension).
    pub size: usize,
    /// Passed back as the first argument of every callback.
    pub ctx: *mut c_void,
    pub stop_world: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    pub start_world: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    pub scan_roots: Option<
        unsafe extern "C" fn(ctx: *mut c_void, suspended: GogcRangeFn, running: GogcRangeFn, arg: *mut c_void),
    >,
    pub start_thread:
        Option<unsafe extern "C" fn(ctx: *mut c_void, f: unsafe extern "C" fn(*mut c_void) -> *mut c_void, arg: *mut c_void) -> i32>,
    pub fatal: Option<unsafe extern "C" fn(ctx: *mut c_void, msg: *const core::ffi::c_char)>,
    pub gc_acquire: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    pub gc_release: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    pub run_finalizer: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            fn_: *const c_void,
            obj: *mut c_void,
            ft: *const c_void,
            ot: *const c_void,
        ),
    >,
}

/// Size of the first version of the table (through `fatal`).
const SIZE_V1: usize = core::mem::offset_of!(GogcHost, gc_acquire);

static mut HOST: GogcHost = HOST_INIT;
const HOST_INIT: GogcHost = GogcHost {
    size: 0,
    ctx: core::ptr::null_mut(),
    stop_world: None,
    start_world: None,
    scan_roots: None,
    start_thread: None,
    fatal: None,
    gc_acquire: None,
    gc_release: None,
    run_finalizer: None,
};
static HAVE_HOST: AtomicBool = AtomicBool::new(false);

/// The registered host, if any.
pub fn get() -> Option<GogcHost> {
    if !HAVE_HOST.load(Ordering::Acquire) {
        return None;
    }
    // SAFETY: HOST is written only in `set`, before HAVE_HOST is published (Release).
    Some(unsafe { *core::ptr::addr_of!(HOST) })
}

/// `gogc_set_host`: EINVAL for a NULL table, a size smaller than the fields we read, or only one
/// of stop/start.
///
/// # Safety
/// `h` must point to a readable `GogcHost` of `h->size` bytes.
pub unsafe fn set(h: *const GogcHost) -> i32 {
    if h.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: caller's obligation: at least `size` readable bytes, checked before the rest.
    let size = unsafe { (*h).size };
    if size < SIZE_V1 {
        return libc::EINVAL;
    }
    let mut v = HOST_INIT;
    // SAFETY: copy min(size, ours) bytes of the caller's table over an all-NULL one.
    unsafe {
        core::ptr::copy_nonoverlapping(
            h as *const u8,
            &mut v as *mut GogcHost as *mut u8,
            size.min(core::mem::size_of::<GogcHost>()),
        )
    };
    if v.stop_world.is_some() != v.start_world.is_some() || v.gc_acquire.is_some() != v.gc_release.is_some() {
        return libc::EINVAL;
    }
    crate::gc::with_gc_lock(|| {
        // SAFETY: under the GC lock no collection reads HOST.
        unsafe { *core::ptr::addr_of_mut!(HOST) = v };
        HAVE_HOST.store(true, Ordering::Release);
    });
    0
}

/// Runs the host's fatal hook, if any (from `fatal::throw`).
pub fn on_fatal(msg: &str) {
    if let Some(h) = get() {
        if let Some(f) = h.fatal {
            let mut buf = [0u8; 256];
            let n = msg.len().min(255);
            buf[..n].copy_from_slice(&msg.as_bytes()[..n]);
            // SAFETY: buf is NUL-terminated; the host callback was registered for this.
            unsafe { f(h.ctx, buf.as_ptr() as *const core::ffi::c_char) };
        }
    }
}

/// Starts a collector thread, through the host if it provides `start_thread`.
// `arg` is only handed to the new thread, never dereferenced here.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn spawn(f: extern "C" fn(*mut c_void) -> *mut c_void, arg: *mut c_void, stack: usize) -> bool {
    if let Some(h) = get() {
        if let Some(st) = h.start_thread {
            // SAFETY: the host creates a thread running f(arg).
            return unsafe { st(h.ctx, f, arg) } == 0;
        }
    }
    let mut t: libc::pthread_t = 0;
    // SAFETY: a detached thread running f(arg).
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        libc::pthread_attr_setstacksize(&mut attr, stack);
        let r = libc::pthread_create(&mut t, &attr, f, arg);
        libc::pthread_attr_destroy(&mut attr);
        r == 0
    }
}

/// Takes the host's GC semaphore, if it has one (before gogc's own GC lock).
pub fn gc_acquire() {
    if let Some(GogcHost { gc_acquire: Some(f), ctx, .. }) = get() {
        // SAFETY: the host's callback, registered for this.
        unsafe { f(ctx) };
    }
}

/// Releases what `gc_acquire` took.
pub fn gc_release() {
    if let Some(GogcHost { gc_release: Some(f), ctx, .. }) = get() {
        // SAFETY: the host's callback, registered for this.
        unsafe { f(ctx) };
    }
}

/// Hands a Go finalizer to the host; false if it has no `run_finalizer`.
// The pointers are handed to the host's callback, never dereferenced here.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn run_finalizer(fn_: *const c_void, obj: *mut c_void, ft: *const c_void, ot: *const c_void) -> bool {
    match get() {
        Some(GogcHost { run_finalizer: Some(f), ctx, .. }) => {
            // SAFETY: the host's callback with the record SetFinalizer validated.
            unsafe { f(ctx, fn_, obj, ft, ot) };
            true
        }
        _ => false,
    }
}
