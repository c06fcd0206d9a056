//! Locks for the memory manager.
//!
//! [`RawLock`] is a futex-based mutex with explicit `lock`/`unlock` (no guard object), the shape
//! gccgo's `Lock` has. Explicit calls matter for three users: fork handling (the atfork prepare
//! hook takes every allocator lock and the parent/child hooks release them), stop-the-world
//! (the collector holds the heap lock across phases), and C callers. It never allocates, so it
//! is usable inside the allocator itself.
//!
//! State: 0 unlocked, 1 locked, 2 locked with (possible) sleepers.
//!
//! Most locks are *counting*: taking one raises the thread's critical-section depth (a TLS
//! word), and a stop-the-world signal that lands meanwhile is deferred until the depth is back
//! to zero (the `threads` module explains the protocol). The GC lock and the thread registry
//! are *plain*, because the collector holds them while the world is stopped.

use core::sync::atomic::{AtomicU32, Ordering};

pub struct RawLock {
    state: AtomicU32,
    /// Counting locks raise the holder's critical-section depth (see below).
    counted: bool,
}

/// Called when a thread's critical-section depth drops to zero while a stop request is
/// pending (installed by `threads::init`).
static SUSPEND_HOOK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

pub fn set_suspend_hook(f: fn()) {
    SUSPEND_HOOK.store(f as usize, Ordering::Release);
}

/// Enters an internal critical section: a stop-the-world request that arrives now is deferred
/// until the matching [`leave_critical`], so no thread is ever stopped holding an allocator
/// lock or with allocator state half-updated.
#[inline(always)]
pub fn enter_critical() {
    crate::tls::set_locks(crate::tls::locks() + 1);
}

#[inline(always)]
pub fn leave_critical() {
    let n = crate::tls::locks() - 1;
    crate::tls::set_locks(n);
    if n == 0 && crate::tls::pending() != 0 {
        run_suspend_hook();
    }
}

#[cold]
pub fn run_suspend_hook() {
    let f = SUSPEND_HOOK.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: only `fn()` values are stored in SUSPEND_HOOK.
        let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
        f();
    }
}

impl RawLock {
    /// A lock whose holders are not stopped by the collector until they release it.
    pub const fn new() -> Self {
        RawLock { state: AtomicU32::new(0), counted: true }
    }

    /// A lock that may be held across a stop-the-world (the GC lock, the thread registry):
    /// threads blocked on it stay stoppable.
    pub const fn new_plain() -> Self {
        RawLock { state: AtomicU32::new(0), counted: false }
    }

    #[inline]
    pub fn lock(&self) {
        if self.counted {
            enter_critical();
        }
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[cold]
    fn lock_slow(&self) {
        // Spin briefly: critical sections here are short.
        for _ in 0..100 {
            core::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == 0
                && self
                    .state
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        while self.state.swap(2, Ordering::Acquire) != 0 {
            futex_wait(&self.state, 2);
        }
    }

    /// Takes the lock if it is free; never waits.
    #[inline]
    pub fn try_lock(&self) -> bool {
        if self.counted {
            enter_critical();
        }
        let ok = self.state.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok();
        if !ok && self.counted {
            leave_critical();
        }
        ok
    }

    #[inline]
    pub fn unlock(&self) {
        if self.state.swap(0, Ordering::Release) == 2 {
            futex_wake(&self.state, 1);
        }
        if self.counted {
            leave_critical();
        }
    }

    /// Forcibly resets the lock to unlocked (the child side of fork, where the owner is gone).
    pub fn reset(&self) {
        self.state.store(0, Ordering::Release);
    }

    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != 0
    }
}

impl Default for RawLock {
    fn default() -> Self {
        Self::new()
    }
}

pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: word points to a live, aligned u32; FUTEX_WAIT only reads it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            core::ptr::null::<libc::timespec>(),
        );
    }
}

pub fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: word points to a live, aligned u32; FUTEX_WAKE does not access it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}

/// Data protected by a [`RawLock`]. Access goes through `with` (scoped) or, for code that must
/// hold the lock across calls, `lock`/`unlock` plus `get_mut_unchecked`.
pub struct Locked<T> {
    pub lock: RawLock,
    data: core::cell::UnsafeCell<T>,
}

// SAFETY: the data is only reached while `lock` is held (see `with`/`get_mut_unchecked`).
unsafe impl<T> Sync for Locked<T> {}

impl<T> Locked<T> {
    pub const fn new(v: T) -> Self {
        Locked { lock: RawLock::new(), data: core::cell::UnsafeCell::new(v) }
    }

    pub const fn new_plain(v: T) -> Self {
        Locked { lock: RawLock::new_plain(), data: core::cell::UnsafeCell::new(v) }
    }

    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock is held, so this is the only live reference.
        let r = f(unsafe { &mut *self.data.get() });
        self.lock.unlock();
        r
    }

    /// # Safety
    /// The caller must hold `self.lock` (or the world must be stopped) for the reference's life.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut_unchecked(&self) -> &mut T {
        // SAFETY: exclusivity is the caller's obligation, stated above.
        unsafe { &mut *self.data.get() }
    }
}
