//! The heap bitmap: 4 bits per heap word, kept just below `arena_start` and growing downward
//! (libgo-abi.md §11.2). This module is the only code that knows the encoding.
//!
//! For heap word `off = (addr - arena_start) / 8` the bitmap word is
//! `arena_start - (off / 16 + 1) * 8` and the word's bits sit at `shift = off % 16`:
//!
//! | bit (at shift 0)       | value        | meaning                                            |
//! |------------------------|--------------|----------------------------------------------------|
//! | allocated              | 1 << 0       | a block starts here and is visible to the GC      |
//! | scan                   | 1 << 16      | with allocated: the block may hold pointers        |
//! | boundary               | 1 << 16      | without allocated: start of a FlagNoGC block       |
//! | marked                 | 1 << 32      | with allocated: reached in the current mark       |
//! | typed (gogc's own)     | 1 << 48      | with scan: the block's type is its span's primary |
//! |                        |              | type (`MTypes::primary`); gccgo leaves bit 48 unused |
//!
//! All zero means "no block starts here". A bitmap word covers 128 bytes, and spans are 8 KiB
//! aligned, so each bitmap word belongs to exactly one span. Protection: the bits of a span are
//! written by whoever owns the span (the caching thread for alloc/own-span frees, the MCentral
//! lock holder for uncached spans, the sweeper that won the span's sweepgen CAS); the mark bit
//! is additionally set by parallel markers with the world stopped, so every write is an atomic
//! RMW (the common mark path is a single `fetch_or`), except `publish_all_marked`, a marker's
//! plain store of the mark plane of a word whose blocks are all marked, which no concurrent
//! mark can be lost to.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::fatal::throw;
use crate::heap::arena;

pub(crate) const BIT_ALLOCATED: usize = 1;
pub(crate) const BIT_SCAN: usize = 1 << 16;
pub(crate) const BIT_BOUNDARY: usize = 1 << 16;
pub(crate) const BIT_MARKED: usize = 1 << 32;
pub(crate) const BIT_TYPED: usize = 1 << 48;
pub(crate) const BIT_MASK: usize = BIT_ALLOCATED | BIT_SCAN | BIT_MARKED;
/// Every bit a block owns in its bitmap word.
const BIT_ALL: usize = BIT_MASK | BIT_TYPED;
pub(crate) const WORDS_PER_BITMAP_WORD: usize = 16;
/// The mark bits of all 16 heap words of one bitmap word.
pub(crate) const MARKED_BITS: usize = 0xffff << 32;

/// True when every block that starts in bitmap word value `w` is marked: its mark plane equals
/// its allocated plane (blocks start only at allocated bits, and only they are ever marked).
#[inline(always)]
pub fn all_marked(w: usize) -> bool {
    ((w >> 32) ^ w) & 0xffff == 0
}

/// Writes the mark plane of bitmap word value `w` (for which [`all_marked`] holds) into the
/// bitmap word at address `word` with a plain 16-bit store of that plane alone, during a
/// parallel mark: what a marker does instead of a `lock or` when it has seen every block of the
/// word marked. No concurrent mark bit can be lost: markers only ever set mark bits, and only
/// at allocated bits, which `w`'s mark plane already holds all of; the other planes are not
/// written. (The store is in assembly: to Rust's memory model a 2-byte access inside an
/// 8-byte atomic is undefined, while x86 defines it: each store and each locked RMW on the word
/// is atomic, and coherent with the others.)
///
/// # Safety
/// `word` is a bitmap word inside the bitmap mapping; the caller is a marker during a mark.
#[inline(always)]
pub unsafe fn publish_all_marked(word: usize, w: usize) {
    debug_assert!(all_marked(w));
    // SAFETY: bytes 4 and 5 of the bitmap word (its mark plane, bits 32..47) are mapped, as the
    // word is (caller's guarantee); a plain x86 store of them.
    unsafe {
        core::arch::asm!(
            "mov word ptr [{a} + 4], {v:x}",
            a = in(reg) word,
            v = in(reg) w >> 32,
            options(nostack, preserves_flags)
        );
    }
}

