//! `mallocgc` and friends (gccgo's malloc.goc, libgo-abi.md §6).
//!
//! Paths, fastest first:
//! * **tiny**: pointer-free requests under 16 bytes are packed into a shared 16-byte block held
//!   by the cache (bump of a cursor; no bitmap, no type, no GC trigger);
//! * **small**: pop the class's private free list of the thread cache; refill from the central
//!   list when empty;
//! * **large**: pages straight from the page heap, one object per span.
//!
//! Zeroing protocol (§16.1): a free small object is already zero iff its second word is zero.
//! A fresh span's blocks are carved by the cache that takes it (`mcache`, "Carving"): zeroed
//! first when the pages held old data, so a carved block is zero but for its link; blocks left
//! uncarved when the cache lets the span go are threaded with a poisoned second word (a zero
//! one for 16-byte blocks, which are then whole). Every free path poisons word 1 of objects
//! bigger than 16 bytes, so allocation clears word 0 and, only when word 1 is non-zero, the
//! whole object.

use core::ptr;

use crate::alloc::mcache::{self, MCache};
use crate::alloc::typeinfo;
use crate::bitmap;
use crate::config::{
    self, FLAG_NO_GC, FLAG_NO_INVOKE_GC, FLAG_NO_SCAN, FLAG_NO_ZERO, MAX_SMALL_SIZE, PAGE_SHIFT,
    PAGE_SIZE, TINY_SIZE, TINY_SIZE_CLASS,
};
use crate::fatal::throw;
use crate::heap::{self, arena, span::MLink};
use crate::sizeclass;

/// Word-1 poison for explicitly freed objects.
pub(crate) const FREE_POISON: usize = 0xfeedfeedfeedfeed;
/// Word-1 poison for objects freed by the sweeper.
#[allow(dead_code)] // used by the sweeper
pub(crate) const SWEEP_POISON: usize = 0xdeaddeaddeaddead;

/// Address returned for every zero-size allocation (`&runtime_zerobase`).
#[inline]
pub fn zerobase() -> *mut u8 {
    core::ptr::addr_of_mut!(crate::ffi::runtime_zerobase) as *mut u8
}

/// Marks the thread as inside the allocator (gccgo's `m->mallocing`); re-entry is fatal. A
/// stop-the-world request landing while it is set waits for [`leave`].
#[inline(always)]
fn enter(c: &mut MCache) {
    if c.mallocing != 0 {
        throw("malloc/free - deadlock");
    }
    set_mallocing(c);
}

#[inline(always)]
fn leave(c: &mut MCache) {
    clear_mallocing(c);
    run_pending_suspend();
}

/// A suspend request that arrived while `mallocing` was set is served now (unless the thread
/// holds runtime locks).
#[inline(always)]
fn run_pending_suspend() {
    if crate::tls::pending() != 0 && crate::tls::locks() == 0 {
        crate::sync::run_suspend_hook();
    }
}

/// Hook run after an allocation that may start a collection (set by the collector module).
pub type GcTrigger = fn();

/// Zeroes a block of `sz` bytes, a size class above 16: straight-line stores for the classes
/// up to 64 bytes (32, 48, 64: what tree-shaped programs allocate most), `rep stosq` above.
#[inline(always)]
unsafe fn zero_block(p: *mut usize, sz: usize) {
    if sz <= 64 {
        debug_assert!(sz % 16 == 0);
        // SAFETY: the caller's block has sz >= 32 bytes, a multiple of 16 (see the classes).
        unsafe {
            let q = p as *mut [usize; 2];
            q.write([0, 0]);
            q.add(1).write([0, 0]);
            if sz > 32 {
                q.add(2).write([0, 0]);
            }
            if sz > 48 {
                q.add(3).write([0, 0]);
            }
        }
    } else {
        // `rep stosq` rather than a call to memset: the allocation fast path then makes no
        // call, so it needs no callee-saved registers (see `mallocgc`).
        // SAFETY: the caller's block has sz bytes, a multiple of 8; DF is clear (ABI); rcx and
        // rdi are declared clobbered.
        unsafe {
            core::arch::asm!(
                "rep stosq",
                inout("rcx") sz / 8 => _,
                inout("rdi") p => _,
                in("rax") 0usize,
                options(nostack, preserves_flags)
            )
        };
    }
}

