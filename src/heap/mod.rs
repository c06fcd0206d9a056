//! The page heap (gccgo's mheap.c, libgo-abi.md §11.7): spans of pages carved from the arena,
//! free lists by page count, coalescing, large objects.
//!
//! Layering (as in Go's malloc): OS (`os`) → arena (`arena`) → page heap (this module) →
//! per-class central lists (`alloc::mcentral`) → per-thread caches (`alloc::mcache`) → the
//! allocation fast path (`alloc::malloc`). Each level batches work for the one above it.
//!
//! ## Protection
//! Everything in [`MHeap`] is protected by `HEAP.lock`. The spans map and arena bounds are
//! readable without it (see `arena`). `SWEEPGEN` is atomic: the collector bumps it with the
//! world stopped, sweepers and allocators read it.
//!
//! ## Free lists
//! `free[n]` holds free spans of exactly `n` pages (1..127); `freelarge` holds bigger ones and is
//! searched best-fit (fewest pages, then lowest address). A free span's first and last pages are
//! always mapped to it in the spans map, which is what coalescing needs; an in-use span has all
//! its pages mapped.

pub mod arena;
pub mod internal;
pub mod persistent;
pub mod span;

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::config::{HEAP_ALLOC_CHUNK, MAX_MHEAP_LIST, NUM_SIZE_CLASSES, PAGE_SHIFT, PAGE_SIZE};
use crate::fatal::throw;
use crate::os;
use crate::sizeclass;
use crate::stats::{self, Field};
use crate::sync::{Locked, RawLock};
use persistent::FixAlloc;
use span::{MSpan, SpanList, MSPAN_DEAD, MSPAN_FREE, MSPAN_IN_USE};

pub struct MHeap {
    free: [SpanList; MAX_MHEAP_LIST],
    freelarge: SpanList,
    busy: [SpanList; MAX_MHEAP_LIST],
    busylarge: SpanList,
    /// Every span record ever carved (each exactly once; dead ones included).
    pub allspans: *mut *mut MSpan,
    pub nspan: usize,
    nspancap: usize,
    pub spanalloc: FixAlloc,
    pub cachealloc: FixAlloc,
    /// Folded statistics of freed objects (from caches and the sweeper).
    pub largefree: u64,
    pub nlargefree: u64,
    pub nsmallfree: [u64; NUM_SIZE_CLASSES],
}

// SAFETY: MHeap is only reached under HEAP's lock.
unsafe impl Send for MHeap {}

pub static HEAP: Locked<MHeap> = Locked::new(MHeap {
    free: [const { SpanList::new() }; MAX_MHEAP_LIST],
    freelarge: SpanList::new(),
    busy: [const { SpanList::new() }; MAX_MHEAP_LIST],
    busylarge: SpanList::new(),
    allspans: ptr::null_mut(),
    nspan: 0,
    nspancap: 0,
    spanalloc: FixAlloc::new(core::mem::size_of::<MSpan>(), Field::MSpanSys),
    cachealloc: FixAlloc::new(core::mem::size_of::<crate::alloc::mcache::MCache>(), Field::MCacheSys),
    largefree: 0,
    nlargefree: 0,
    nsmallfree: [0; NUM_SIZE_CLASSES],
});

/// The heap's sweep generation (libgo-abi.md §11.4).
pub static SWEEPGEN: AtomicU32 = AtomicU32::new(0);

static INIT_STATE: AtomicU32 = AtomicU32::new(0);
static INIT_LOCK: RawLock = RawLock::new_plain();

#[inline(always)]
pub fn is_init() -> bool {
    INIT_STATE.load(Ordering::Acquire) == 2
}