/// Bitmap word and shift for heap address `addr` (which must be inside the mapped arena).
#[inline(always)]
pub fn locate(addr: usize) -> (&'static AtomicUsize, usize) {
    let start = arena::start();
    let off = (addr - start) / 8;
    let w = start - (off / WORDS_PER_BITMAP_WORD + 1) * 8;
    // SAFETY: w lies in the bitmap mapping, which always covers [arena_start, arena_used).
    (unsafe { &*(w as *const AtomicUsize) }, off % WORDS_PER_BITMAP_WORD)
}

/// [`locate`] with the arena start folded into one constant, for loops over many addresses
/// (the marker's page scan): word `C - ((addr >> 4) & !7)`, shift `(addr >> 3) % 16`. Exact
/// because the arena start is page aligned, hence a multiple of the 128 bytes a bitmap word
/// covers.
#[derive(Clone, Copy)]
pub struct Locator {
    c: usize,
}

impl Locator {
    #[inline(always)]
    pub fn current() -> Locator {
        let s = arena::start();
        debug_assert!(s % 128 == 0);
        Locator { c: s - 8 + ((s >> 7) << 3) }
    }

    /// The index of `addr`'s bitmap word: the same for the 16 heap words it covers, and never
    /// 0 for an address inside the arena (which starts above the first 128 bytes).
    #[inline(always)]
    pub fn index(addr: usize) -> usize {
        addr >> 7
    }

    /// The address of the bitmap word with index `idx` ([`Locator::index`]).
    #[inline(always)]
    pub fn word_at(self, idx: usize) -> usize {
        self.c - (idx << 3)
    }

    /// `addr`'s shift inside its bitmap word.
    #[inline(always)]
    pub fn shift(addr: usize) -> usize {
        (addr >> 3) % WORDS_PER_BITMAP_WORD
    }

    #[inline(always)]
    pub fn locate(self, addr: usize) -> (&'static AtomicUsize, usize) {
        let w = self.c - ((addr >> 4) & !7);
        // SAFETY: as in `locate`: w is the same word, inside the bitmap mapping.
        (unsafe { &*(w as *const AtomicUsize) }, (addr >> 3) % WORDS_PER_BITMAP_WORD)
    }
}

/// The three bits (allocated, scan/boundary, marked) for `addr`, shifted down to shift 0.
#[inline(always)]
pub fn bits(addr: usize) -> usize {
    let (w, sh) = locate(addr);
    (w.load(Ordering::Relaxed) >> sh) & BIT_MASK
}

/// True if the block at `addr` is allocated and marked as having its span's primary type
/// (`BIT_TYPED`; see `typeinfo::settype_primary`).
#[inline]
pub fn has_primary_type(addr: usize) -> bool {
    let (w, sh) = locate(addr);
    let want = BIT_ALLOCATED | BIT_TYPED;
    (w.load(Ordering::Relaxed) >> sh) & want == want
}

/// `runtime_markscan`: the block at `v` holds pointers.
#[inline(always)]
pub fn markscan(v: usize) {
    let (w, sh) = locate(v);
    // The span's owner is the only writer while it allocates (see module comment).
    w.store(w.load(Ordering::Relaxed) | (BIT_SCAN << sh), Ordering::Relaxed);
}

/// `markscan` for a typed block: also sets or clears [`BIT_TYPED`] (setting both bits needs
/// no clearing first: one `or`, what the allocation fast path compiles to).
#[inline(always)]
pub fn markscan_typed(v: usize, primary: bool) {
    let (w, sh) = locate(v);
    let x = w.load(Ordering::Relaxed);
    let x = if primary { x | (BIT_TYPED << sh) } else { x & !(BIT_TYPED << sh) };
    w.store(x | (BIT_SCAN << sh), Ordering::Relaxed);
}

/// `runtime_marknogc`: clear allocated, set boundary (the block becomes invisible to the GC).
pub fn marknogc(v: usize) {
    let (w, sh) = locate(v);
    let x = w.load(Ordering::Relaxed);
    w.store((x & !(BIT_ALLOCATED << sh)) | (BIT_BOUNDARY << sh), Ordering::Relaxed);
}

/// `runtime_markfreed`: the bits for `v` become exactly "allocated".
pub fn markfreed(v: usize) {
    if v > arena::used() || v < arena::start() {
        throw("markfreed: bad pointer");
    }
    let (w, sh) = locate(v);
    let _ = w.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| {
        Some((x & !(BIT_ALL << sh)) | (BIT_ALLOCATED << sh))
    });
}