/// `runtime_mallocgc(size, typ, flag)`: the fast path inline, everything else out of line.
///
/// The fast path is the common case: a small scannable or NoScan block of at least 16 bytes,
/// flags 0 or FlagNoScan, no debug mode, a block ready in the thread's cache and, for a typed
/// block, the span's primary type (recorded in the heap bitmap only, see
/// `typeinfo::settype_primary`). Every way out of it that is not the plain return is a tail
/// call (`mallocgc_slow`, `mallocgc_slow_entered`, `after_fast_cold`), so the compiled fast
/// path keeps everything in scratch registers: no callee-saved register is pushed or popped
/// on the way through. It changes nothing before it hands over to the slow path, except the
/// `mallocing` flag, which `mallocgc_slow_entered` takes over as set.
#[inline(always)]
pub fn mallocgc(size: usize, typ: usize, flag: u32) -> *mut u8 {
    if flag & !FLAG_NO_SCAN != 0 || size.wrapping_sub(TINY_SIZE) > MAX_SMALL_SIZE - TINY_SIZE || config::slow_alloc() {
        return mallocgc_slow(size, typ, flag);
    }
    let c = mcache::current();
    if c.is_null() {
        return mallocgc_slow(size, typ, flag);
    }
    // SAFETY: the thread's own cache (mcache module comment).
    let c = unsafe { &mut *c };
    if c.mallocing != 0 {
        // Re-entered: the slow path's `enter` throws.
        return mallocgc_slow(size, typ, flag);
    }
    let cl = sizeclass::size_to_class(size);
    // Inside the allocator before the list is read: a collection flushes every cache's lists,
    // and it waits for `leave`.
    set_mallocing(c);
    // SAFETY: cl < NUM_SIZE_CLASSES.
    let slot = unsafe { c.list.get_unchecked_mut(cl) } as *mut *mut MLink;
    // SAFETY: the cache's own list head.
    let p = unsafe { *slot };
    if p.is_null() {
        return mallocgc_slow_entered(size, typ, flag);
    }
    if flag == 0 && typ != 0 {
        // SAFETY: c.alloc[cl] is the in-use span the cache's list belongs to, owned by it.
        let span = unsafe { &**c.alloc.get_unchecked(cl) };
        if !typeinfo::is_primary(span, typ) {
            return mallocgc_slow_entered(size, typ, flag);
        }
    }
    // SAFETY: cl < NUM_SIZE_CLASSES (as for the list); unchecked, because a bounds check's
    // panic call would make the fast path save registers.
    let sz = unsafe { *sizeclass::TABLES.class_to_size.get_unchecked(cl) } as usize;
    // SAFETY: p is a free block of `sz` bytes owned by this cache (zeroing protocol above).
    unsafe {
        *slot = (*p).next;
        (*p).next = ptr::null_mut();
        if sz > 16 && *(p as *const usize).add(1) != 0 {
            zero_block(p as *mut usize, sz);
        }
    }
    c.local_cachealloc += sz as isize;
    let v = p as usize;
    if flag == 0 {
        if typ != 0 {
            bitmap::markscan_typed(v, true);
        } else {
            bitmap::markscan(v);
        }
    }
    clear_mallocing(c);
    // (Under GODEBUG=stress the fast path is off, so the heap goal is all it has to test.)
    if crate::tls::pending() != 0 || crate::collector_hooks::heap_goal_reached() {
        return after_fast_cold(v, size);
    }
    v as *mut u8
}