/// `runtime_mallocinit`: reserve the arena and set up the heap. Idempotent and thread-safe.
pub fn ensure_init() {
    if is_init() {
        return;
    }
    INIT_LOCK.lock();
    if INIT_STATE.load(Ordering::Relaxed) == 0 {
        INIT_STATE.store(1, Ordering::Relaxed);
        crate::config::init_debug();
        arena::reserve();
        // SAFETY: initialisation is serialised by INIT_LOCK and no other thread can reach
        // the heap before INIT_STATE becomes 2.
        let h = unsafe { HEAP.get_mut_unchecked() };
        for l in h.free.iter_mut() {
            l.init();
        }
        for l in h.busy.iter_mut() {
            l.init();
        }
        h.freelarge.init();
        h.busylarge.init();
        crate::alloc::mcentral::init_all();
        crate::alloc::mcache::init_thread_key();
        crate::ffi::on_heap_init();
        crate::gc::install();
        INIT_STATE.store(2, Ordering::Release);
    }
    INIT_LOCK.unlock();
}

/// Lock-free span lookup for an in-use span whose usable range holds `v`
/// (`runtime_MHeap_LookupMaybe`).
#[inline]
pub fn lookup_maybe(v: usize) -> *mut MSpan {
    let s = arena::span_of(v);
    if s.is_null() {
        return s;
    }
    // SAFETY: spans-map entries point to span records, which are never unmapped.
    let sp = unsafe { &*s };
    if sp.state != MSPAN_IN_USE || v < sp.base() || v >= sp.limit {
        return ptr::null_mut();
    }
    s
}

impl MHeap {
    fn record_span(&mut self, s: *mut MSpan) {
        if self.nspan >= self.nspancap {
            let ncap = (self.nspancap * 2).max(4096);
            let bytes = ncap * 8;
            let n = os::sys_alloc(bytes, stats::field(Field::OtherSys)) as *mut *mut MSpan;
            if n.is_null() {
                throw("runtime: cannot allocate memory");
            }
            if !self.allspans.is_null() {
                // SAFETY: both arrays hold at least nspan entries; they do not overlap.
                unsafe { ptr::copy_nonoverlapping(self.allspans, n, self.nspan) };
                // The old array is kept: a sweep snapshot may still be walking it. It is
                // bounded by the final array's size (capacities double).
            }
            self.allspans = n;
            self.nspancap = ncap;
        }
        // SAFETY: nspan < nspancap after the growth above.
        unsafe { *self.allspans.add(self.nspan) = s };
        self.nspan += 1;
    }

    fn new_span(&mut self) -> *mut MSpan {
        let (p, fresh) = self.spanalloc.alloc_fresh();
        let s = p as *mut MSpan;
        if fresh {
            self.record_span(s);
        }
        s
    }

