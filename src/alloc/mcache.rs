//! Per-thread allocation caches (gccgo's mcache.c, libgo-abi.md §11.8).
//!
//! Every thread that allocates gets one `MCache`, found through the initial-exec TLS slot
//! `gogc_tls_cache` (see `tls`) with a single %fs-relative load. For each size
//! class the cache owns at most one span (`alloc[cl]`) and that span's *entire* free list
//! (`list[cl]`): allocation is a pop from a thread-private list, with no lock and no atomic.
//!
//! ## Protection
//! All fields are private to the owning thread, except that with the world stopped the
//! collector may flush any cache (`release_all`), and `registry` links are under `REGISTRY`'s
//! lock. A thread's cache is released by the pthread-key destructor when the thread exits.
//!
//! Explicit frees of objects the cache does not own collect in `free[cl]` and go to the central
//! list in batches of one span's worth.
//!
//! ## Carving
//! A freshly grown span comes with no free list: its blocks are still raw memory (`carve[cl]`,
//! dirty or known zero). `refill` threads them [`CARVE_BYTES`] at a time, zeroing dirty blocks
//! as it goes, so a span's memory is first written in small bursts right before the blocks are
//! used rather than in one pass over the whole span when it is grown. Whatever is left uncarved
//! when the cache lets the span go is threaded then, with the zeroing protocol's second word
//! (poison, or 0 for 16-byte blocks), so the span's free list is complete again.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::alloc::mcentral::CENTRAL;
use crate::config::NUM_SIZE_CLASSES;
use crate::heap::{self, span::{MLink, MSpan}};
use crate::sizeclass::TABLES;
use crate::stats::{self, Field};
use crate::sync::Locked;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FreeBatch {
    pub head: *mut MLink,
    pub n: u32,
}

/// The part of a fresh span not threaded into a free list yet: blocks `[next, end)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Carve {
    pub next: usize,
    pub end: usize,
    /// The memory may hold old data: blocks are zeroed as they are carved.
    pub dirty: bool,
}

/// Bytes of blocks threaded per carving batch.
const CARVE_BYTES: usize = 2048;

#[repr(C)]
pub struct MCache {
    /// Private free list of `alloc[cl]` (hot: first in the struct).
    pub list: [*mut MLink; NUM_SIZE_CLASSES],
    pub alloc: [*mut MSpan; NUM_SIZE_CLASSES],
    /// Uncarved blocks of `alloc[cl]` (see "Carving").
    pub carve: [Carve; NUM_SIZE_CLASSES],
    /// Tiny allocator: current 16-byte block cursor and bytes left in it.
    pub tiny: usize,
    pub tinysize: usize,
    /// Bytes allocated from small classes since the last fold into `heap_alloc`.
    pub local_cachealloc: isize,
    /// Non-zero while this thread is inside mallocgc or free (re-entry is fatal).
    pub mallocing: u32,
    pub local_nlookup: u64,
    pub local_tinyallocs: u64,
    pub local_largefree: u64,
    pub local_nlargefree: u64,
    pub local_nsmallfree: [u64; NUM_SIZE_CLASSES],
    pub free: [FreeBatch; NUM_SIZE_CLASSES],
    reg_next: *mut MCache,
    reg_prev: *mut MCache,
}

/// The calling thread's cache, or null if it has none yet.
#[inline(always)]
pub fn current() -> *mut MCache {
    crate::tls::cache() as *mut MCache
}

#[inline(always)]
fn set_current(c: *mut MCache) {
    crate::tls::set_cache(c as usize)
}

struct Registry {
    head: *mut MCache,
}
// SAFETY: only reached under REGISTRY's lock.
unsafe impl Send for Registry {}

static REGISTRY: Locked<Registry> = Locked::new(Registry { head: ptr::null_mut() });
static THREAD_KEY: AtomicU32 = AtomicU32::new(u32::MAX);

