//! Attached threads and stopping them (mechanism; the collector decides *when* to stop).
//!
//! ## Registry
//! Every thread that allocates is attached automatically (its cache is created); threads that
//! only hold heap pointers attach with `gogc_thread_attach`. A record holds the thread's
//! pthread handle, stack bounds and, while stopped, its saved stack pointer. Records are
//! removed by `gogc_thread_detach` or by the cache's pthread-key destructor when the thread
//! exits, so threads that exit without detaching are handled.
//!
//! ## Stopping
//! The stopper sends the suspend signal (a real-time signal, default `SIGRTMIN+6`, override
//! with `GOGC_SUSPEND_SIGNAL=<number>`, so SIGXCPU/SIGPWR stay free for programs like `xz -T`)
//! to every other attached thread and waits for acknowledgements, re-sending every 5 ms to
//! threads that have not answered (lost or late signals). The handler spills the callee-saved
//! registers, publishes its stack pointer, acknowledges and sleeps on a futex until the world
//! restarts. A thread interrupted inside an internal critical section (allocating, or holding
//! any internal lock: see `sync::RawLock`) only records the request and suspends itself when
//! it leaves the section, so a stopped thread never holds allocator state half-updated.
//! Threads blocked in system calls are interrupted by the signal and resume the call
//! (SA_RESTART) after the world restarts.
//!
//! ## Protection
//! The registry is under `REG.lock`, a *plain* (non-counting) lock that the stopper holds from
//! stop to start: a thread blocked on it is still stoppable. `STOP_GEN` is non-zero exactly
//! while a stop is in progress or in effect.

use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};

use crate::heap::internal::{ialloc, ifree};
use crate::sync::{futex_wait, futex_wake, Locked};
use crate::tls;

#[repr(C)]
pub struct ThreadRec {
    pub tid: libc::pthread_t,
    pub stack_lo: usize,
    pub stack_hi: usize,
    pub saved_sp: AtomicUsize,
    pub acked: AtomicU32,
    /// Set (without any lock) when the thread starts detaching: from then on it no longer
    /// touches the heap, so a stop counts it as stopped (glibc may run thread-exit destructors
    /// with signals blocked, so waiting for its acknowledgement could wait forever).
    pub exiting: AtomicU32,
    next: *mut ThreadRec,
    prev: *mut ThreadRec,
}

struct Reg {
    head: *mut ThreadRec,
    n: usize,
}
// SAFETY: only reached under REG's lock.
unsafe impl Send for Reg {}

impl Reg {
    /// Every registered record, in list order (for the holder of REG's lock, through which
    /// alone a `Reg` is reached).
    fn records(&self) -> impl Iterator<Item = &ThreadRec> + '_ {
        let mut t = self.head;
        core::iter::from_fn(move || {
            // SAFETY: registered records stay valid while the registry lock is held.
            let rec = unsafe { t.as_ref()? };
            t = rec.next;
            Some(rec)
        })
    }
}

static REG: Locked<Reg> = Locked::new_plain(Reg { head: ptr::null_mut(), n: 0 });
static STOP_GEN: AtomicU32 = AtomicU32::new(0);
static NEXT_GEN: AtomicU32 = AtomicU32::new(1);
static ACKS: AtomicU32 = AtomicU32::new(0);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The suspend signal in use.
pub fn suspend_signal() -> i32 {
    SIGNAL.load(Ordering::Relaxed)
}

/// The suspend signal for a `GOGC_SUSPEND_SIGNAL` value (`None`: unset): its leading digits
/// ([`crate::config::atoi`]) when they name a real-time signal, else `SIGRTMIN+6`. Pure.
/// Classic signals are refused: SIGKILL/SIGSTOP cannot be caught (the first stop would kill
/// or freeze the process) and the others belong to the program or the runtime (SIGSEGV, ...).
pub fn parse_suspend_signal(v: Option<&[u8]>) -> i32 {
    let default = libc::SIGRTMIN() + 6;
    let Some(v) = v else { return default };
    let n = crate::config::atoi(v) as i32;
    if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
        n
    } else {
        default
    }
}

/// Installs the suspend-signal handler (once, at heap initialisation).
pub fn init() {
    let sig = parse_suspend_signal(crate::config::getenv(c"GOGC_SUSPEND_SIGNAL"));
    SIGNAL.store(sig, Ordering::Relaxed);
    // SAFETY: installing a handler with a fully initialised sigaction.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_suspend_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut sa.sa_mask);
        for s in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT, libc::SIGTRAP] {
            libc::sigdelset(&mut sa.sa_mask, s);
        }
        libc::sigaction(sig, &sa, ptr::null_mut());
    }
    crate::sync::set_suspend_hook(deferred_suspend);
}