    /// Finds and removes a free span of at least `npage` pages, growing the heap if needed.
    fn alloc_locked(&mut self, npage: usize) -> *mut MSpan {
        let mut s = self.find_free(npage);
        if s.is_null() {
            if !self.grow(npage) {
                return ptr::null_mut();
            }
            s = self.find_free(npage);
            if s.is_null() {
                return ptr::null_mut();
            }
        }
        // SAFETY: s is a live free span taken from our lists; heap lock held.
        unsafe {
            let sp = &mut *s;
            if sp.state != MSPAN_FREE {
                throw("MHeap_AllocLocked - MSpan not free");
            }
            if sp.npages < npage {
                throw("MHeap_AllocLocked - bad npages");
            }
            SpanList::remove(s);
            // The current sweep generation is published before the span turns in-use: a
            // sweeper that sees it in use must not find a stale sg-2 it could claim (see
            // MSpan::init for the same rule on recycled records).
            sp.sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Release);
            core::sync::atomic::fence(Ordering::Release);
            // In use from here on, so trimming below cannot coalesce the excess back into it.
            sp.state = MSPAN_IN_USE;
            let m = &mut *stats::mstats();
            m.heap_idle -= (sp.npages << PAGE_SHIFT) as u64;
            if sp.npreleased > 0 {
                os::sys_used(sp.base() as *mut u8, sp.npages << PAGE_SHIFT);
                os::stat_sub(stats::field(Field::HeapReleased), (sp.npreleased << PAGE_SHIFT) as u64);
                sp.npreleased = 0;
            }
            if sp.npages > npage {
                // Trim the excess into a new free span.
                let t = self.new_span();
                (*t).init(sp.start + npage, sp.npages - npage, SWEEPGEN.load(Ordering::Relaxed));
                sp.npages = npage;
                arena::set_span((*t).base() - PAGE_SIZE, s);
                arena::set_span((*t).base(), t);
                arena::set_span((*t).end() - PAGE_SIZE, t);
                (*t).needzero = sp.needzero;
                (*t).sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Relaxed);
                let since = sp.unusedsince;
                self.free_locked(t);
                (*t).unusedsince = since;
            }
            sp.unusedsince = 0;
            let mut a = sp.base();
            while a < sp.end() {
                arena::set_span(a, s);
                a += PAGE_SIZE;
            }
        }
        s
    }

    fn find_free(&mut self, npage: usize) -> *mut MSpan {
        for n in npage..MAX_MHEAP_LIST {
            let s = self.free[n].first();
            if !s.is_null() {
                return s;
            }
        }
        // Best fit among large free spans: fewest pages, then lowest address.
        let mut best: *mut MSpan = ptr::null_mut();
        let mut s = self.freelarge.first();
        while !s.is_null() {
            // SAFETY: s is on freelarge; heap lock held.
            unsafe {
                let sp = &*s;
                if sp.npages >= npage
                    && (best.is_null()
                        || sp.npages < (*best).npages
                        || (sp.npages == (*best).npages && sp.start < (*best).start))
                {
                    best = s;
                }
                s = self.freelarge.next_of(s);
            }
        }
        best
    }

    /// Adds at least `npage` pages of fresh arena to the free lists.
    fn grow(&mut self, npage: usize) -> bool {
        let mut ask = ((npage + 15) & !15) << PAGE_SHIFT;
        if ask < HEAP_ALLOC_CHUNK {
            ask = HEAP_ALLOC_CHUNK;
        }
        let mut v = arena::grow(ask);
        if v == 0 {
            ask = npage << PAGE_SHIFT;
            v = arena::grow(ask);
            if v == 0 {
                // SAFETY: reading the static MStats under the heap lock.
                let inuse = unsafe { (*stats::mstats()).heap_alloc };
                crate::rprint!(
                    "runtime: out of memory: cannot allocate {}-byte block ({} in use)\n",
                    ask,
                    inuse
                );
                return false;
            }
        }
        let s = self.new_span();
        // SAFETY: s is a fresh record; heap lock held.
        unsafe {
            (*s).init(v >> PAGE_SHIFT, ask >> PAGE_SHIFT, SWEEPGEN.load(Ordering::Relaxed));
            arena::set_span(v, s);
            arena::set_span(v + ask - PAGE_SIZE, s);
            (*s).sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Relaxed);
            self.free_locked(s);
        }
        true
    }

    /// Returns an in-use span (no objects left) to the free lists, coalescing with neighbours.
    ///
    /// # Safety
    /// `s` must be an in-use span not on any list; heap lock held.
    unsafe fn free_locked(&mut self, s: *mut MSpan) {
        // SAFETY: caller's obligations; neighbours found through the spans map are live records.
        unsafe {
            let sp = &mut *s;
            let sg = SWEEPGEN.load(Ordering::Relaxed);
            if sp.state != MSPAN_IN_USE || sp.ref_ != 0 || sp.sweepgen.load(Ordering::Relaxed) != sg {
                crate::rprint!(
                    "MHeap_FreeLocked - span {:p} ptr {:#x} state {} ref {} sweepgen {}/{}\n",
                    s,
                    sp.base(),
                    sp.state,
                    sp.ref_,
                    sp.sweepgen.load(Ordering::Relaxed),
                    sg
                );
                throw("MHeap_FreeLocked - invalid free");
            }
            crate::alloc::typeinfo::reset(sp);
            (*stats::mstats()).heap_idle += (sp.npages << PAGE_SHIFT) as u64;
            sp.state = MSPAN_FREE;
            sp.unusedsince = os::nanotime();
            sp.npreleased = 0;
            // Coalesce with the span before.
            if sp.base() > arena::start() {
                let t = arena::span_of(sp.base() - PAGE_SIZE);
                if !t.is_null() && (*t).state == MSPAN_FREE && (*t).end() == sp.base() {
                    sp.start = (*t).start;
                    sp.npages += (*t).npages;
                    sp.npreleased = (*t).npreleased;
                    sp.needzero |= (*t).needzero;
                    arena::set_span(sp.base(), s);
                    SpanList::remove(t);
                    (*t).state = MSPAN_DEAD;
                    self.spanalloc.free(t as *mut u8);
                }
            }
            // Coalesce with the span after.
            if sp.end() < arena::used() {
                let t = arena::span_of(sp.end());
                if !t.is_null() && (*t).state == MSPAN_FREE && (*t).base() == sp.end() {
                    sp.npages += (*t).npages;
                    sp.npreleased += (*t).npreleased;
                    sp.needzero |= (*t).needzero;
                    arena::set_span(sp.end() - PAGE_SIZE, s);
                    SpanList::remove(t);
                    (*t).state = MSPAN_DEAD;
                    self.spanalloc.free(t as *mut u8);
                }
            }
            if sp.npages < MAX_MHEAP_LIST {
                self.free[sp.npages].insert(s);
            } else {
                self.freelarge.insert(s);
            }
        }
    }

    /// Visits every free span (the scavenger's walk). Heap lock held.
    pub fn for_each_free(&mut self, mut f: impl FnMut(&mut MSpan)) {
        for l in self.free.iter().chain(core::iter::once(&self.freelarge)) {
            let mut s = l.first();
            while !s.is_null() {
                // SAFETY: s is on a free list; heap lock held.
                unsafe {
                    f(&mut *s);
                    s = l.next_of(s);
                }
            }
        }
    }
}

