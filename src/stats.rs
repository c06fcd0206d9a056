//! MStats storage and accounting helpers (libgo-abi.md §11.9, §13.7).
//!
//! The exported `runtime.memStats` object lives in the FFI module; this module reaches it
//! through [`mstats`]. Protection of its fields:
//! * `*_sys`, `heap_released` stat counters passed to the OS layer: atomic adds.
//! * `heap_alloc`, `heap_inuse`, `heap_idle`, `heap_objects`: the heap lock.
//! * `next_gc`: atomic (the sweeper lowers it concurrently, mallocgc reads it).
//! * everything else: the world stopped (collection, `updatememstats`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::ffi::types::MStats;

#[derive(Clone, Copy)]
pub enum Field {
    HeapSys,
    HeapReleased,
    StacksSys,
    MSpanSys,
    MCacheSys,
    BuckhashSys,
    GcSys,
    OtherSys,
    NextGc,
    HeapAlloc,
}

/// The process-wide MStats.
#[inline(always)]
pub fn mstats() -> *mut MStats {
    crate::ffi::memstats_ptr()
}

/// Address of one u64 counter inside MStats.
pub fn field(f: Field) -> *mut u64 {
    let m = mstats();
    // SAFETY: m points to the static MStats; addr_of_mut! creates no reference.
    unsafe {
        match f {
            Field::HeapSys => core::ptr::addr_of_mut!((*m).heap_sys),
            Field::HeapReleased => core::ptr::addr_of_mut!((*m).heap_released),
            Field::StacksSys => core::ptr::addr_of_mut!((*m).stacks_sys),
            Field::MSpanSys => core::ptr::addr_of_mut!((*m).mspan_sys),
            Field::MCacheSys => core::ptr::addr_of_mut!((*m).mcache_sys),
            Field::BuckhashSys => core::ptr::addr_of_mut!((*m).buckhash_sys),
            Field::GcSys => core::ptr::addr_of_mut!((*m).gc_sys),
            Field::OtherSys => core::ptr::addr_of_mut!((*m).other_sys),
            Field::NextGc => core::ptr::addr_of_mut!((*m).next_gc),
            Field::HeapAlloc => core::ptr::addr_of_mut!((*m).heap_alloc),
        }
    }
}

/// Atomic view of a counter.
#[inline]
pub fn atomic(f: Field) -> &'static AtomicU64 {
    // SAFETY: the field is an aligned u64 in a static that lives forever.
    unsafe { AtomicU64::from_ptr(field(f)) }
}

#[inline]
pub fn heap_alloc() -> u64 {
    atomic(Field::HeapAlloc).load(Ordering::Relaxed)
}

#[inline]
pub fn next_gc() -> u64 {
    atomic(Field::NextGc).load(Ordering::Relaxed)
}

/// `runtime_updatememstats` (§13.7): recompute the derived statistics.
///
/// With `world_stopped`, every thread cache is flushed and folded first and the result is
/// exact (the collector and ReadMemStats call it that way). Without it, only the calling
/// thread's cache is flushed; other threads' cached spans count as allocated.
pub fn update(world_stopped: bool) {
    use crate::alloc::mcache;
    use crate::config::{NUM_SIZE_CLASSES, PAGE_SHIFT};
    use crate::heap::{span::MSPAN_IN_USE, HEAP};

    crate::heap::ensure_init();
    if world_stopped {
        mcache::for_each_cache(|c| c.release_all());
    } else {
        mcache::get().release_all();
    }
    HEAP.with(|h| {
        crate::alloc::sweep::fold_stats(h);
        if world_stopped {
            mcache::for_each_cache(|c| c.fold_stats(h));
        } else {
            mcache::get().fold_stats(h);
        }
        // SAFETY: the static MStats; its derived fields are written under the heap lock.
        let m = unsafe { &mut *mstats() };
        m.mspan_inuse = h.spanalloc.inuse as u64;
        m.mcache_inuse = h.cachealloc.inuse as u64;
        m.stacks_inuse = 0;
        m.alloc = 0;
        m.nmalloc = 0;
        for b in m.by_size.iter_mut() {
            b.nmalloc = 0;
            b.nfree = 0;
        }
        for i in 0..h.nspan {
            // SAFETY: allspans holds nspan live records.
            let s = unsafe { &**h.allspans.add(i) };
            if s.state != MSPAN_IN_USE {
                continue;
            }
            if s.sizeclass == 0 {
                if s.limit > s.base() {
                    m.nmalloc += 1;
                    m.alloc += (s.npages << PAGE_SHIFT) as u64;
                }
            } else {
                let cl = s.sizeclass as usize;
                m.nmalloc += s.ref_ as u64;
                m.by_size[cl].nmalloc += s.ref_ as u64;
                m.alloc += s.ref_ as u64 * s.elemsize as u64;
            }
        }
        m.nfree = h.nlargefree;
        let mut smallfree = 0u64;
        for cl in 0..NUM_SIZE_CLASSES {
            m.nfree += h.nsmallfree[cl];
            m.by_size[cl].nfree = h.nsmallfree[cl];
            m.by_size[cl].nmalloc += h.nsmallfree[cl];
            smallfree += h.nsmallfree[cl] * crate::sizeclass::class_size(cl) as u64;
        }
        m.nmalloc += m.nfree;
        m.total_alloc = m.alloc + h.largefree + smallfree;
        if world_stopped {
            atomic(Field::HeapAlloc).store(m.alloc, Ordering::Relaxed);
        }
        m.heap_objects = m.nmalloc - m.nfree;
        m.sys = m.heap_sys
            + m.stacks_sys
            + m.mspan_sys
            + m.mcache_sys
            + m.buckhash_sys
            + m.gc_sys
            + m.other_sys;
    });
}

/// Fills the constant parts of MStats at heap initialisation.
pub fn init_sizes() {
    // SAFETY: called once during initialisation, before other threads see the heap.
    let m = unsafe { &mut *mstats() };
    for cl in 0..crate::config::NUM_SIZE_CLASSES {
        m.by_size[cl].size = crate::sizeclass::class_size(cl) as u32;
    }
}