/// Registers the calling thread (idempotent). Returns true if it was newly attached.
pub fn attach_current() -> bool {
    if tls::thread() != 0 {
        return false;
    }
    let rec = ialloc(core::mem::size_of::<ThreadRec>()) as *mut ThreadRec;
    let (lo, hi) = crate::gc::roots::thread_stack_bounds();
    // SAFETY: rec is a fresh zeroed block of the right size.
    unsafe {
        ptr::write(
            rec,
            ThreadRec {
                tid: libc::pthread_self(),
                stack_lo: lo,
                stack_hi: hi,
                saved_sp: AtomicUsize::new(0),
                acked: AtomicU32::new(0),
                exiting: AtomicU32::new(0),
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
            },
        );
    }
    REG.with(|r| {
        // SAFETY: registry lock held; rec is ours.
        unsafe {
            (*rec).next = r.head;
            if !r.head.is_null() {
                (*r.head).prev = rec;
            }
        }
        r.head = rec;
        r.n += 1;
    });
    tls::set_thread(rec as usize);
    true
}

/// Unregisters the calling thread. Returns false if it was not attached. The caller must have
/// released its allocation cache already (see `mcache::retire`).
pub fn detach_current() -> bool {
    let rec = tls::thread() as *mut ThreadRec;
    if rec.is_null() {
        return false;
    }
    // SAFETY: our own live record.
    unsafe { (*rec).exiting.store(1, Ordering::SeqCst) };
    ACKS.fetch_add(1, Ordering::AcqRel);
    futex_wake(&ACKS, 1);
    REG.with(|r| {
        // SAFETY: registry lock held; rec is a registered record.
        unsafe {
            if (*rec).prev.is_null() {
                r.head = (*rec).next;
            } else {
                (*(*rec).prev).next = (*rec).next;
            }
            if !(*rec).next.is_null() {
                (*(*rec).next).prev = (*rec).prev;
            }
        }
        r.n -= 1;
    });
    tls::set_thread(0);
    // SAFETY: unlinked above; nobody else references it.
    unsafe { ifree(rec as *mut u8, core::mem::size_of::<ThreadRec>()) };
    true
}

pub fn is_attached() -> bool {
    tls::thread() != 0
}