/// `runtime_MHeap_Alloc`: a span of `npage` pages for size class `sizeclass` (0 = large).
/// Returns null when out of memory. The span is zeroed if `needzero` and it held old data;
/// otherwise its `needzero` flag tells the caller whether it did.
pub fn alloc(npage: usize, sizeclass: usize, large: bool, needzero: bool) -> *mut MSpan {
    ensure_init();
    crate::collector_hooks::reclaim(npage);
    let s = HEAP.with(|h| {
        crate::alloc::mcache::fold_current_cachealloc();
        let s = h.alloc_locked(npage);
        if s.is_null() {
            return s;
        }
        // SAFETY: s is a freshly allocated in-use span; heap lock held.
        unsafe {
            let sp = &mut *s;
            sp.sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Relaxed);
            sp.sizeclass = sizeclass as u8;
            sp.ref_ = 0;
            sp.nfree = 0;
            sp.incache = false;
            sp.freelist = ptr::null_mut();
            sp.freebuf = ptr::null_mut();
            sp.specials = ptr::null_mut();
            if sizeclass == 0 {
                sp.elemsize = npage << PAGE_SHIFT;
                sp.nelems = 1;
                sp.divmagic = 0;
            } else {
                sp.elemsize = sizeclass::class_size(sizeclass);
                sp.nelems = sizeclass::TABLES.class_to_nobj[sizeclass];
                sp.divmagic = sizeclass::TABLES.class_to_divmagic[sizeclass];
            }
            sp.limit = sp.base() + sp.elemsize * sp.nelems as usize;
            let m = &mut *stats::mstats();
            m.heap_inuse += (npage << PAGE_SHIFT) as u64;
            if large {
                m.heap_objects += 1;
                stats::atomic(Field::HeapAlloc).fetch_add((npage << PAGE_SHIFT) as u64, Ordering::Relaxed);
                if npage < MAX_MHEAP_LIST {
                    h.busy[npage].insert_back(s);
                } else {
                    h.busylarge.insert_back(s);
                }
            }
        }
        s
    });
    if !s.is_null() {
        // SAFETY: s is in use and owned by this caller until returned.
        unsafe {
            let sp = &mut *s;
            // Without `needzero` the caller takes the memory as it is, and the flag keeps
            // saying whether it is dirty (MCentral's grow zeroes block by block).
            if needzero {
                if sp.needzero != 0 {
                    ptr::write_bytes(sp.base() as *mut u8, 0, sp.npages << PAGE_SHIFT);
                }
                sp.needzero = 0;
            }
        }
    }
    s
}

