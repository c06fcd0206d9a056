//! The memory manager's own metadata allocator (never the GC heap, never scanned).
//!
//! Per-span type tables and the collector's work queues need variable-size memory that is freed
//! again. It must not come from the C `malloc` (gogc may *be* malloc under LD_PRELOAD) nor from
//! the GC heap (their lifetime is tied to spans, not to reachability). Blocks are power-of-two
//! sized, 16 B to 64 KiB, carved from 1 MiB chunks and kept on per-size free lists under one
//! lock; bigger requests get their own mapping. All of it is counted in `gc_sys`.
//! The same allocator backs Rust's `alloc` inside the library ([`InternalAllocator`]).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use crate::os;
use crate::stats;
use crate::sync::Locked;

const MIN_SHIFT: usize = 4;
const MAX_SHIFT: usize = 16;
const NCLASS: usize = MAX_SHIFT - MIN_SHIFT + 1;
const CHUNK: usize = 1 << 20;

struct Internal {
    free: [*mut u8; NCLASS],
    pos: usize,
    end: usize,
}

// SAFETY: only reached under INTERNAL's lock.
unsafe impl Send for Internal {}

static INTERNAL: Locked<Internal> =
    Locked::new(Internal { free: [ptr::null_mut(); NCLASS], pos: 0, end: 0 });

fn class_of(size: usize) -> usize {
    let s = size.max(1 << MIN_SHIFT).next_power_of_two();
    s.trailing_zeros() as usize - MIN_SHIFT
}

/// Allocates `size` zeroed bytes aligned to min(block size, 4096). Throws when out of memory.
pub fn ialloc(size: usize) -> *mut u8 {
    if size > 1 << MAX_SHIFT {
        let p = os::sys_alloc(round_os(size), stats::field(stats::Field::GcSys));
        if p.is_null() {
            crate::fatal::throw("runtime: cannot allocate memory");
        }
        return p;
    }
    let cl = class_of(size);
    let bsize = 1usize << (cl + MIN_SHIFT);
    let p = INTERNAL.with(|st| {
        let p = st.free[cl];
        if !p.is_null() {
            // SAFETY: free blocks hold their successor in the first word.
            st.free[cl] = unsafe { *(p as *mut *mut u8) };
            return p;
        }
        let align = bsize.min(4096);
        let mut at = (st.pos + align - 1) & !(align - 1);
        if st.pos == 0 || at + bsize > st.end {
            let c = os::sys_alloc(CHUNK, stats::field(stats::Field::GcSys));
            if c.is_null() {
                crate::fatal::throw("runtime: cannot allocate memory");
            }
            st.pos = c as usize;
            st.end = st.pos + CHUNK;
            at = st.pos;
        }
        st.pos = at + bsize;
        at as *mut u8
    });
    // SAFETY: p is a block of bsize >= size bytes that nobody else owns.
    unsafe { ptr::write_bytes(p, 0, bsize) };
    p
}

/// # Safety
/// `p` must come from `ialloc(size)` with the same `size`, and not be used afterwards.
pub unsafe fn ifree(p: *mut u8, size: usize) {
    if p.is_null() {
        return;
    }
    if size > 1 << MAX_SHIFT {
        os::sys_free(p, round_os(size), stats::field(stats::Field::GcSys));
        return;
    }
    let cl = class_of(size);
    INTERNAL.with(|st| {
        // SAFETY: p is a dead block of at least 16 bytes; its first word becomes the link.
        unsafe { *(p as *mut *mut u8) = st.free[cl] };
        st.free[cl] = p;
    });
}

fn round_os(n: usize) -> usize {
    (n + 4095) & !4095
}

/// Rust global allocator over [`ialloc`], so library-internal `alloc` users (crossbeam's
/// queues) never call the C malloc, which gogc may itself replace.
pub struct InternalAllocator;

// SAFETY: ialloc returns unique blocks of at least the requested size, aligned to
// min(block size, 4096); larger alignments are served by over-allocation below.
unsafe impl GlobalAlloc for InternalAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 4096 {
            return ptr::null_mut();
        }
        ialloc(layout.size().max(layout.align()))
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: p came from alloc with the same layout.
        unsafe { ifree(p, layout.size().max(layout.align())) }
    }
}

pub(crate) fn lock_for_fork() {
    INTERNAL.lock.lock();
}

pub(crate) fn unlock_after_fork(child: bool) {
    if child {
        INTERNAL.lock.reset();
    } else {
        INTERNAL.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_distinct_aligned_and_zeroed() {
        let mut v = [ptr::null_mut::<u8>(); 64];
        for (i, slot) in v.iter_mut().enumerate() {
            let sz = 16 << (i % 8);
            let p = ialloc(sz);
            assert_eq!(p as usize % sz.min(4096), 0);
            // SAFETY: p has sz bytes.
            unsafe {
                assert!((0..sz).all(|k| *p.add(k) == 0));
                ptr::write_bytes(p, 0xab, sz);
            }
            *slot = p;
        }
        for (i, &p) in v.iter().enumerate() {
            // SAFETY: returning what ialloc gave with the same size.
            unsafe { ifree(p, 16 << (i % 8)) };
        }
        let q = ialloc(100_000);
        // SAFETY: freeing the large block just allocated.
        unsafe { ifree(q, 100_000) };
    }
}