/// `markfreed` for a block of a span the caller owns exclusively (its cached span): a plain
/// read-modify-write, no atomic RMW needed (see the module comment on ownership).
#[inline(always)]
pub fn markfreed_owned(v: usize) {
    let (w, sh) = locate(v);
    let x = w.load(Ordering::Relaxed);
    w.store((x & !(BIT_ALL << sh)) | (BIT_ALLOCATED << sh), Ordering::Relaxed);
}

/// Clears scan, marked and typed for a freed block, keeping allocated (sweep of a small object).
#[inline]
pub fn clear_scan_and_mark(v: usize) {
    let (w, sh) = locate(v);
    w.fetch_and(!((BIT_SCAN | BIT_MARKED | BIT_TYPED) << sh), Ordering::Relaxed);
}

/// Plain (non-atomic) read-modify-write of `v`'s bits: `x' = (x & !clear) | set` for bits at
/// shift 0. Only for a span the caller owns exclusively with no marker running: the sweeper
/// that won the span's sweepgen CAS (see the module comment on ownership).
#[inline(always)]
pub fn update_owned(v: usize, clear: usize, set: usize) {
    let (w, sh) = locate(v);
    let x = w.load(Ordering::Relaxed);
    w.store((x & !(clear << sh)) | (set << sh), Ordering::Relaxed);
}

/// Atomically sets the mark bit; returns true if this call set it (the block was unmarked).
#[inline(always)]
pub fn try_mark(v: usize) -> bool {
    let (w, sh) = locate(v);
    let m = BIT_MARKED << sh;
    if w.load(Ordering::Relaxed) & m != 0 {
        return false;
    }
    w.fetch_or(m, Ordering::Relaxed) & m == 0
}

/// Sets the mark bit without caring who set it first.
#[inline]
pub fn set_mark(v: usize) {
    let (w, sh) = locate(v);
    w.fetch_or(BIT_MARKED << sh, Ordering::Relaxed);
}

/// Clears the mark bit.
#[inline]
pub fn clear_mark(v: usize) {
    let (w, sh) = locate(v);
    w.fetch_and(!(BIT_MARKED << sh), Ordering::Relaxed);
}

/// `runtime_markspan`: mark `n` blocks of `size` bytes from `v` as allocated (overwriting whole
/// bitmap words), plus a boundary just past the last block when `leftover`.
pub fn markspan(v: usize, size: usize, n: usize, leftover: bool) {
    if v + size * n > arena::used() || v < arena::start() {
        throw("markspan: bad pointer");
    }
    let total = n + leftover as usize;
    if total > 0 && size >= 8 && size % 8 == 0 && ((v - arena::start()) / 8) % WORDS_PER_BITMAP_WORD == 0 {
        // A span being carved (the common case): one store per bitmap word.
        let step = size / 8;
        // Blocks checked above to lie below arena_used; one past the last start, in words.
        for_each_start_word(v, (total - 1) * step + 1, step, |w, starts, _| {
            w.store(starts * BIT_ALLOCATED, Ordering::Relaxed);
        });
        return;
    }
    let mut cur: Option<(&AtomicUsize, usize)> = None;
    let mut p = v;
    for _ in 0..total {
        let (w, sh) = locate(p);
        match cur {
            Some((cw, ref mut x)) if core::ptr::eq(cw, w) => *x |= BIT_ALLOCATED << sh,
            _ => {
                if let Some((cw, x)) = cur {
                    cw.store(x, Ordering::Relaxed);
                }
                cur = Some((w, BIT_ALLOCATED << sh));
            }
        }
        p += size;
    }
    if let Some((cw, x)) = cur {
        cw.store(x, Ordering::Relaxed);
    }
}

/// `runtime_unmarkspan`: zero the bitmap words covering `[v, v+nbytes)`. `v` must be 16-word
/// aligned and `nbytes` a multiple of 128.
pub fn unmarkspan(v: usize, nbytes: usize) {
    if v + nbytes > arena::used() || v < arena::start() {
        throw("markspan: bad pointer");
    }
    let off = (v - arena::start()) / 8;
    if off % WORDS_PER_BITMAP_WORD != 0 {
        throw("markspan: unaligned pointer");
    }
    let words = nbytes / 8;
    if words % WORDS_PER_BITMAP_WORD != 0 {
        throw("unmarkspan: unaligned length");
    }
    let mut p = v;
    for _ in 0..words / WORDS_PER_BITMAP_WORD {
        locate(p).0.store(0, Ordering::Relaxed);
        p += 8 * WORDS_PER_BITMAP_WORD;
    }
}

