//! Compile-time constants (x86-64 values of gccgo's malloc.h, libgo-abi.md §11.1) and the
//! run-time knobs read once from the environment (GODEBUG, §13.4).
//!
//! GODEBUG is parsed at initialisation into plain atomics; readers use Relaxed loads because the
//! values are written once before any other thread can observe the heap (init is serialised by
//! the heap's init lock) and only ever read afterwards.

#![allow(non_upper_case_globals)]

use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

pub(crate) const PAGE_SHIFT: usize = 13;
pub(crate) const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
pub(crate) const NUM_SIZE_CLASSES: usize = 67;
pub(crate) const MAX_SMALL_SIZE: usize = 32 << 10;
pub(crate) const TINY_SIZE: usize = 16;
pub(crate) const TINY_SIZE_CLASS: usize = 2;
pub(crate) const FIX_ALLOC_CHUNK: usize = 16 << 10;
pub(crate) const MAX_MHEAP_LIST: usize = 1 << (20 - PAGE_SHIFT);
pub(crate) const HEAP_ALLOC_CHUNK: usize = 1 << 20;
/// Largest arena we reserve (gccgo's MaxMem, 128 GiB).
pub(crate) const MAX_MEM: usize = 1 << 37;
pub(crate) const PERSISTENT_ALLOC_CHUNK: usize = 256 << 10;
pub(crate) const PERSISTENT_ALLOC_MAX_BLOCK: usize = 64 << 10;

// Allocation flags (§6.1).
pub(crate) const FLAG_NO_SCAN: u32 = 1 << 0;
pub(crate) const FLAG_NO_PROFILING: u32 = 1 << 1;
pub(crate) const FLAG_NO_GC: u32 = 1 << 2;
pub(crate) const FLAG_NO_ZERO: u32 = 1 << 3;
pub(crate) const FLAG_NO_INVOKE_GC: u32 = 1 << 4;

// Type-word kinds (§6.2).
pub(crate) const TYPEINFO_SINGLE_OBJECT: usize = 0;
pub(crate) const TYPEINFO_ARRAY: usize = 1;
pub(crate) const TYPEINFO_CHAN: usize = 2;

/// Debug knobs from GODEBUG. gccgo's names plus our own (README documents each).
pub struct DebugVars {
    pub gctrace: AtomicI64,
    pub efence: AtomicI64,
    pub allocfreetrace: AtomicI64,
    /// Ours: re-mark with the world stopped into a shadow bitmap and throw on a missed object.
    pub checkmark: AtomicI64,
    /// Ours: fill freed objects with a pattern that cannot look like a heap pointer.
    pub clobberfree: AtomicI64,
    /// Ours: collect every N bytes allocated (0 = off).
    pub stress: AtomicI64,
    /// Ours: number of mark workers (0 = automatic).
    pub gcprocs: AtomicI64,
}

pub static DEBUG: DebugVars = DebugVars {
    gctrace: AtomicI64::new(0),
    efence: AtomicI64::new(0),
    allocfreetrace: AtomicI64::new(0),
    checkmark: AtomicI64::new(0),
    clobberfree: AtomicI64::new(0),
    stress: AtomicI64::new(0),
    gcprocs: AtomicI64::new(0),
};

/// Non-zero when any knob that changes the allocation path is on (efence, allocfreetrace,
/// stress): the fast path tests this one word instead of each knob.
pub static SLOW_ALLOC: AtomicU32 = AtomicU32::new(0);

#[inline(always)]
pub fn slow_alloc() -> bool {
    SLOW_ALLOC.load(Ordering::Relaxed) != 0
}

/// Set once GODEBUG has been read.
static PARSED: AtomicU32 = AtomicU32::new(0);

#[inline]
pub fn efence() -> bool {
    DEBUG.efence.load(Ordering::Relaxed) != 0
}
#[inline]
pub fn gctrace() -> i64 {
    DEBUG.gctrace.load(Ordering::Relaxed)
}

/// Reads an environment variable without allocating; returns the bytes of its value.
pub fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: name is NUL-terminated; getenv returns a pointer into the environment block,
    // which lives for the rest of the process unless someone calls setenv on the same name.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: p is a NUL-terminated C string from the environment.
    Some(unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes())
}

/// gccgo's `runtime_atoi`: leading decimal digits only, no sign; anything else stops the parse.
pub fn atoi(s: &[u8]) -> i64 {
    let mut n: i64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    n
}