extern "C" fn on_suspend_signal(_sig: i32, _info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
    // SAFETY: errno is thread-local; we restore it before returning to the interrupted code.
    let saved_errno = unsafe { *libc::__errno_location() };
    let rec = tls::thread() as *mut ThreadRec;
    if !rec.is_null() && STOP_GEN.load(Ordering::Acquire) != 0 {
        if tls::locks() != 0 || in_malloc() {
            tls::set_pending(1);
        } else {
            suspend(rec);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

#[inline]
fn in_malloc() -> bool {
    let c = crate::alloc::mcache::current();
    // SAFETY: our own cache; read through a volatile load because this runs in a signal handler
    // that interrupted the owner.
    !c.is_null() && unsafe { ptr::read_volatile(ptr::addr_of!((*c).mallocing)) } != 0
}

/// Called when a deferred stop request may be waiting (critical depth dropped to zero).
pub fn deferred_suspend() {
    // Still inside mallocgc/free (a lock taken there was just released): mallocgc's exit
    // runs this again.
    if tls::locks() != 0 || in_malloc() {
        return;
    }
    tls::set_pending(0);
    let rec = tls::thread() as *mut ThreadRec;
    let gen = STOP_GEN.load(Ordering::Acquire);
    // SAFETY: rec is this thread's live record.
    if !rec.is_null() && gen != 0 && unsafe { (*rec).acked.load(Ordering::Acquire) } != gen {
        suspend(rec);
    }
}

extern "C" {
    fn gogc_with_spilled_registers(f: extern "C" fn(sp: usize, arg: *mut libc::c_void), arg: *mut libc::c_void);
}

fn suspend(rec: *mut ThreadRec) {
    extern "C" fn parked(sp: usize, arg: *mut libc::c_void) {
        let rec = arg as *mut ThreadRec;
        let gen = STOP_GEN.load(Ordering::Acquire);
        if gen == 0 {
            return;
        }
        // A thread parked outside a handler can take a re-sent signal while parked: the nested
        // handler must not acknowledge the same stop twice (the stopper counts acks).
        // SAFETY: rec is this thread's live record.
        unsafe {
            if (*rec).acked.load(Ordering::Acquire) == gen {
                return;
            }
            (*rec).saved_sp.store(sp, Ordering::Relaxed);
            (*rec).acked.store(gen, Ordering::Release);
        }
        ACKS.fetch_add(1, Ordering::AcqRel);
        futex_wake(&ACKS, 1);
        while STOP_GEN.load(Ordering::Acquire) == gen {
            futex_wait(&STOP_GEN, gen);
        }
    }
    // SAFETY: the helper spills registers and calls `parked` on this thread's stack.
    unsafe { gogc_with_spilled_registers(parked, rec as *mut libc::c_void) };
}

fn futex_wait_timeout(word: &AtomicU32, expected: u32, ns: i64) {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: ns };
    // SAFETY: word is a live aligned u32; ts is a valid relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// Stops every attached thread except the caller. Returns with the registry locked; pair with
/// [`start_world`].
pub fn stop_world() {
    REG.lock.lock();
    let gen = NEXT_GEN.fetch_add(2, Ordering::AcqRel) | 1;
    ACKS.store(0, Ordering::Release);
    let me = tls::thread() as *mut ThreadRec;
    let sig = suspend_signal();
    // SAFETY: registry lock held by us for the whole stop.
    let r = unsafe { REG.get_mut_unchecked() };
    // Every saved stack pointer is cleared *before* the new generation is published: a signal
    // re-sent during an earlier stop can arrive late, see this generation and park the thread
    // at once; clearing its pointer after that would leave a stopped thread whose stack is
    // never scanned.
    for t in r.records() {
        t.saved_sp.store(0, Ordering::Relaxed);
    }
    STOP_GEN.store(gen, Ordering::Release);
    for t in r.records() {
        // SAFETY: pthread_kill on a registered (possibly already exited) thread's id.
        if !ptr::eq(t, me) && t.exiting.load(Ordering::Acquire) == 0 && unsafe { libc::pthread_kill(t.tid, sig) } != 0 {
            // The thread is gone without detaching: stopped, with nothing to scan (and
            // treated as exiting from now on).
            t.exiting.store(1, Ordering::Release);
            t.acked.store(gen, Ordering::Release);
        }
    }
    // Wait until every other thread has acknowledged or is exiting, re-sending every 5 ms.
    let mut last_send = crate::os::nanotime();
    loop {
        let a = ACKS.load(Ordering::Acquire);
        let resend = crate::os::nanotime() - last_send >= 5_000_000;
        if resend {
            last_send = crate::os::nanotime();
        }
        let mut waiting = 0;
        for t in r.records() {
            if !ptr::eq(t, me) && t.acked.load(Ordering::Acquire) != gen && t.exiting.load(Ordering::Acquire) == 0 {
                waiting += 1;
                if resend {
                    // SAFETY: as above.
                    unsafe { libc::pthread_kill(t.tid, sig) };
                }
            }
        }
        if waiting == 0 {
            break;
        }
        futex_wait_timeout(&ACKS, a, 1_000_000);
    }
    // Every stopped thread that is not exiting published where its stack starts; one that
    // did not would be left out of the roots and its objects freed under it.
    for t in r.records() {
        if !ptr::eq(t, me) && t.exiting.load(Ordering::Acquire) == 0 && t.saved_sp.load(Ordering::Acquire) == 0 {
            crate::fatal::throw("stop_world: a stopped thread has no stack pointer");
        }
    }
}

/// Restarts the threads stopped by [`stop_world`] and unlocks the registry.
pub fn start_world() {
    STOP_GEN.store(0, Ordering::Release);
    futex_wake(&STOP_GEN, i32::MAX);
    REG.lock.unlock();
}

/// With the world stopped: calls `f(saved_sp, stack_lo, stack_hi)` for every other attached
/// thread that is stopped and not exiting.
pub fn for_each_stopped_thread(mut f: impl FnMut(usize, usize, usize)) {
    let me = tls::thread() as *mut ThreadRec;
    // SAFETY: the stopper holds the registry lock.
    let r = unsafe { REG.get_mut_unchecked() };
    for t in r.records() {
        let sp = t.saved_sp.load(Ordering::Acquire);
        // An exiting thread counts as stopped without acknowledging, so it may park (and
        // publish a stack pointer) at any moment of the stop, or never: its stack is not a
        // root in any pass of the collection (it no longer uses heap pointers), so the mark
        // and a checkmark pass see the same roots.
        if !ptr::eq(t, me) && sp != 0 && t.exiting.load(Ordering::Acquire) == 0 {
            f(sp, t.stack_lo, t.stack_hi);
        }
    }
}

/// For fatal diagnostics (world stopped): prints every attached thread's stack and state.
pub fn debug_dump() {
    let me = tls::thread() as *mut ThreadRec;
    // SAFETY: the stopper holds the registry lock (or the process is about to die).
    let r = unsafe { REG.get_mut_unchecked() };
    for t in r.records() {
        crate::rprint!(
            "runtime: thread {:#x}{} stack [{:#x}, {:#x}) saved sp {:#x} acked {} exiting {} (stop gen {})\n",
            t.tid as usize,
            if ptr::eq(t, me) { " (collector)" } else { "" },
            t.stack_lo,
            t.stack_hi,
            t.saved_sp.load(Ordering::Relaxed),
            t.acked.load(Ordering::Relaxed),
            t.exiting.load(Ordering::Relaxed),
            STOP_GEN.load(Ordering::Relaxed)
        );
    }
}

/// fork() support: in the child only the forking thread exists. Drop every other record.
pub fn after_fork_child() {
    REG.lock.reset();
    let me = tls::thread() as *mut ThreadRec;
    // SAFETY: single-threaded child; no one else can touch the registry.
    let r = unsafe { REG.get_mut_unchecked() };
    r.head = ptr::null_mut();
    r.n = 0;
    if !me.is_null() {
        // SAFETY: our own record; the others are leaked (their threads do not exist).
        unsafe {
            (*me).next = ptr::null_mut();
            (*me).prev = ptr::null_mut();
            (*me).tid = libc::pthread_self();
        }
        r.head = me;
        r.n = 1;
    }
    STOP_GEN.store(0, Ordering::Release);
}

/// `gogc_thread_attach`: make the calling thread known to the collector (idempotent).
pub fn attach() -> i32 {
    crate::heap::ensure_init();
    crate::alloc::mcache::get();
    attach_current();
    0
}

/// `gogc_thread_detach`: forget the calling thread. EINVAL if it is not attached.
pub fn detach() -> i32 {
    if !is_attached() {
        return libc::EINVAL;
    }
    crate::alloc::mcache::retire_current();
    0
}

#[repr(C)]
struct Start {
    f: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    arg: *mut libc::c_void,
}

extern "C" fn trampoline(p: *mut libc::c_void) -> *mut libc::c_void {
    attach();
    let st = p as *mut Start;
    // SAFETY: st is the record made by pthread_create below, handed to this thread alone.
    let (f, arg) = unsafe { ((*st).f, (*st).arg) };
    // From here the argument lives on this (attached) thread's stack.
    crate::gc::roots::remove_range(st as usize, st as usize + core::mem::size_of::<Start>());
    // SAFETY: allocated with this size below.
    unsafe { ifree(st as *mut u8, core::mem::size_of::<Start>()) };
    let r = f(arg);
    detach();
    r
}

/// `gogc_pthread_create`: pthread_create whose thread is attached for its whole life.
///
/// # Safety
/// As pthread_create.
pub unsafe fn pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    f: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    arg: *mut libc::c_void,
) -> i32 {
    crate::heap::ensure_init();
    let st = ialloc(core::mem::size_of::<Start>()) as *mut Start;
    // SAFETY: fresh block of the right size.
    unsafe { ptr::write(st, Start { f, arg }) };
    // Until the new thread has attached, `arg` may be its only reference: keep it a root.
    crate::gc::roots::add_range(st as usize, st as usize + core::mem::size_of::<Start>());
    // SAFETY: forwarded to pthread_create with our trampoline.
    let r = unsafe { libc::pthread_create(thread, attr, trampoline, st as *mut libc::c_void) };
    if r != 0 {
        crate::gc::roots::remove_range(st as usize, st as usize + core::mem::size_of::<Start>());
        // SAFETY: the thread was not created; the record is ours again.
        unsafe { ifree(st as *mut u8, core::mem::size_of::<Start>()) };
    }
    r
}

#[cfg(test)]
mod suspend_signal_tests {
    use super::parse_suspend_signal;

    #[test]
    fn only_real_time_signals_are_accepted() {
        let (lo, hi) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        let def = lo + 6;
        assert_eq!(parse_suspend_signal(None), def);
        assert_eq!(parse_suspend_signal(Some(lo.to_string().as_bytes())), lo);
        assert_eq!(parse_suspend_signal(Some(format!("{hi}junk").as_bytes())), hi);
        for bad in ["9", "1", "11", "0", "", "-40", "x", "4294967297"] {
            assert_eq!(parse_suspend_signal(Some(bad.as_bytes())), def, "{bad}");
        }
        assert_eq!(parse_suspend_signal(Some((hi + 1).to_string().as_bytes())), def);
    }
}
