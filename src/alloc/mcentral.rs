//! Per-size-class central span lists (gccgo's mcentral.c, libgo-abi.md §11.8).
//!
//! Each class has one `MCentral` with its own lock and two lists: `nonempty` (spans with free
//! objects) and `empty` (full spans, and spans owned by a thread cache). A cache takes a whole
//! span's free list at once ([`MCentral::cache_span`]) and gives back what is left when it lets
//! the span go ([`MCentral::uncache_span`]). Frees from threads that do not own the span are
//! batched per cache and arrive through [`MCentral::free_list`]; for a cached span they wait in
//! the span's `freebuf` until it is uncached. A freshly grown span is handed over with no
//! free list at all: the cache carves its blocks as it needs them (`mcache`, "Carving").
//!
//! Lock order: a central lock may be held while taking the heap lock is *not* allowed; the
//! central lock is dropped around every call into the page heap.

use core::ptr;
use core::sync::atomic::Ordering;

use crate::bitmap;
use crate::config::{NUM_SIZE_CLASSES, PAGE_SHIFT};
use crate::alloc::sweep;
use crate::heap::{self, arena, span::{MLink, MSpan, SpanList}, SWEEPGEN};
use crate::sizeclass::TABLES;
use crate::sync::Locked;

pub struct CentralLists {
    pub nonempty: SpanList,
    pub empty: SpanList,
}

/// One size class's central state, padded to its own cache lines.
#[repr(align(128))]
pub struct MCentral {
    pub sizeclass: usize,
    pub lists: Locked<CentralLists>,
}

pub static CENTRAL: [MCentral; NUM_SIZE_CLASSES] = {
    let mut a = [const {
        MCentral {
            sizeclass: 0,
            lists: Locked::new(CentralLists { nonempty: SpanList::new(), empty: SpanList::new() }),
        }
    }; NUM_SIZE_CLASSES];
    let mut i = 0;
    while i < NUM_SIZE_CLASSES {
        a[i].sizeclass = i;
        i += 1;
    }
    a
};

/// Sets up the list sentinels (they point at themselves, so they need their final address).
pub fn init_all() {
    for c in CENTRAL.iter() {
        c.lists.with(|l| {
            l.nonempty.init();
            l.empty.init();
        });
    }
}

impl MCentral {
    /// Hands a span with free objects to a thread cache, with its whole free list.
    /// Returns (null, null, false) when the heap is exhausted. The third value is true for a
    /// freshly grown span, whose blocks are not threaded yet: the cache carves them itself
    /// (`MCache::refill`), and the span's `needzero` says whether its memory is dirty.
    pub fn cache_span(&self) -> (*mut MSpan, *mut MLink, bool) {
        self.lists.lock.lock();
        let mut s = self.find_swept_span();
        let fresh = s.is_null();
        if fresh {
            self.lists.lock.unlock();
            s = self.grow();
            if s.is_null() {
                return (ptr::null_mut(), ptr::null_mut(), false);
            }
            self.lists.lock.lock();
        } else {
            // SAFETY: s is on one of our lists; central lock held.
            unsafe { SpanList::remove(s) };
        }
        // SAFETY: central lock held; s is ours and unlinked.
        let list = unsafe {
            let l = self.lists.get_mut_unchecked();
            l.empty.insert_back(s);
            let sp = &mut *s;
            if sp.nfree == 0 || (sp.freelist.is_null() && !fresh) {
                crate::fatal::throw("empty span");
            }
            sp.incache = true;
            let list = sp.freelist;
            sp.freelist = ptr::null_mut();
            sp.ref_ += sp.nfree;
            sp.nfree = 0;
            list
        };
        self.lists.lock.unlock();
        (s, list, fresh)
    }

