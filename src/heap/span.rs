//! `MSpan`: a run of pages, and intrusive span lists (gccgo's mheap.c span records).
//!
//! ## Span states (field `state`)
//! | state    | meaning                                   | owner / protection                    |
//! |----------|-------------------------------------------|---------------------------------------|
//! | InUse    | holds objects (small) or one large object | heap lock for list links; see below   |
//! | Free     | on a heap free list                       | heap lock                             |
//! | Dead     | record returned to the span FixAlloc      | heap lock                             |
//!
//! ## Sweep generations (field `sweepgen`, heap value `sg`, libgo-abi.md §11.4)
//! | span sweepgen | meaning                                                        |
//! |---------------|----------------------------------------------------------------|
//! | sg - 2        | needs sweeping                                                 |
//! | sg - 1        | being swept by whoever won the CAS from sg-2                   |
//! | sg            | swept and usable                                               |
//!
//! ## Who may touch an in-use small span's object fields
//! * `freelist`, `nfree`, `ref_`, `freebuf`, `incache`: the span's MCentral lock; while `incache`
//!   is true the owning thread cache holds the free objects in its private list, and frees from
//!   other threads go to `freebuf` (under the central lock).
//! * `types`: the owning cache (allocation) or the world stopped (collector).
//! * `specials`: `special_lock`.
//! * immutable while in use: `start`, `npages`, `sizeclass`, `elemsize`, `nelems`, `divmagic`,
//!   `limit` (large spans: set once at allocation before the pointer escapes).

use core::ptr;
use core::sync::atomic::AtomicU32;

use crate::sync::RawLock;

pub(crate) const MSPAN_IN_USE: u8 = 0;
pub(crate) const MSPAN_FREE: u8 = 1;
pub(crate) const MSPAN_DEAD: u8 = 3;

/// A free object: its first word links to the next one.
#[repr(C)]
pub struct MLink {
    pub next: *mut MLink,
}

/// Per-object type records (libgo-abi.md §11.6): compression kind and data word.
#[repr(C)]
pub struct MTypes {
    pub compression: u8,
    pub data: usize,
    /// The first type word recorded in this span since it was (re)initialised, 0 if none:
    /// objects of this type carry `bitmap::BIT_TYPED`, so the collector finds their type
    /// without reading the per-object table.
    pub primary: usize,
}

pub(crate) const MTYPES_EMPTY: u8 = 0;
pub(crate) const MTYPES_SINGLE: u8 = 1;
pub(crate) const MTYPES_WORDS: u8 = 2;
pub(crate) const MTYPES_BYTES: u8 = 3;

/// A special record hanging off a span (finalizer or profile), sorted by (offset, kind).
#[repr(C)]
pub struct Special {
    pub next: *mut Special,
    pub offset: u16,
    pub kind: u8,
}

/// Aligned to a cache line (its FixAlloc hands out 64-byte aligned records): the fields the
/// marker reads for a pointer into the span (`start` .. `types`, offsets 0x10 to 0x7f) then
/// sit in exactly two lines, which the marker prefetches.
#[repr(C, align(64))]
pub struct MSpan {
    pub next: *mut MSpan,
    pub prev: *mut MSpan,
    /// First page number (address >> PAGE_SHIFT).
    pub start: usize,
    pub npages: usize,
    pub freelist: *mut MLink,
    pub sweepgen: AtomicU32,
    /// Objects allocated (including those sitting in an owning cache's private list).
    pub ref_: u32,
    /// Length of `freelist`.
    pub nfree: u32,
    pub nelems: u32,
    pub sizeclass: u8,
    pub incache: bool,
    pub state: u8,
    pub needzero: u8,
    pub elemsize: usize,
    pub divmagic: u64,
    pub unusedsince: i64,
    pub npreleased: usize,
    /// End of usable data (large: start + requested size).
    pub limit: usize,
    pub types: MTypes,
    pub special_lock: RawLock,
    pub specials: *mut Special,
    /// Explicit frees that arrived while the span was cached.
    pub freebuf: *mut MLink,
}

impl MSpan {
    #[inline(always)]
    pub fn base(&self) -> usize {
        self.start << crate::config::PAGE_SHIFT
    }

    #[inline(always)]
    pub fn end(&self) -> usize {
        (self.start + self.npages) << crate::config::PAGE_SHIFT
    }

    /// Index of the object containing `addr` (small spans; large spans have one object).
    #[inline(always)]
    pub fn obj_index(&self, addr: usize) -> usize {
        let off = (addr - self.base()) as u64;
        if self.sizeclass == 0 {
            0
        } else {
            ((off * self.divmagic) >> 32) as usize
        }
    }

