//! GC roots (libgo-abi.md §7): compiler-registered root lists, extra ranges registered by C
//! callers, and thread stacks.
//!
//! Unlike the seed, registration takes a lock: `__go_register_gc_roots` can be called from
//! package init functions on any thread, before or after the heap exists (the lock is a static
//! futex word, so it works before the first allocation). Root lists are linked through their
//! own `next` word as gccgo does; extra ranges live in a table from the internal allocator.

use core::ptr;

use crate::ffi::types::root_list;
use crate::heap::internal::{ialloc, ifree};
use crate::sync::Locked;

struct Roots {
    lists: *mut root_list,
    ranges: *mut (usize, usize),
    nranges: usize,
    cap: usize,
}

// SAFETY: only reached under ROOTS' lock.
unsafe impl Send for Roots {}

static ROOTS: Locked<Roots> =
    Locked::new(Roots { lists: ptr::null_mut(), ranges: ptr::null_mut(), nranges: 0, cap: 0 });

/// `__go_register_gc_roots`: push `r` on the list of root lists.
///
/// # Safety
/// `r` must stay valid (and unchanged apart from `next`) for the rest of the process.
pub unsafe fn register_list(r: *mut root_list) {
    if r.is_null() {
        return;
    }
    ROOTS.with(|st| {
        // SAFETY: caller's obligation; only `next` is written.
        unsafe { (*r).next = st.lists };
        st.lists = r;
    });
}

/// `gogc_add_roots`: scan `[lo, hi)` conservatively at every collection.
pub fn add_range(lo: usize, hi: usize) -> bool {
    if hi <= lo {
        return false;
    }
    ROOTS.with(|st| {
        if st.nranges == st.cap {
            let ncap = (st.cap * 2).max(16);
            let n = ialloc(ncap * 16) as *mut (usize, usize);
            if st.cap > 0 {
                // SAFETY: both tables hold at least nranges entries.
                unsafe {
                    ptr::copy_nonoverlapping(st.ranges, n, st.nranges);
                    ifree(st.ranges as *mut u8, st.cap * 16);
                }
            }
            st.ranges = n;
            st.cap = ncap;
        }
        // SAFETY: nranges < cap.
        unsafe { *st.ranges.add(st.nranges) = (lo, hi) };
        st.nranges += 1;
    });
    true
}

/// `gogc_remove_roots`: forget a range added with exactly these bounds. False if unknown.
pub fn remove_range(lo: usize, hi: usize) -> bool {
    ROOTS.with(|st| {
        for i in 0..st.nranges {
            // SAFETY: i < nranges.
            unsafe {
                if *st.ranges.add(i) == (lo, hi) {
                    *st.ranges.add(i) = *st.ranges.add(st.nranges - 1);
                    st.nranges -= 1;
                    return true;
                }
            }
        }
        false
    })
}

/// Calls `f(lo, hi)` for every registered global and range.
pub fn for_each(mut f: impl FnMut(usize, usize)) {
    ROOTS.with(|st| {
        let mut l = st.lists;
        while !l.is_null() {
            // SAFETY: registered lists stay valid; entries end with decl == NULL.
            unsafe {
                let mut e = (*l).roots.as_ptr();
                while !(*e).decl.is_null() {
                    let lo = (*e).decl as usize;
                    f(lo, lo + (*e).size);
                    e = e.add(1);
                }
                l = (*l).next;
            }
        }
        for i in 0..st.nranges {
            // SAFETY: i < nranges.
            let (lo, hi) = unsafe { *st.ranges.add(i) };
            f(lo, hi);
        }
    });
}

/// The calling thread's stack bounds `(lo, hi)` from pthread.
pub fn thread_stack_bounds() -> (usize, usize) {
    // SAFETY: attr is initialised by pthread_getattr_np and destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = ptr::null_mut();
        let mut size: libc::size_t = 0;
        libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (addr as usize, addr as usize + size)
    }
}

pub(crate) fn lock_for_fork() {
    ROOTS.lock.lock();
}

pub(crate) fn unlock_after_fork(child: bool) {
    if child {
        ROOTS.lock.reset();
    } else {
        ROOTS.lock.unlock();
    }
}