/// Walks the bitmap words of the blocks that start every `step` heap words from `base`
/// (16-word aligned) up to `end` words from it, in address order: `f(word, starts, region)`
/// gets each bitmap word, the mask of block starts it covers (bit i: heap word i of the
/// word's 16) and the heap address of its first word. The caller guarantees that
/// `[base, base + 8*end)` lies below arena_used.
#[inline(always)]
fn for_each_start_word(base: usize, end: usize, step: usize, mut f: impl FnMut(&AtomicUsize, usize, usize)) {
    let first = locate(base).0 as *const AtomicUsize;
    if step != 0 && WORDS_PER_BITMAP_WORD % step == 0 {
        // Blocks of 8, 16, 32, 64 or 128 bytes: every bitmap word has the same starts, but
        // the last, which stops at `end`.
        let mut pat = 0usize;
        let mut i = 0;
        while i < WORDS_PER_BITMAP_WORD {
            pat |= 1 << i;
            i += step;
        }
        let words = end.div_ceil(WORDS_PER_BITMAP_WORD);
        for k in 0..words {
            let lo = k * WORDS_PER_BITMAP_WORD;
            let starts = if end - lo >= WORDS_PER_BITMAP_WORD { pat } else { pat & ((1 << (end - lo)) - 1) };
            // SAFETY: as below.
            f(unsafe { &*first.sub(k) }, starts, base + lo * 8);
        }
        return;
    }
    let mut next = 0; // word offset of the next block start
    let mut k = 0;
    while next < end {
        let lo = k * WORDS_PER_BITMAP_WORD;
        let hi = (lo + WORDS_PER_BITMAP_WORD).min(end);
        let mut starts = 0usize;
        while next < hi {
            starts |= 1 << (next - lo);
            next += step;
        }
        // SAFETY: the bitmap grows downward, one word per 16 heap words, and covers the arena
        // up to arena_used, which this region lies below (caller's guarantee).
        f(unsafe { &*first.sub(k) }, starts, base + lo * 8);
        k += 1;
    }
}

/// True if a block in the bitmap words covering `[v, v+nbytes)` (`v` 16-word aligned, `nbytes`
/// a multiple of 128) must outlive this sweep: one is marked, or one is a FlagNoGC block
/// (boundary without allocated), which marking never sees and sweeping never frees. A span
/// for which this is false has no block to keep, and may go back to the page heap whole.
pub fn any_kept(v: usize, nbytes: usize) -> bool {
    const PLANE: usize = (1 << WORDS_PER_BITMAP_WORD) - 1;
    let first = locate(v).0 as *const AtomicUsize;
    let mut marked = 0;
    let mut nogc = 0;
    for k in 0..nbytes / (8 * WORDS_PER_BITMAP_WORD) {
        // SAFETY: the bitmap grows downward, one word per 16 heap words, and covers the
        // arena up to arena_used, which [v, v+nbytes) lies below.
        let x = unsafe { &*first.sub(k) }.load(Ordering::Relaxed);
        marked |= x;
        // The boundary plane without the allocated plane: FlagNoGC block starts.
        nogc |= (x / BIT_BOUNDARY) & !(x / BIT_ALLOCATED);
    }
    marked & (PLANE * BIT_MARKED) != 0 || nogc & PLANE != 0
}