/// `runtime_MHeap_Free`: return an in-use span. `acct`: it held one large object.
///
/// # Safety
/// `s` must be an in-use span with no live objects that no cache or central list holds.
pub unsafe fn free(s: *mut MSpan, acct: bool) {
    HEAP.with(|h| {
        crate::alloc::mcache::fold_current_cachealloc();
        // SAFETY: caller's obligations; heap lock held.
        unsafe {
            let sp = &mut *s;
            if sp.sizeclass == 0 && !sp.next.is_null() {
                SpanList::remove(s);
            }
            let m = &mut *stats::mstats();
            m.heap_inuse -= (sp.npages << PAGE_SHIFT) as u64;
            if acct {
                stats::atomic(Field::HeapAlloc).fetch_sub((sp.npages << PAGE_SHIFT) as u64, Ordering::Relaxed);
                m.heap_objects -= 1;
            }
            h.free_locked(s);
        }
    });
}

/// efence: a large span's object has been freed (explicitly or by the sweep) and its pages are
/// about to be made inaccessible instead of going back to the page heap. The span's limit
/// becomes its base (mlookup and the collector no longer find the object; `updatememstats`
/// counts such a span as nothing), and, under the same heap lock, the object leaves HeapAlloc
/// and HeapObjects as it would through `free(s, true)`, so both ways of computing them agree.
/// The pages stay in heap_inuse: they are never reused.
pub fn account_faulted_large(sp: &mut MSpan) {
    HEAP.with(|_h| {
        crate::alloc::mcache::fold_current_cachealloc();
        sp.limit = sp.base();
        stats::atomic(Field::HeapAlloc).fetch_sub((sp.npages << PAGE_SHIFT) as u64, Ordering::Relaxed);
        // SAFETY: the static MStats; heap_objects is written under the heap lock, held here.
        let m = unsafe { &mut *stats::mstats() };
        m.heap_objects -= 1;
    });
}

/// fork prepare: take every allocator lock in the global order (central lists, heap,
/// persistent and internal allocators, cache registry), so the child starts consistent.
pub fn lock_all_for_fork() {
    crate::gc::roots::lock_for_fork();
    crate::alloc::mcache::lock_registry_for_fork();
    for c in crate::alloc::mcentral::CENTRAL.iter() {
        c.lists.lock.lock();
    }
    HEAP.lock.lock();
    persistent::lock_for_fork();
    internal::lock_for_fork();
}

/// fork parent/child: release (parent) or reset (child) what `lock_all_for_fork` took.
pub fn unlock_all_after_fork(child: bool) {
    let rel = |l: &RawLock| if child { l.reset() } else { l.unlock() };
    internal::unlock_after_fork(child);
    persistent::unlock_after_fork(child);
    rel(&HEAP.lock);
    for c in crate::alloc::mcentral::CENTRAL.iter().rev() {
        rel(&c.lists.lock);
    }
    crate::alloc::mcache::unlock_registry_after_fork(child);
    crate::gc::roots::unlock_after_fork(child);
    if child {
        crate::tls::set_locks(0);
        crate::tls::set_pending(0);
    }
}
