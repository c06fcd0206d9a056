//! Stopping the world for a collection, and the stacks it must scan (policy over `threads`).
//!
//! * `prepare` runs before the GC lock is taken: it creates the mark helpers and the
//!   background sweeper while no thread is stopped (thread creation may need locks that a
//!   stopped thread holds).
//! * `stop`/`start` stop every other attached thread (signals; see `threads`) and pause the
//!   background sweeper, which is not an attached thread and must not touch mark bits while
//!   the collector uses them.
//! * `push_stack_roots` queues the collecting thread's stack (registers spilled first) and
//!   every stopped thread's stack from its saved stack pointer to its base.
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
    sweep::ensure_background();
}

pub fn stop() {
    crate::threads::stop_world();
    sweep::pause_background();
}

pub fn start() {
    sweep::resume_background();
    crate::threads::start_world();
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

/// Queues the collecting thread's stack (registers spilled) and every stopped thread's stack.
pub fn push_stack_roots() {
    extern "C" fn cb(sp: usize, _arg: *mut libc::c_void) {
        let hi = stack_hi();
        if hi > sp {
            mark::push_root(sp, hi);
        }
    }
    // SAFETY: the helper spills callee-saved registers into its frame and calls cb with the
    // address of that spill area, which lies inside this thread's stack.
    unsafe { gogc_with_spilled_registers(cb, core::ptr::null_mut()) };
    crate::threads::for_each_stopped_stack(mark::push_root);
}

// ------------------------------------------------------------------------------------------
// fork().

extern "C" fn fork_prepare() {
    super::lock_for_fork();
    crate::threads::lock_registry();
    crate::heap::lock_all_for_fork();
}

extern "C" fn fork_parent() {
    crate::heap::unlock_all_after_fork(false);
    crate::threads::unlock_registry();
    super::unlock_after_fork(false);
}

extern "C" fn fork_child() {
    crate::heap::unlock_all_after_fork(true);
    crate::threads::after_fork_child();
    mark::after_fork_child();
    sweep::after_fork_child();
    super::unlock_after_fork(true);
}