/// The sweep of a small span, one bitmap word (16 heap words) at a time: for the `size`-byte
/// blocks that start in `[base, limit)` (`base` 16-word aligned), every mark bit is cleared,
/// and each allocated, unmarked block loses its scan and typed bits (keeping "allocated", as
/// `markfreed` leaves it) and is passed to `dead`, in address order. Returns how many died.
/// Only block starts are considered (computed from `size`, so a stray bit elsewhere, like the
/// boundary markspan leaves just past the last block, is never taken for a block). Only for a
/// span the caller owns exclusively with no marker running (plain stores, as
/// [`update_owned`]).
#[inline]
pub fn sweep_owned(base: usize, limit: usize, size: usize, mut dead: impl FnMut(usize)) -> u32 {
    // A bitmap word is four 16-bit planes, one per bit kind: bit i of `PLANE * BIT_X` is heap
    // word i's X bit, so `(x / BIT_X) & PLANE` reads a plane and `m * BIT_X` places mask m in it.
    const PLANE: usize = (1 << WORDS_PER_BITMAP_WORD) - 1;
    let mut ndead = 0;
    for_each_start_word(base, (limit - base) / 8, size / 8, |w, starts, region| {
        let x = w.load(Ordering::Relaxed);
        let died = (x / BIT_ALLOCATED) & starts & !((x / BIT_MARKED) & PLANE);
        let new = x & !((PLANE * BIT_MARKED) | (died * BIT_SCAN) | (died * BIT_TYPED));
        if new != x {
            w.store(new, Ordering::Relaxed);
        }
        let mut d = died;
        while d != 0 {
            dead(region + d.trailing_zeros() as usize * 8);
            d &= d - 1;
            ndead += 1;
        }
    });
    ndead
}