/// Number of GODEBUG knobs; [`GODEBUG_NAMES`] gives their order in a values array.
pub(crate) const GODEBUG_KNOBS: usize = 7;
/// The knobs in the order of [`parse_godebug_values`]'s array (`gccheckmark` is an alias of
/// `checkmark`).
pub(crate) const GODEBUG_NAMES: [&str; GODEBUG_KNOBS] =
    ["gctrace", "efence", "allocfreetrace", "checkmark", "clobberfree", "stress", "gcprocs"];

fn godebug_slots() -> [&'static AtomicI64; GODEBUG_KNOBS] {
    [
        &DEBUG.gctrace,
        &DEBUG.efence,
        &DEBUG.allocfreetrace,
        &DEBUG.checkmark,
        &DEBUG.clobberfree,
        &DEBUG.stress,
        &DEBUG.gcprocs,
    ]
}

/// Parses a GODEBUG string (`name=int,name=int`) into `vals` (indexed as [`GODEBUG_NAMES`]):
/// each item is split at its first `=`, the value is read with [`atoi`], a later item wins,
/// items without `=` and unknown names are ignored, as in gccgo. Pure: reads no environment.
pub fn parse_godebug_values(s: &[u8], vals: &mut [i64; GODEBUG_KNOBS]) {
    for item in s.split(|&c| c == b',') {
        let Some(eq) = item.iter().position(|&c| c == b'=') else { continue };
        let (k, v) = (&item[..eq], &item[eq + 1..]);
        let k = if k == b"gccheckmark" { b"checkmark".as_slice() } else { k };
        if let Some(i) = GODEBUG_NAMES.iter().position(|n| n.as_bytes() == k) {
            vals[i] = atoi(v);
        }
    }
}

/// Parses a GODEBUG string into [`DEBUG`] (knobs it does not name keep their values).
pub fn parse_godebug(s: &[u8]) {
    let slots = godebug_slots();
    let mut vals = slots.map(|a| a.load(Ordering::Relaxed));
    parse_godebug_values(s, &mut vals);
    for (a, v) in slots.iter().zip(vals) {
        a.store(v, Ordering::Relaxed);
    }
}

/// Reads GODEBUG once (called from heap initialisation).
pub fn init_debug() {
    if PARSED.swap(1, Ordering::AcqRel) != 0 {
        return;
    }
    if let Some(s) = getenv(c"GODEBUG") {
        parse_godebug(s);
    }
    // stress: every allocation reaches the collector hook (collector_hooks::ALWAYS_CALL), which
    // the fast path does not test.
    let slow = DEBUG.efence.load(Ordering::Relaxed) != 0
        || DEBUG.allocfreetrace.load(Ordering::Relaxed) != 0
        || DEBUG.stress.load(Ordering::Relaxed) != 0;
    SLOW_ALLOC.store(slow as u32, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_matches_gccgo_quirks() {
        assert_eq!(atoi(b"100"), 100);
        assert_eq!(atoi(b"-1"), 0);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"50x"), 50);
        assert_eq!(atoi(b""), 0);
    }

    #[test]
    fn godebug_parsing() {
        parse_godebug(b"gctrace=2,foo=1,clobberfree=1,stress=65536,bad");
        assert_eq!(DEBUG.gctrace.load(Ordering::Relaxed), 2);
        assert_eq!(DEBUG.clobberfree.load(Ordering::Relaxed), 1);
        assert_eq!(DEBUG.stress.load(Ordering::Relaxed), 65536);
        parse_godebug(b"gctrace=0,clobberfree=0,stress=0");
        assert_eq!(DEBUG.gctrace.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn godebug_values_are_pure_and_follow_gccgo() {
        let mut v = [7; GODEBUG_KNOBS];
        parse_godebug_values(b"gccheckmark=3,gctrace=1,gctrace=x9,efence,=5,gcprocs=2=3,stress=-4,Gctrace=8", &mut v);
        // gctrace: the later item wins and "x9" reads as 0; efence (no '=') and the unknown
        // "Gctrace" (names are case-sensitive) change nothing; gcprocs reads "2=3" as 2.
        assert_eq!(v, [0, 7, 7, 3, 7, 0, 2]);
        parse_godebug_values(b"", &mut v);
        assert_eq!(v, [0, 7, 7, 3, 7, 0, 2]);
        // The parse wraps like gccgo's runtime_atoi instead of failing on overflow.
        parse_godebug_values(b"stress=18446744073709551617", &mut v);
        assert_eq!(v[5], 1);
    }
}