    /// Finds a swept span with free objects, sweeping unswept spans of this class on the way
    /// (lazy sweeping). Called and returns with the central lock held; the lock is dropped
    /// while a span is being swept. Returns null if growing is needed.
    fn find_swept_span(&self) -> *mut MSpan {
        'retry: loop {
            // SAFETY: central lock held whenever the lists are touched.
            let l = unsafe { self.lists.get_mut_unchecked() };
            let mut s = l.nonempty.first();
            while !s.is_null() {
                // SAFETY: s is on our nonempty list; central lock held.
                let sp = unsafe { &mut *s };
                if sweep::try_claim(sp) {
                    // SAFETY: s is on one of our lists and we own it through the claim.
                    unsafe { self.sweep_claimed(l, s) };
                    continue 'retry;
                }
                if sp.sweepgen.load(Ordering::Acquire) == SWEEPGEN.load(Ordering::Acquire) && sp.nfree > 0 {
                    return s;
                }
                // SAFETY: s is on nonempty.
                s = unsafe { l.nonempty.next_of(s) };
            }
            // Unswept full spans may free something.
            let mut s = l.empty.first();
            while !s.is_null() {
                // SAFETY: s is on our empty list; central lock held.
                let sp = unsafe { &mut *s };
                if sweep::try_claim(sp) {
                    // SAFETY: s is on one of our lists and we own it through the claim.
                    unsafe { self.sweep_claimed(l, s) };
                    continue 'retry;
                }
                if sp.sweepgen.load(Ordering::Acquire) == SWEEPGEN.load(Ordering::Acquire) {
                    // Swept spans sit at the back of the list: the rest are swept and full.
                    break;
                }
                // SAFETY: s is on empty.
                s = unsafe { l.empty.next_of(s) };
            }
            return ptr::null_mut();
        }
    }

    /// Moves a claimed span to the back of `empty`, then sweeps it with the central lock dropped
    /// (the sweep may give the span back to us through `free_span`). Returns with the lock held.
    ///
    /// # Safety
    /// Central lock held; `s` is on one of this central's lists and claimed (sg-1) by us.
    unsafe fn sweep_claimed(&self, l: &mut CentralLists, s: *mut MSpan) {
        // SAFETY: caller's obligations.
        unsafe {
            SpanList::remove(s);
            l.empty.insert_back(s);
        }
        self.lists.lock.unlock();
        // SAFETY: claimed by the caller.
        unsafe { sweep::sweep_span(s) };
        self.lists.lock.lock();
    }

    /// Gives objects freed by the sweeper back to span `s` and publishes its sweepgen
    /// (`MCentral_FreeSpan`). Returns true if the span went back to the page heap.
    ///
    /// # Safety
    /// The caller swept `s` (claimed sg-1) and `head..tail` are `n` freed objects of it.
    pub unsafe fn free_span(&self, s: *mut MSpan, n: u32, head: *mut MLink, tail: *mut MLink) -> bool {
        self.lists.lock.lock();
        // SAFETY: central lock held; the sweeper owns the span's objects.
        let give_back = unsafe {
            let sp = &mut *s;
            let was_full = sp.nfree == 0;
            (*tail).next = sp.freelist;
            sp.freelist = head;
            sp.nfree += n;
            sp.ref_ -= n;
            sp.sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Release);
            if sp.ref_ == 0 {
                SpanList::remove(s);
                true
            } else {
                if was_full {
                    SpanList::remove(s);
                    self.lists.get_mut_unchecked().nonempty.insert_back(s);
                }
                false
            }
        };
        self.lists.lock.unlock();
        if give_back {
            // SAFETY: no allocated objects, on no list.
            unsafe { return_to_heap(s) };
        }
        give_back
    }

    /// Gives back to the page heap a span the caller swept and found with no live block (its
    /// sweepgen published and the span unlinked under the lock, as in `free_span`).
    ///
    /// # Safety
    /// The caller swept `s` (claimed sg-1), found no marked block, and counted its `ref_`
    /// objects as freed.
    pub unsafe fn free_dead_span(&self, s: *mut MSpan) {
        self.lists.lock.lock();
        // SAFETY: central lock held; the sweeper owns the span; it is on one of our lists.
        unsafe {
            let sp = &mut *s;
            sp.ref_ = 0;
            sp.sweepgen.store(SWEEPGEN.load(Ordering::Relaxed), Ordering::Release);
            SpanList::remove(s);
        }
        self.lists.lock.unlock();
        // SAFETY: no allocated objects, on no list.
        unsafe { return_to_heap(s) };
    }

    /// Takes a span back from a cache with the free objects the cache did not use.
    ///
    /// # Safety
    /// `s` must be cached by the caller's cache and `list` its unused private free list.
    pub unsafe fn uncache_span(&self, s: *mut MSpan, list: *mut MLink) {
        // Count the returned list outside the lock.
        let mut k = 0u32;
        let mut tail = list;
        // SAFETY: the list is the cache's private chain of free objects.
        unsafe {
            if !tail.is_null() {
                k = 1;
                while !(*tail).next.is_null() {
                    tail = (*tail).next;
                    k += 1;
                }
            }
        }
        self.lists.lock.lock();
        // SAFETY: central lock held; s is one of our spans.
        let give_back = unsafe {
            let sp = &mut *s;
            sp.incache = false;
            let mut fb = sp.freebuf;
            sp.freebuf = ptr::null_mut();
            while !fb.is_null() {
                let next = (*fb).next;
                bitmap::markfreed(fb as usize);
                (*fb).next = sp.freelist;
                sp.freelist = fb;
                sp.nfree += 1;
                sp.ref_ -= 1;
                fb = next;
            }
            if !list.is_null() {
                (*tail).next = sp.freelist;
                sp.freelist = list;
                sp.nfree += k;
                sp.ref_ -= k;
            }
            if sp.ref_ == 0 {
                SpanList::remove(s);
                true
            } else {
                if sp.nfree > 0 {
                    SpanList::remove(s);
                    self.lists.get_mut_unchecked().nonempty.insert(s);
                }
                false
            }
        };
        self.lists.lock.unlock();
        if give_back {
            // SAFETY: the span has no allocated objects and is on no list.
            unsafe { return_to_heap(s) };
        }
    }

    /// Returns explicitly freed objects (`runtime_MCentral_FreeList`).
    ///
    /// # Safety
    /// Every object on `start` must be an allocated block of this class, linked through word 0.
    pub unsafe fn free_list(&self, mut start: *mut MLink) {
        self.lists.lock.lock();
        // SAFETY: central lock held while touching spans of this class.
        unsafe {
            while !start.is_null() {
                let v = start;
                start = (*v).next;
                let s = arena::span_of(v as usize);
                if s.is_null() || (*s).sizeclass as usize != self.sizeclass {
                    crate::fatal::throw("invalid free");
                }
                let sp = &mut *s;
                if sp.incache {
                    (*v).next = sp.freebuf;
                    sp.freebuf = v;
                    continue;
                }
                bitmap::markfreed(v as usize);
                (*v).next = sp.freelist;
                sp.freelist = v;
                sp.nfree += 1;
                sp.ref_ -= 1;
                if sp.ref_ == 0 {
                    SpanList::remove(s);
                    self.lists.lock.unlock();
                    return_to_heap(s);
                    self.lists.lock.lock();
                } else if sp.nfree == 1 {
                    SpanList::remove(s);
                    self.lists.get_mut_unchecked().nonempty.insert(s);
                }
            }
        }
        self.lists.lock.unlock();
    }

    /// Allocates a fresh span for this class and carves it into a free list.
    fn grow(&self) -> *mut MSpan {
        let cl = self.sizeclass;
        let npages = TABLES.class_to_allocnpages[cl] as usize;
        // Not zeroed here, and no free list threaded: the cache that takes the span carves
        // (and, when `needzero` says the memory is dirty, zeroes) its blocks a batch at a time
        // as it allocates them, so a fresh span's memory is first written where it is used.
        let s = heap::alloc(npages, cl, false, false);
        if s.is_null() {
            return s;
        }
        // SAFETY: s is a fresh in-use span owned by us until published.
        unsafe {
            let sp = &mut *s;
            let size = sp.elemsize;
            let n = sp.nelems as usize;
            sp.freelist = ptr::null_mut();
            sp.nfree = n as u32;
            sp.ref_ = 0;
            bitmap::markspan(sp.base(), size, n, size * n < npages << PAGE_SHIFT);
        }
        s
    }
}

/// Gives an empty small span back to the page heap (`MCentral_ReturnToHeap`).
///
/// # Safety
/// `s` must be an in-use small span with `ref_ == 0` on no list.
pub unsafe fn return_to_heap(s: *mut MSpan) {
    // SAFETY: caller's obligations.
    unsafe {
        let sp = &mut *s;
        sp.needzero = 1;
        sp.freelist = ptr::null_mut();
        sp.nfree = 0;
        bitmap::unmarkspan(sp.base(), sp.npages << PAGE_SHIFT);
        heap::free(s, false);
    }
}