    /// Start of the object containing `addr`.
    #[inline(always)]
    pub fn obj_base(&self, addr: usize) -> usize {
        self.base() + self.obj_index(addr) * self.elemsize
    }

    /// Initialises a span record for `npages` pages at page `start`, in sweep generation `sg`.
    ///
    /// A recycled record may still be listed in a sweep snapshot, where a sweeper reads
    /// `state` and then CASes `sweepgen` from sg-2. So `sweepgen` is published first (Release)
    /// and only then does `state` change: a sweeper that sees the record in use also sees a
    /// sweepgen it cannot claim.
    pub fn init(&mut self, start: usize, npages: usize, sg: u32) {
        self.sweepgen.store(sg, core::sync::atomic::Ordering::Release);
        core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
        self.next = ptr::null_mut();
        self.prev = ptr::null_mut();
        self.start = start;
        self.npages = npages;
        self.freelist = ptr::null_mut();
        self.ref_ = 0;
        self.nfree = 0;
        self.nelems = 0;
        self.sizeclass = 0;
        self.incache = false;
        self.state = MSPAN_IN_USE;
        self.needzero = 0;
        self.elemsize = 0;
        self.divmagic = 0;
        self.unusedsince = 0;
        self.npreleased = 0;
        self.limit = 0;
        self.types = MTypes { compression: MTYPES_EMPTY, data: 0, primary: 0 };
        self.special_lock = RawLock::new();
        self.specials = ptr::null_mut();
        self.freebuf = ptr::null_mut();
    }
}

/// Circular doubly-linked list with a sentinel holding just the two links. The sentinel is
/// addressed as `*mut MSpan`, but only its `next`/`prev` fields (the shared `#[repr(C)]` prefix)
/// are ever touched through that pointer.
#[repr(C)]
pub struct SpanList {
    next: *mut MSpan,
    prev: *mut MSpan,
}

impl SpanList {
    pub const fn new() -> Self {
        SpanList { next: ptr::null_mut(), prev: ptr::null_mut() }
    }

    #[inline]
    fn head(&self) -> *mut MSpan {
        self as *const SpanList as *mut MSpan
    }

    /// Must be called once the list has its final address.
    pub fn init(&mut self) {
        let h = self.head();
        self.next = h;
        self.prev = h;
    }

    pub fn is_empty(&self) -> bool {
        self.next == self.head()
    }

    pub fn first(&self) -> *mut MSpan {
        if self.is_empty() {
            ptr::null_mut()
        } else {
            self.next
        }
    }

    /// Next element after `s`, or null at the end.
    ///
    /// # Safety
    /// `s` must be on this list.
    pub unsafe fn next_of(&self, s: *mut MSpan) -> *mut MSpan {
        // SAFETY: s is a live element of this list (caller's obligation).
        let n = unsafe { (*s).next };
        if n == self.head() {
            ptr::null_mut()
        } else {
            n
        }
    }

    /// # Safety
    /// `s` must be a live span not on any list; the list's lock must be held.
    pub unsafe fn insert(&mut self, s: *mut MSpan) {
        // SAFETY: s is live and unlinked; the sentinel's prefix has the same layout as MSpan's.
        unsafe {
            if !(*s).next.is_null() || !(*s).prev.is_null() {
                crate::rprint!("failed MSpanList_Insert {:p} {:p} {:p}\n", s, (*s).next, (*s).prev);
                crate::fatal::throw("MSpanList_Insert");
            }
            let h = self.head();
            (*s).next = self.next;
            (*s).prev = h;
            (*self.next).prev = s;
            self.next = s;
        }
    }

    /// Inserts at the back.
    ///
    /// # Safety
    /// As for [`SpanList::insert`].
    pub unsafe fn insert_back(&mut self, s: *mut MSpan) {
        // SAFETY: as in insert.
        unsafe {
            if !(*s).next.is_null() || !(*s).prev.is_null() {
                crate::rprint!("failed MSpanList_InsertBack {:p} {:p} {:p}\n", s, (*s).next, (*s).prev);
                crate::fatal::throw("MSpanList_Insert");
            }
            let h = self.head();
            (*s).next = h;
            (*s).prev = self.prev;
            (*self.prev).next = s;
            self.prev = s;
        }
    }

    /// Unlinks `s` from whatever list holds it.
    ///
    /// # Safety
    /// `s` must be on a list whose lock is held.
    pub unsafe fn remove(s: *mut MSpan) {
        // SAFETY: s and its neighbours are live list members under the held lock.
        unsafe {
            (*(*s).prev).next = (*s).next;
            (*(*s).next).prev = (*s).prev;
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
        }
    }
}

impl Default for SpanList {
    fn default() -> Self {
        Self::new()
    }
}