/// Creates the pthread key whose destructor releases an exiting thread's cache.
pub fn init_thread_key() {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key is a valid out-parameter; the destructor has the required signature.
    if unsafe { libc::pthread_key_create(&mut key, Some(thread_exit)) } == 0 {
        THREAD_KEY.store(key, Ordering::Release);
    }
}

extern "C" fn thread_exit(p: *mut libc::c_void) {
    let c = p as *mut MCache;
    if c.is_null() {
        return;
    }
    retire(c);
}

/// Detaches the calling thread and frees its cache `c`, in an order that is safe against a
/// concurrent collection:
/// 1. empty the cache in one critical section while the thread is still registered (a stop
///    that begins meanwhile waits for us; the collector never flushes the cache concurrently);
/// 2. leave the thread registry (marking ourselves exiting first: a stop already waiting for
///    us counts us as stopped);
/// 3. unregister and free the now-empty cache.
fn retire(c: *mut MCache) {
    // Under the registry lock (a counting lock, so also a critical section): a collection
    // flushes every registered cache through `for_each_cache`, and under a host whose
    // stop_world knows nothing of exiting threads (minigo's cooperative mode: a worker leaves
    // the host's world before its thread-exit destructor runs this), that flush and this one
    // could otherwise both hand the same span and private list back to the central list (a
    // cycle in the span's free list).
    // SAFETY: our own cache; the registry lock excludes the collector's flush.
    REGISTRY.with(|_| unsafe { (*c).release_all() });
    if current() == c {
        set_current(ptr::null_mut());
    }
    crate::threads::detach_current();
    // SAFETY: c is empty and no longer used by this thread.
    unsafe { freemcache(c) };
}

/// `gogc_thread_detach`'s half in the allocator: retire the calling thread's cache (if any)
/// and leave the thread registry.
pub fn retire_current() {
    let c = current();
    let key = THREAD_KEY.load(Ordering::Acquire);
    if key != u32::MAX {
        // SAFETY: key was created by init_thread_key; clearing our own value.
        unsafe { libc::pthread_setspecific(key, ptr::null()) };
    }
    if c.is_null() {
        crate::threads::detach_current();
    } else {
        retire(c);
    }
}

/// The calling thread's cache, created on first use.
#[inline(always)]
pub fn get() -> &'static mut MCache {
    let c = current();
    if !c.is_null() {
        // SAFETY: a thread's cache is only used by that thread (module comment).
        return unsafe { &mut *c };
    }
    create_for_thread()
}

#[cold]
#[inline(never)]
fn create_for_thread() -> &'static mut MCache {
    let c = allocmcache();
    set_current(c);
    crate::threads::attach_current();
    let key = THREAD_KEY.load(Ordering::Acquire);
    if key != u32::MAX {
        // SAFETY: key was created by init_thread_key.
        unsafe { libc::pthread_setspecific(key, c as *const libc::c_void) };
    }
    // SAFETY: freshly created, private to this thread.
    unsafe { &mut *c }
}

/// `runtime_allocmcache`: a new empty cache, registered for collector flushes.
pub fn allocmcache() -> *mut MCache {
    heap::ensure_init();
    let c = heap::HEAP.with(|h| h.cachealloc.alloc()) as *mut MCache;
    REGISTRY.with(|r| {
        // SAFETY: c is a fresh zeroed record; registry lock held.
        unsafe {
            (*c).reg_next = r.head;
            if !r.head.is_null() {
                (*r.head).reg_prev = c;
            }
        }
        r.head = c;
    });
    c
}

