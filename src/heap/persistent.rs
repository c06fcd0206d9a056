//! Persistent allocation and FixAlloc (gccgo's `runtime_persistentalloc`, mfixalloc.c).
//!
//! Persistent memory is never freed and never scanned by the collector. Requests of 64 KiB or
//! more get their own mapping; smaller ones are carved from 256 KiB chunks under one lock. A
//! chunk is first counted in `other_sys`; each carve moves its bytes to the caller's `stat`.
//!
//! [`FixAlloc`] hands out fixed-size records (spans, thread caches, specials) from 16 KiB
//! persistent chunks with a free list. It has no lock of its own: each instance names the lock
//! that protects it.

use core::ptr;

use crate::config::{FIX_ALLOC_CHUNK, PAGE_SIZE, PERSISTENT_ALLOC_CHUNK, PERSISTENT_ALLOC_MAX_BLOCK};
use crate::fatal::throw;
use crate::os;
use crate::stats;
use crate::sync::Locked;

struct Persistent {
    pos: usize,
    end: usize,
}

static PERSISTENT: Locked<Persistent> = Locked::new(Persistent { pos: 0, end: 0 });

/// `runtime_persistentalloc(size, align, stat)`.
pub fn persistentalloc(size: usize, align: usize, stat: *mut u64) -> *mut u8 {
    let align = if align == 0 { 8 } else { align };
    if align & (align - 1) != 0 {
        throw("persistentalloc: align is not a power of 2");
    }
    if align > PAGE_SIZE {
        throw("persistentalloc: align is too large");
    }
    if size >= PERSISTENT_ALLOC_MAX_BLOCK {
        let p = os::sys_alloc(size, stat);
        if p.is_null() {
            throw("runtime: cannot allocate memory");
        }
        return p;
    }
    let p = PERSISTENT.with(|st| {
        let mut p = (st.pos + align - 1) & !(align - 1);
        if st.pos == 0 || p + size > st.end {
            let c = os::sys_alloc(PERSISTENT_ALLOC_CHUNK, stats::field(stats::Field::OtherSys));
            if c.is_null() {
                throw("runtime: cannot allocate memory");
            }
            st.pos = c as usize;
            st.end = st.pos + PERSISTENT_ALLOC_CHUNK;
            p = (st.pos + align - 1) & !(align - 1);
        }
        st.pos = p + size;
        p as *mut u8
    });
    if !stat.is_null() {
        let other = stats::field(stats::Field::OtherSys);
        if stat != other {
            os::stat_sub(other, size as u64);
            os::stat_add(stat, size as u64);
        }
    }
    p
}

/// A free-list allocator of `size`-byte records. Protected by the lock named at each use site.
pub struct FixAlloc {
    size: usize,
    list: *mut u8,
    chunk: usize,
    nchunk: usize,
    pub inuse: usize,
    stat: stats::Field,
}

// SAFETY: a FixAlloc is only reached under the lock of the structure embedding it.
unsafe impl Send for FixAlloc {}

impl FixAlloc {
    pub const fn new(size: usize, stat: stats::Field) -> Self {
        FixAlloc { size, list: ptr::null_mut(), chunk: 0, nchunk: 0, inuse: 0, stat }
    }

    /// Returns a zeroed record.
    pub fn alloc(&mut self) -> *mut u8 {
        self.alloc_fresh().0
    }

    /// Returns a zeroed record and whether it was never handed out before.
    pub fn alloc_fresh(&mut self) -> (*mut u8, bool) {
        self.inuse += self.size;
        if !self.list.is_null() {
            let p = self.list;
            // SAFETY: free records hold the next-free link in their first word.
            unsafe {
                self.list = *(p as *mut *mut u8);
                ptr::write_bytes(p, 0, self.size);
            }
            return (p, false);
        }
        if self.nchunk < self.size {
            // Cache-line aligned chunks: records whose size is a multiple of 64 (MSpan) stay
            // line aligned.
            self.chunk = persistentalloc(FIX_ALLOC_CHUNK, 64, stats::field(self.stat)) as usize;
            self.nchunk = FIX_ALLOC_CHUNK;
        }
        let p = self.chunk as *mut u8;
        self.chunk += self.size;
        self.nchunk -= self.size;
        (p, true)
    }

    /// # Safety
    /// `p` must come from this FixAlloc's `alloc` and not be used afterwards.
    pub unsafe fn free(&mut self, p: *mut u8) {
        self.inuse -= self.size;
        // SAFETY: p is a dead record of at least one word.
        unsafe { *(p as *mut *mut u8) = self.list };
        self.list = p;
    }
}

pub(crate) fn lock_for_fork() {
    PERSISTENT.lock.lock();
}

pub(crate) fn unlock_after_fork(child: bool) {
    if child {
        PERSISTENT.lock.reset();
    } else {
        PERSISTENT.lock.unlock();
    }
}