/// Sets `mallocing` (`enter` without its re-entry check, which the fast path makes itself).
#[inline(always)]
fn set_mallocing(c: &mut MCache) {
    // SAFETY: volatile so the suspend-signal handler on this thread sees the flag in memory.
    unsafe { ptr::write_volatile(&mut c.mallocing, 1) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Clears `mallocing` (`leave` without serving a pending suspend request: the fast path tests
/// for one together with the GC trigger).
#[inline(always)]
fn clear_mallocing(c: &mut MCache) {
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    // SAFETY: as in set_mallocing.
    unsafe { ptr::write_volatile(&mut c.mallocing, 0) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// The end of a fast allocation that has somewhere to go: a suspend request that arrived
/// while `mallocing` was set, or a collection due.
#[cold]
#[inline(never)]
fn after_fast_cold(v: usize, size: usize) -> *mut u8 {
    run_pending_suspend();
    crate::collector_hooks::after_alloc(size);
    v as *mut u8
}

/// The general path, from the start.
#[cold]
#[inline(never)]
fn mallocgc_slow(size: usize, typ: usize, flag: u32) -> *mut u8 {
    if size == 0 {
        return zerobase();
    }
    let c = mcache::get();
    enter(c);
    mallocgc_in(c, size, typ, flag)
}

/// The general path for a fast path that had already set `mallocing` (and changed nothing
/// else): the cache's list was empty or the type is not the span's primary one.
#[cold]
#[inline(never)]
fn mallocgc_slow_entered(size: usize, typ: usize, flag: u32) -> *mut u8 {
    let c = mcache::current();
    debug_assert!(!c.is_null());
    // SAFETY: the fast path found this thread's cache (not null) and set its mallocing flag.
    mallocgc_in(unsafe { &mut *c }, size, typ, flag)
}

/// The general path inside the allocator (`mallocing` set): every size, flag and debug mode.
#[inline(never)]
fn mallocgc_in(c: &mut MCache, size: usize, typ: usize, flag: u32) -> *mut u8 {
    let v: usize;
    let alloc_size: usize;
    let span: *mut crate::heap::span::MSpan;
    let slow = config::slow_alloc();
    if size <= MAX_SMALL_SIZE && !(slow && config::efence()) {
        if flag & (FLAG_NO_SCAN | FLAG_NO_GC) == FLAG_NO_SCAN && size < TINY_SIZE {
            let (p, fresh) = tiny_alloc(c, size);
            leave(c);
            // Only taking a fresh 16-byte block can trigger a collection (§6.3).
            if fresh && flag & FLAG_NO_INVOKE_GC == 0 {
                trace_alloc(p, TINY_SIZE, 0);
                crate::collector_hooks::after_alloc(TINY_SIZE);
            }
            return p as *mut u8;
        }
        let cl = sizeclass::size_to_class(size);
        let sz = sizeclass::class_size(cl);
        // SAFETY: size_to_class returns a class below NUM_SIZE_CLASSES.
        let slot = unsafe { c.list.get_unchecked_mut(cl) } as *mut *mut MLink;
        // SAFETY: slot points into our own cache.
        let mut p = unsafe { *slot };
        if p.is_null() {
            p = c.refill(cl);
        }
        // SAFETY: p is a free object of class cl owned by this cache; its first word links on.
        unsafe {
            *slot = (*p).next;
            if flag & FLAG_NO_ZERO == 0 {
                (*p).next = ptr::null_mut();
                if sz > 16 && *(p as *const usize).add(1) != 0 {
                    zero_block(p as *mut usize, sz);
                }
            }
        }
        c.local_cachealloc += sz as isize;
        v = p as usize;
        alloc_size = sz;
        // The private list holds objects of the cached span only (no span-map lookup).
        span = c.alloc[cl];
    } else {
        v = large_alloc(size, flag);
        alloc_size = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        span = arena::span_of(v);
    }
    if flag & FLAG_NO_GC != 0 {
        bitmap::marknogc(v);
        if typ != 0 && flag & FLAG_NO_SCAN == 0 {
            // SAFETY: as below; the block is invisible to the collector, the record is for
            // runtime_gettype only.
            let _ = unsafe { typeinfo::settype(&mut *span, v, typ) };
        }
    } else if flag & FLAG_NO_SCAN == 0 {
        if typ != 0 {
            // SAFETY: v was just allocated from `span`, which this thread owns (cache or large).
            let primary = unsafe { typeinfo::settype_primary(&mut *span, v, typ) };
            bitmap::markscan_typed(v, primary);
        } else {
            bitmap::markscan(v);
        }
    }
    leave(c);
    if slow {
        trace_alloc(v, alloc_size, typ);
    }
    if flag & FLAG_NO_INVOKE_GC == 0 {
        crate::collector_hooks::after_alloc(size);
    }
    v as *mut u8
}

/// GODEBUG=allocfreetrace: `tracealloc(p, size[, kind of T])` as gccgo's mprof prints it
/// (without the goroutine traceback, which belongs to the host runtime).
#[inline]
fn trace_alloc(v: usize, size: usize, typ: usize) {
    if config::DEBUG.allocfreetrace.load(core::sync::atomic::Ordering::Relaxed) == 0 {
        return;
    }
    if typ == 0 {
        crate::rprint!("tracealloc({:#x}, {:#x})\n", v, size);
        return;
    }
    let kind = match typ & 7 {
        0 => "single object",
        1 => "array",
        2 => "channel",
        _ => "invalid",
    };
    let t = (typ & !7) as *const crate::ffi::types::GoType;
    // SAFETY: typ names a type descriptor; its reflection string, when present, is a Go string.
    let name = unsafe {
        let r = (*t).__reflection;
        if r.is_null() || (*r).str.is_null() || (*r).len <= 0 {
            &[][..]
        } else {
            core::slice::from_raw_parts((*r).str, (*r).len as usize)
        }
    };
    if name.is_empty() {
        crate::rprint!("tracealloc({:#x}, {:#x}, {})\n", v, size, kind);
    } else {
        crate::rprint!(
            "tracealloc({:#x}, {:#x}, {} of {})\n",
            v,
            size,
            kind,
            core::str::from_utf8(name).unwrap_or("?")
        );
    }
}

/// The tiny allocator: returns the object and whether a fresh 16-byte block was taken.
#[inline(always)]
fn tiny_alloc(c: &mut MCache, size: usize) -> (usize, bool) {
    if c.tinysize > 0 {
        let mut off = c.tiny;
        let end = c.tiny + c.tinysize;
        if size & 7 == 0 {
            off = (off + 7) & !7;
        } else if size & 3 == 0 {
            off = (off + 3) & !3;
        } else if size & 1 == 0 {
            off = (off + 1) & !1;
        }
        if off + size <= end {
            c.tiny = off + size;
            c.tinysize = end - c.tiny;
            c.local_tinyallocs += 1;
            return (off, false);
        }
    }
    // A fresh 16-byte block.
    let cl = TINY_SIZE_CLASS;
    let mut p = c.list[cl];
    if p.is_null() {
        p = c.refill(cl);
    }
    // SAFETY: p is a free 16-byte object owned by this cache.
    unsafe {
        c.list[cl] = (*p).next;
        *(p as *mut [usize; 2]) = [0, 0];
    }
    c.local_cachealloc += TINY_SIZE as isize;
    let v = p as usize;
    if TINY_SIZE - size > c.tinysize {
        c.tiny = v + size;
        c.tinysize = TINY_SIZE - size;
    }
    (v, true)
}

#[cold]
fn large_alloc(size: usize, flag: u32) -> usize {
    if size.checked_add(PAGE_SIZE).is_none() {
        throw("out of memory");
    }
    let npages = size.div_ceil(PAGE_SIZE);
    let s = heap::alloc(npages, 0, true, flag & FLAG_NO_ZERO == 0);
    if s.is_null() {
        throw("out of memory");
    }
    // SAFETY: s is a fresh in-use large span that we own until v is returned.
    unsafe {
        (*s).limit = (*s).base() + size;
        let v = (*s).base();
        bitmap::markspan(v, 0, 0, true);
        v
    }
}

/// `__go_free(v)` (§6.6).
pub fn free(v: *mut u8) {
    if v.is_null() {
        return;
    }
    let c = mcache::get();
    enter(c);
    let s = heap::lookup_maybe(v as usize);
    if s.is_null() {
        crate::rprint!("free {:p}: not an allocated block\n", v);
        throw("free runtime_mlookup");
    }
    // SAFETY: s is an in-use span containing v.
    let sp = unsafe { &mut *s };
    let size = sp.elemsize;
    let cl = sp.sizeclass as usize;
    if size < TINY_SIZE {
        throw("freeing too small block");
    }
    let base = sp.obj_base(v as usize);
    if config::DEBUG.allocfreetrace.load(core::sync::atomic::Ordering::Relaxed) != 0 {
        crate::rprint!("tracefree({:#x}, {:#x})\n", base, size);
    }
    crate::collector_hooks::before_free(sp, base);
    typeinfo::cleartype(sp, base);
    if cl == 0 {
        sp.needzero = 1;
        bitmap::markfreed(base);
        bitmap::unmarkspan(base, PAGE_SIZE);
        c.local_nlargefree += 1;
        c.local_largefree += size as u64;
        if config::efence() {
            heap::account_faulted_large(sp);
            crate::os::sys_fault(base as *mut u8, size);
        } else {
            // SAFETY: the large span's only object is being freed.
            unsafe { heap::free(s, true) };
        }
    } else {
        let p = base as *mut usize;
        // SAFETY: base is an allocated object of `size` >= 16 bytes.
        unsafe {
            *p.add(1) = if size > 16 { FREE_POISON } else { 0 };
        }
        crate::collector_hooks::clobber(base, size);
        c.local_nsmallfree[cl] += 1;
        c.local_cachealloc -= size as isize;
        if c.alloc[cl] == s {
            bitmap::markfreed_owned(base);
            let l = base as *mut MLink;
            // SAFETY: the object is ours again; its first word becomes the list link.
            unsafe { (*l).next = c.list[cl] };
            c.list[cl] = l;
        } else {
            c.free_small(cl, base as *mut MLink);
        }
    }
    leave(c);
}

/// `runtime_mlookup` (§6.7): base and size of the block containing `v`.
pub fn mlookup(v: usize) -> Option<(usize, usize, *mut heap::span::MSpan)> {
    if let Some(c) = core::ptr::NonNull::new(mcache::current()) {
        // SAFETY: our own cache.
        unsafe { (*c.as_ptr()).local_nlookup += 1 };
    }
    let s = heap::lookup_maybe(v);
    if s.is_null() {
        return None;
    }
    // SAFETY: s is an in-use span containing v.
    let sp = unsafe { &*s };
    if sp.sizeclass == 0 {
        return Some((sp.base(), sp.npages << PAGE_SHIFT, s));
    }
    Some((sp.obj_base(v), sp.elemsize, s))
}

/// `runtime_gettype`: the type word recorded for the block containing `v`, or 0.
pub fn gettype(v: usize) -> usize {
    let s = heap::lookup_maybe(v);
    if s.is_null() {
        return 0;
    }
    // SAFETY: s is an in-use span.
    typeinfo::gettype_in(unsafe { &*s }, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_objects_come_back_zeroed_and_distinct() {
        let mut ptrs = [ptr::null_mut::<u8>(); 300];
        for (i, p) in ptrs.iter_mut().enumerate() {
            *p = mallocgc(48, 0, 0);
            // SAFETY: 48-byte block.
            unsafe {
                assert!((0..48).all(|k| *p.add(k) == 0));
                ptr::write_bytes(*p, i as u8 | 1, 48);
            }
        }
        for w in ptrs.windows(2) {
            assert_ne!(w[0], w[1]);
        }
        for p in ptrs {
            free(p);
        }
        for _ in 0..300 {
            let p = mallocgc(48, 0, 0);
            // SAFETY: 48-byte block.
            unsafe { assert!((0..48).all(|k| *p.add(k) == 0)) };
        }
    }

    #[test]
    fn central_refill_and_uncache_keep_counts() {
        // Allocate more than one span's worth of 4096-byte objects (2 per span), free them,
        // and check the spans went back: every object must be reusable and zeroed.
        let v: [usize; 40] = core::array::from_fn(|_| mallocgc(4096, 0, 0) as usize);
        for &p in &v {
            let (b, sz, s) = mlookup(p + 100).unwrap();
            assert_eq!((b, sz), (p, 4096));
            assert!(!s.is_null());
        }
        for &p in &v {
            free(p as *mut u8);
        }
        mcache::get().release_all();
        let w: [usize; 40] = core::array::from_fn(|_| mallocgc(4096, 0, 0) as usize);
        for &p in &w {
            // SAFETY: 4096-byte block.
            unsafe { assert_eq!(*(p as *const usize).add(1), 0) };
        }
    }

    #[test]
    fn span_map_finds_large_objects() {
        let p = mallocgc(100_000, 0, 0) as usize;
        let (b, sz, _) = mlookup(p + 99_999).unwrap();
        assert_eq!(b, p);
        assert_eq!(sz, 13 * 8192);
        assert!(mlookup(p + 100_000).is_none(), "past limit");
        free(p as *mut u8);
        assert!(mlookup(p).is_none());
    }
}