/// `runtime_freemcache`: release everything the cache holds, fold its statistics, free it.
///
/// # Safety
/// `c` must be a cache no thread will use again.
pub unsafe fn freemcache(c: *mut MCache) {
    // SAFETY: caller's obligations.
    unsafe {
        REGISTRY.with(|r| {
            // Released under the registry lock, like every flush (see `retire`).
            (*c).release_all();
            if (*c).reg_prev.is_null() {
                r.head = (*c).reg_next;
            } else {
                (*(*c).reg_prev).reg_next = (*c).reg_next;
            }
            if !(*c).reg_next.is_null() {
                (*(*c).reg_next).reg_prev = (*c).reg_prev;
            }
        });
        heap::HEAP.with(|h| {
            (*c).fold_stats(h);
            h.cachealloc.free(c as *mut u8);
        });
    }
}

/// Calls `f` on every registered cache. Only with the world stopped (or for statistics that
/// tolerate races): the caches belong to their threads.
pub fn for_each_cache(mut f: impl FnMut(&mut MCache)) {
    REGISTRY.with(|r| {
        let mut c = r.head;
        while !c.is_null() {
            // SAFETY: registered caches stay valid while the registry lock is held.
            unsafe {
                let next = (*c).reg_next;
                f(&mut *c);
                c = next;
            }
        }
    });
}

/// Folds the calling thread's `local_cachealloc` into `heap_alloc`. Heap lock held.
pub fn fold_current_cachealloc() {
    let c = current();
    if !c.is_null() {
        // SAFETY: our own cache.
        unsafe { (*c).fold_cachealloc() };
    }
}

impl MCache {
    pub fn fold_cachealloc(&mut self) {
        let d = self.local_cachealloc;
        if d != 0 {
            stats::atomic(Field::HeapAlloc).fetch_add(d as u64, Ordering::Relaxed);
            self.local_cachealloc = 0;
        }
    }

    /// Moves the local counters into the heap's totals (`runtime_purgecachedstats`).
    pub fn fold_stats(&mut self, h: &mut heap::MHeap) {
        self.fold_cachealloc();
        // SAFETY: the static MStats; nlookup/tinyallocs are only folded here.
        unsafe { (*stats::mstats()).nlookup += self.local_nlookup };
        self.local_nlookup = 0;
        h.largefree += self.local_largefree;
        h.nlargefree += self.local_nlargefree;
        self.local_largefree = 0;
        self.local_nlargefree = 0;
        for cl in 0..NUM_SIZE_CLASSES {
            h.nsmallfree[cl] += self.local_nsmallfree[cl];
            self.local_nsmallfree[cl] = 0;
        }
    }

    /// Replaces the span of class `cl` with one that has free objects; returns its first free
    /// object (already unlinked from `list[cl]`'s head position by the caller). Throws when
    /// the heap is exhausted (`MCache_Refill`).
    #[cold]
    #[inline(never)]
    pub fn refill(&mut self, cl: usize) -> *mut MLink {
        if !self.list[cl].is_null() {
            crate::fatal::throw("refill on a nonempty span");
        }
        let l = self.carve_batch(cl);
        if !l.is_null() {
            return l;
        }
        let old = self.alloc[cl];
        if !old.is_null() {
            self.alloc[cl] = ptr::null_mut();
            // SAFETY: old is our cached span and its private list is empty.
            unsafe { CENTRAL[cl].uncache_span(old, ptr::null_mut()) };
        }
        let (s, list, fresh) = CENTRAL[cl].cache_span();
        if s.is_null() {
            crate::fatal::throw("out of memory");
        }
        self.alloc[cl] = s;
        if fresh {
            // SAFETY: s is now cached by us; nobody else touches a cached span's fields.
            let sp = unsafe { &mut *s };
            let base = sp.base();
            self.carve[cl] = Carve { next: base, end: base + sp.nelems as usize * sp.elemsize, dirty: sp.needzero != 0 };
            // Carving (here or on release) now keeps the zeroing protocol for every block.
            sp.needzero = 0;
            return self.carve_batch(cl);
        }
        list
    }

