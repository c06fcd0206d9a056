//! The arena: one address-space reservation laid out as `[spans map][bitmap][arena]`
//! (libgo-abi.md §11.1), committed piecemeal as the heap grows.
//!
//! * `spans map`: one span pointer per arena page; entry `i` covers page `arena_start + i*8K`.
//! * `bitmap`: 4 bits per arena word, ending exactly at `arena_start` (see `bitmap.rs`).
//! * `arena`: heap pages, handed out in increasing address order from `arena_used`.
//!
//! We try gccgo's customary base `0xc000000000` first (debugging folklore: heap pointers look
//! like `0xc2...`), then let the kernel choose, and shrink the arena (128 GiB down to 1 GiB)
//! if the address space is tight (valgrind, `ulimit -v`).
//!
//! Protection: `START`, `END`, `SPANS` are written once by `reserve` before any allocation and
//! only read afterwards. `USED` grows under the heap lock and is published with Release after
//! the bitmap and spans map cover the new range, so lock-free readers (span lookup, the
//! collector's pointer filter) that load it with Acquire never see unmapped metadata.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::config::{MAX_MEM, PAGE_SHIFT, PAGE_SIZE};
use crate::fatal::throw;
use crate::heap::span::MSpan;
use crate::os;
use crate::stats::{self, Field};

static START: AtomicUsize = AtomicUsize::new(0);
static USED: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);
static SPANS: AtomicUsize = AtomicUsize::new(0);
static BITMAP_MAPPED: AtomicUsize = AtomicUsize::new(0);
static SPANS_MAPPED: AtomicUsize = AtomicUsize::new(0);

#[inline(always)]
pub fn start() -> usize {
    START.load(Ordering::Relaxed)
}
#[inline(always)]
pub fn used() -> usize {
    USED.load(Ordering::Acquire)
}
#[inline(always)]
pub fn end() -> usize {
    END.load(Ordering::Relaxed)
}

/// True if `addr` lies in the part of the arena handed out so far.
#[inline(always)]
pub fn contains(addr: usize) -> bool {
    addr >= start() && addr < used()
}

#[inline(always)]
fn slot(addr: usize) -> &'static AtomicPtr<MSpan> {
    let i = (addr - start()) >> PAGE_SHIFT;
    // SAFETY: callers pass addresses below arena_used, whose spans-map entries are mapped.
    unsafe { &*((SPANS.load(Ordering::Relaxed) + i * 8) as *const AtomicPtr<MSpan>) }
}

/// The span record for the page holding `addr`, or null outside `[arena_start, arena_used)`.
/// Unchecked beyond that: the span may be free or the entry stale for interior free pages.
#[inline(always)]
pub fn span_of(addr: usize) -> *mut MSpan {
    if !contains(addr) {
        return core::ptr::null_mut();
    }
    slot(addr).load(Ordering::Relaxed)
}

/// [`span_of`] for an address the caller already knows to lie in `[arena_start, arena_used)`
/// (the marker's candidates, checked against its copy of those bounds).
#[inline(always)]
pub fn span_of_unchecked(addr: usize) -> *mut MSpan {
    debug_assert!(contains(addr));
    slot(addr).load(Ordering::Relaxed)
}

/// Sets the spans-map entry for one page. Heap lock held.
#[inline]
pub fn set_span(page_addr: usize, s: *mut MSpan) {
    slot(page_addr).store(s, Ordering::Relaxed);
}

/// Reserves the address space. Called once, under the heap's init lock.
pub fn reserve() {
    let mut arena = MAX_MEM;
    loop {
        let spans_bytes = arena / PAGE_SIZE * 8;
        let bitmap_bytes = arena / 16;
        let total = spans_bytes + bitmap_bytes + arena + PAGE_SIZE;
        let hints: [usize; 3] = [0x00c0_0000_0000, (1 << 40) | 0x00c0_0000_0000, 0];
        for &hint in hints.iter() {
            let p = os::sys_reserve(hint, total);
            if p.is_null() {
                continue;
            }
            if hint != 0 && p as usize != hint {
                // Landed elsewhere; keep it only if no hint works (the 0 hint below).
                // SAFETY: unmapping the reservation we just made.
                unsafe { libc::munmap(p.cast(), total) };
                continue;
            }
            let base = (p as usize + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
            let arena_start = base + spans_bytes + bitmap_bytes;
            if arena_start & (PAGE_SIZE - 1) != 0 {
                throw("misrounded allocation in mallocinit");
            }
            SPANS.store(base, Ordering::Relaxed);
            START.store(arena_start, Ordering::Relaxed);
            END.store(arena_start + arena, Ordering::Relaxed);
            USED.store(arena_start, Ordering::Release);
            return;
        }
        arena /= 2;
        if arena < (1 << 30) {
            throw("runtime: cannot reserve arena virtual address space");
        }
    }
}

fn round_up(n: usize, a: usize) -> usize {
    (n + a - 1) & !(a - 1)
}

/// `MHeap_SysAlloc`: take `n` more bytes (a page multiple) from the reservation, committing the
/// arena, bitmap and spans-map pages that cover them. Returns null when the reservation is
/// exhausted. Heap lock held.
pub fn grow(n: usize) -> usize {
    let used = USED.load(Ordering::Relaxed);
    if n > end() - used {
        return 0;
    }
    let new_used = used + n;
    os::sys_map(used as *mut u8, n, stats::field(Field::HeapSys));
    let ps = os::os_page_size();

    // Bitmap: grows downward from arena_start.
    let need = round_up(round_up((new_used - start()) / 16, 8192), ps);
    let have = BITMAP_MAPPED.load(Ordering::Relaxed);
    if need > have {
        os::sys_map((start() - need) as *mut u8, need - have, stats::field(Field::GcSys));
        BITMAP_MAPPED.store(need, Ordering::Relaxed);
    }
    // Spans map.
    let need = round_up((new_used - start()) / PAGE_SIZE * 8, ps);
    let have = SPANS_MAPPED.load(Ordering::Relaxed);
    if need > have {
        let base = SPANS.load(Ordering::Relaxed);
        os::sys_map((base + have) as *mut u8, need - have, stats::field(Field::OtherSys));
        SPANS_MAPPED.store(need, Ordering::Relaxed);
    }
    USED.store(new_used, Ordering::Release);
    used
}
