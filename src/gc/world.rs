//! Stopping the world and finding thread stacks.
//!
//! This first version serves programs whose heap is mutated by one thread at a time: the
//! collecting thread is the only mutator scanned, from its spilled registers to its stack base.
//! (Signal-based stopping of every attached thread and the host interface for runtimes with
//! their own scheduler extend this module.)

use core::cell::Cell;

use crate::gc::mark;

std::thread_local! {
    static STACK_HI: Cell<usize> = const { Cell::new(0) };
}

extern "C" {
    fn gogc_with_spilled_registers(f: extern "C" fn(sp: usize, arg: *mut libc::c_void), arg: *mut libc::c_void);
}

/// Work that must happen before the GC lock is taken (thread creation and the like).
pub fn prepare() {}

pub fn stop() {}

pub fn start() {}

/// The calling thread's stack top (highest address), cached per thread.
fn stack_hi() -> usize {
    STACK_HI.with(|c| {
        if c.get() == 0 {
            c.set(crate::gc::roots::thread_stack_bounds().1);
        }
        c.get()
    })
}

/// Queues the collecting thread's stack, callee-saved registers included, as a root.
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
}