    /// Threads the next batch of `carve[cl]` (zeroing dirty blocks) and returns it as a free
    /// list; null when nothing is left to carve.
    fn carve_batch(&mut self, cl: usize) -> *mut MLink {
        let size = crate::sizeclass::class_size(cl);
        let c = &mut self.carve[cl];
        if c.next >= c.end {
            return ptr::null_mut();
        }
        let k = ((c.end - c.next) / size).min((CARVE_BYTES / size).max(1));
        let head = c.next;
        if c.dirty {
            // SAFETY: [next, end) are free blocks of our cached span, not on any list.
            unsafe { ptr::write_bytes(head as *mut u8, 0, k * size) };
        }
        let mut p = head;
        for i in 0..k {
            // SAFETY: as above.
            unsafe { (*(p as *mut MLink)).next = if i + 1 < k { (p + size) as *mut MLink } else { ptr::null_mut() } };
            p += size;
        }
        c.next = p;
        head as *mut MLink
    }

    /// Threads all of `carve[cl]` in front of `list` for handing the span back: free blocks
    /// keep the zeroing protocol (a dirty block bigger than 16 bytes gets the sweep poison in
    /// its second word, a dirty 16-byte block a zero one). Returns the new list head.
    fn carve_rest(&mut self, cl: usize, list: *mut MLink) -> *mut MLink {
        let size = crate::sizeclass::class_size(cl);
        let c = core::mem::replace(&mut self.carve[cl], Carve { next: 0, end: 0, dirty: false });
        if c.next >= c.end {
            return list;
        }
        let mut p = c.next;
        while p < c.end {
            // SAFETY: as in carve_batch.
            unsafe {
                let next = if p + size < c.end { (p + size) as *mut MLink } else { list };
                (*(p as *mut MLink)).next = next;
                if c.dirty && size >= 16 {
                    *(p as *mut usize).add(1) = if size > 16 { crate::alloc::malloc::SWEEP_POISON } else { 0 };
                }
            }
            p += size;
        }
        c.next as *mut MLink
    }

    /// Queues an explicitly freed object of class `cl` that this cache does not own
    /// (`MCache_Free`); flushes a span's worth at a time.
    // Called only from `malloc::free` with a block it just validated through the span map.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn free_small(&mut self, cl: usize, v: *mut MLink) {
        let b = &mut self.free[cl];
        // SAFETY: v is a freed block of at least 8 bytes.
        unsafe { (*v).next = b.head };
        b.head = v;
        b.n += 1;
        if b.n >= TABLES.class_to_nobj[cl] {
            let head = b.head;
            b.head = ptr::null_mut();
            b.n = 0;
            // SAFETY: head is a chain of freed blocks of class cl.
            unsafe { CENTRAL[cl].free_list(head) };
        }
    }

    /// `MCache_ReleaseAll`: give every cached span and queued free back to the central lists,
    /// and drop the tiny block.
    #[allow(clippy::needless_range_loop)] // cl indexes four parallel arrays
    pub fn release_all(&mut self) {
        for cl in 1..NUM_SIZE_CLASSES {
            let s = self.alloc[cl];
            if !s.is_null() {
                let list = self.carve_rest(cl, self.list[cl]);
                self.alloc[cl] = ptr::null_mut();
                self.list[cl] = ptr::null_mut();
                // SAFETY: s is cached by us with private list `list`.
                unsafe { CENTRAL[cl].uncache_span(s, list) };
            }
            let b = &mut self.free[cl];
            if !b.head.is_null() {
                let head = b.head;
                b.head = ptr::null_mut();
                b.n = 0;
                // SAFETY: head is a chain of freed blocks of class cl.
                unsafe { CENTRAL[cl].free_list(head) };
            }
        }
        self.tiny = 0;
        self.tinysize = 0;
    }
}

pub(crate) fn lock_registry_for_fork() {
    REGISTRY.lock.lock();
}

pub(crate) fn unlock_registry_after_fork(child: bool) {
    if child {
        REGISTRY.lock.reset();
    } else {
        REGISTRY.lock.unlock();
    }
}