/// `runtime_checkfreed`: a no-op, as `runtime_checking` is never set in gccgo.
pub fn checkfreed(_v: usize, _n: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh large block for a test that rewrites its bitmap words: allocated without
    /// triggering a collection, then swept if a concurrent collection (another test's) marked
    /// it meanwhile. The test body runs under the GC lock, so no collection marks or sweeps
    /// the block while its bits are rewritten.
    fn with_private_block(npages: usize, body: impl FnOnce(usize)) {
        crate::heap::ensure_init();
        let flags = crate::config::FLAG_NO_SCAN | crate::config::FLAG_NO_INVOKE_GC;
        let v = crate::alloc::malloc::mallocgc(npages * 8192, 0, flags) as usize;
        crate::gc::with_gc_lock(|| {
            // SAFETY: span records are never unmapped; v keeps its span in use.
            crate::alloc::sweep::ensure_swept(unsafe { &*arena::span_of(v) });
            body(v);
        });
        core::hint::black_box(v);
    }

    /// `all_marked` compares the mark plane with the allocated plane and nothing else;
    /// `publish_all_marked` writes the whole mark plane (both of its bytes) and nothing else.
    #[test]
    fn publish_all_marked_writes_the_mark_plane_alone() {
        let alloc = BIT_ALLOCATED | BIT_ALLOCATED << 4 | BIT_ALLOCATED << 9;
        let marks = alloc * (BIT_MARKED / BIT_ALLOCATED);
        let others = BIT_SCAN | BIT_SCAN << 9 | BIT_TYPED << 4 | BIT_BOUNDARY << 13;
        assert!(all_marked(alloc | marks | others));
        assert!(all_marked(0));
        assert!(!all_marked(alloc | (marks & !(BIT_MARKED << 4)) | others), "one block unmarked");
        assert!(!all_marked(alloc | marks | BIT_MARKED << 2), "a mark without a block start");
        assert!(!all_marked(alloc | BIT_ALLOCATED << 15 | marks), "last word's block unmarked");

        // The word in memory has other planes than the caller's value: only its mark plane
        // changes.
        let w = AtomicUsize::new(alloc | others | BIT_MARKED);
        // SAFETY: a word of this test's own (the store writes its bytes 4 and 5).
        unsafe { publish_all_marked(w.as_ptr() as usize, alloc | marks) };
        assert_eq!(w.load(Ordering::Relaxed), alloc | others | marks);
    }

    /// `any_kept`: a span with no mark bit may still hold a FlagNoGC block, which keeps it;
    /// free-list blocks (allocated, unmarked) and the leftover boundary do not.
    #[test]
    fn any_kept_sees_marks_and_nogc_blocks() {
        with_private_block(2, |v| {
            let span = 2 * 8192;
            unmarkspan(v, span);
            markspan(v, 48, 300, true);
            markscan(v + 48);
            assert!(!any_kept(v, span), "allocated, scan and leftover bits keep nothing");
            marknogc(v + 48 * 299);
            assert!(any_kept(v, span), "a FlagNoGC block in the span's last word");
            assert!(!any_kept(v, 8192), "the FlagNoGC block lies in the second page");
            markfreed(v + 48 * 299);
            assert!(!any_kept(v, span));
            set_mark(v + 96);
            assert!(any_kept(v, span), "a marked block");
            unmarkspan(v, span);
            markspan(v, 0, 0, true);
        });
    }

    /// Encoding round trips on real arena memory (the arena is initialised on demand).
    #[test]
    fn codec_round_trips() {
        // A fresh large object, so no other test shares its bitmap words.
        with_private_block(3, |v| {
            assert_eq!(bits(v), BIT_ALLOCATED);
            unmarkspan(v, 3 * 8192);
            assert_eq!(bits(v), 0);
            markspan(v, 48, 10, true);
            for i in 0..10 {
                assert_eq!(bits(v + 48 * i), BIT_ALLOCATED, "block {i}");
                assert_eq!(bits(v + 48 * i + 8), 0);
            }
            assert_eq!(bits(v + 480), BIT_ALLOCATED, "leftover boundary");
            markscan(v + 48);
            assert_eq!(bits(v + 48), BIT_ALLOCATED | BIT_SCAN);
            assert!(try_mark(v + 48));
            assert!(!try_mark(v + 48));
            assert_eq!(bits(v + 48), BIT_MASK);
            assert_eq!(bits(v), BIT_ALLOCATED, "neighbour untouched");
            clear_scan_and_mark(v + 48);
            assert_eq!(bits(v + 48), BIT_ALLOCATED);
            markscan(v + 96);
            set_mark(v + 96);
            markfreed(v + 96);
            assert_eq!(bits(v + 96), BIT_ALLOCATED);
            marknogc(v + 144);
            assert_eq!(bits(v + 144), BIT_BOUNDARY);
            unmarkspan(v, 3 * 8192);
            markspan(v, 0, 0, true);
            assert_eq!(bits(v), BIT_ALLOCATED);
        });
    }

    /// markspan against a model: after carving `n` blocks of `size` bytes (plus the leftover
    /// boundary), exactly the block starts carry "allocated", for every size class shape
    /// (sizes that divide 128 bytes, that straddle bitmap words, and bigger than one word's
    /// 128 bytes), and for an unaligned start (the per-block path).
    #[test]
    fn markspan_sets_exactly_the_block_starts() {
        with_private_block(3, |v| {
            let span = 3 * 8192;
            for &(off, size) in &[(0, 8), (0, 16), (0, 48), (0, 112), (0, 144), (0, 1152), (0, 8192), (8, 48)] {
                for leftover in [false, true] {
                    let n = (span - off) / size - leftover as usize;
                    unmarkspan(v, span);
                    markspan(v + off, size, n, leftover);
                    let total = n + leftover as usize;
                    for w in (v..v + span).step_by(8) {
                        let start = w >= v + off && (w - v - off) % size == 0 && (w - v - off) / size < total;
                        let want = if start { BIT_ALLOCATED } else { 0 };
                        assert_eq!(bits(w), want, "size {size} at +{off}, leftover {leftover}: word {:#x}", w - v);
                    }
                }
            }
            // Same-starts-in-every-word sizes whose blocks end inside a bitmap word.
            for &(size, n) in &[(8usize, 3usize), (16, 5), (32, 37), (64, 7), (128, 9)] {
                for leftover in [false, true] {
                    unmarkspan(v, span);
                    markspan(v, size, n, leftover);
                    let total = n + leftover as usize;
                    for w in (v..v + 2 * 8192).step_by(8) {
                        let start = (w - v) % size == 0 && (w - v) / size < total;
                        let want = if start { BIT_ALLOCATED } else { 0 };
                        assert_eq!(bits(w), want, "{n} blocks of {size}, leftover {leftover}: word {:#x}", w - v);
                    }
                }
            }
            unmarkspan(v, span);
            markspan(v, 0, 0, true);
        });
    }

    fn typed_bit(v: usize) -> bool {
        let (w, sh) = locate(v);
        (w.load(Ordering::Relaxed) >> sh) & BIT_TYPED != 0
    }

    /// BIT_TYPED is set only by markscan_typed(.., true), never disturbs the other bits or the
    /// neighbours, and every way a block is freed or re-initialised clears it.
    #[test]
    fn locator_agrees_with_locate() {
        with_private_block(2, |v| {
            let l = Locator::current();
            for a in (v..v + 2 * 8192).step_by(8) {
                let (w1, s1) = locate(a);
                let (w2, s2) = l.locate(a);
                assert_eq!((w1 as *const AtomicUsize, s1), (w2 as *const AtomicUsize, s2), "address {a:#x}");
                // The split form the marker's page walk uses: index, word address, shift.
                let i = Locator::index(a);
                assert_ne!(i, 0);
                assert_eq!(l.word_at(i), w1 as *const AtomicUsize as usize, "address {a:#x}");
                assert_eq!(Locator::shift(a), s1, "address {a:#x}");
                assert_eq!(Locator::index(a + 8) == i, a % 128 != 120, "address {a:#x}: one index per 128 bytes");
            }
        });
    }

    #[test]
    fn typed_bit_lifecycle() {
        with_private_block(2, |v| {
            unmarkspan(v, 2 * 8192);
            markspan(v, 32, 8, false);
            markscan_typed(v, true);
            markscan_typed(v + 32, false);
            assert!(typed_bit(v) && !typed_bit(v + 32));
            assert_eq!(
                bits(v),
                BIT_ALLOCATED | BIT_SCAN,
                "typed is outside BIT_MASK"
            );
            assert_eq!(bits(v + 64), BIT_ALLOCATED, "neighbour untouched");
            // Re-typing a block with another type clears the bit.
            markscan_typed(v, false);
            assert!(!typed_bit(v));
            markscan_typed(v, true);
            assert!(try_mark(v));
            assert!(typed_bit(v));
            // Sweep of a dead small object.
            clear_scan_and_mark(v);
            assert!(!typed_bit(v));
            assert_eq!(bits(v), BIT_ALLOCATED);
            // Explicit frees.
            markscan_typed(v + 64, true);
            markfreed(v + 64);
            assert!(!typed_bit(v + 64));
            markscan_typed(v + 96, true);
            markfreed_owned(v + 96);
            assert!(!typed_bit(v + 96));
            // The span going back to the page heap, and a fresh layout.
            markscan_typed(v + 128, true);
            unmarkspan(v, 2 * 8192);
            assert!(!typed_bit(v + 128));
            markscan_typed(v + 160, true);
            markspan(v, 32, 8, false);
            assert!(!typed_bit(v + 160));
        });
    }

    /// The word-at-a-time sweep: dead blocks (allocated, unmarked) are reported in address order
    /// and lose scan/typed; live ones keep scan/typed and lose the mark; FlagNoGC blocks and the
    /// leftover boundary past the last block are never reported; every mark bit is cleared.
    #[test]
    fn sweep_by_words() {
        with_private_block(2, |v| {
            // 48-byte blocks straddle bitmap words (16 words = 128 bytes); 300 blocks end
            // mid-word at 14400 bytes, with a leftover boundary bit after them. 32-byte
            // blocks take the same-starts-in-every-word path; 37 of them end mid-word too.
            for &(size, n) in &[(48usize, 300usize), (32, 37)] {
                unmarkspan(v, 2 * 8192);
                markspan(v, size, n, true);
                let mut expect = Vec::new();
                for i in 0..n {
                    let b = v + i * size;
                    match i % 5 {
                        0 => {
                            markscan_typed(b, true);
                            set_mark(b); // live, typed
                        }
                        1 => {
                            markscan(b);
                            expect.push(b); // dead, scan
                        }
                        2 => {
                            markscan_typed(b, true);
                            expect.push(b); // dead, typed
                        }
                        3 => marknogc(b), // invisible: never dies
                        _ => {
                            set_mark(b); // live, noscan
                        }
                    }
                }
                let mut got = Vec::new();
                let nd = sweep_owned(v, v + n * size, size, |b| got.push(b));
                assert_eq!(got, expect);
                assert_eq!(nd as usize, expect.len());
                for i in 0..n {
                    let b = v + i * size;
                    let want = match i % 5 {
                        0 => BIT_ALLOCATED | BIT_SCAN,
                        1 | 2 | 4 => BIT_ALLOCATED,
                        _ => BIT_BOUNDARY,
                    };
                    assert_eq!(bits(b), want, "block {i}");
                    assert_eq!(typed_bit(b), i % 5 == 0, "typed bit of block {i}");
                }
                assert_eq!(
                    bits(v + n * size),
                    BIT_ALLOCATED,
                    "leftover boundary untouched"
                );
            }
            unmarkspan(v, 2 * 8192);
        });
    }
}
