//! Entry points for the Rust micro-benchmarks (`benches/micro.rs`, run by
//! `cargo bench --bench micro`): thin wrappers over the allocator fast path, the GC-program
//! interpreter and a forced collection, so that the benchmarks depend on these few signatures
//! rather than on the internals they reach. Not part of the C API, and not a stable interface.
//!
//! Nothing in this module may be `extern "C"`, `#[no_mangle]` or a `pub const`: cbindgen would
//! copy those into `include/gogc.h`.

use crate::config;

pub use crate::gc::gcprog::{Sink, Start};

/// Initialises the heap and attaches the calling thread to the collector (both idempotent), so
/// that its stack is scanned as a root.
pub fn init() {
    crate::threads::attach();
}

/// How [`malloc`] allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Scanned (conservatively unless a type is given); may start a collection (flag 0).
    Scan,
    /// Pointer-free (`FlagNoScan`); sizes below 16 bytes take the tiny allocator.
    NoScan,
    /// Scanned, and never starts a collection (`FlagNoInvokeGC`, what `__go_alloc` passes).
    ScanNoGc,
}

/// `runtime_mallocgc(size, typ, flag)` with the flag that `kind` names: the allocation fast
/// path (thread cache, size class, zeroing), the large-object path above 32 KiB.
#[inline(always)]
pub fn malloc(size: usize, typ: usize, kind: Kind) -> *mut u8 {
    let flag = match kind {
        Kind::Scan => 0,
        Kind::NoScan => config::FLAG_NO_SCAN,
        Kind::ScanNoGc => config::FLAG_NO_INVOKE_GC,
    };
    crate::alloc::malloc::mallocgc(size, typ, flag)
}

/// `__go_free`: gives a block back to the thread cache (fatal for blocks under 16 bytes).
///
/// # Safety
/// `p` must be the start of a live gogc block that nothing references any more.
#[inline(always)]
pub unsafe fn free(p: *mut u8) {
    crate::alloc::malloc::free(p)
}

/// Runs the GC-program interpreter over the block `[b, b+n)` from type-info word `ti` (a
/// program address with the PRECISE (1) and LOOP (2) bits), reporting to `sink`.
#[inline]
pub fn gcprog_scan(b: usize, n: usize, ti: usize, sink: &mut impl Sink) {
    crate::gc::gcprog::scan(b, n, Start::from_ti(ti), sink)
}

/// Registers `[lo, hi)` as a root range (`gogc_add_roots`).
pub fn add_roots(lo: usize, hi: usize) {
    crate::gc::roots::add_range(lo, hi);
}

/// Unregisters a range given to [`add_roots`] (`gogc_remove_roots`).
pub fn remove_roots(lo: usize, hi: usize) {
    crate::gc::roots::remove_range(lo, hi);
}

/// A forced full collection that sweeps the whole heap before returning (`runtime_gc(2)`,
/// Go's `runtime.GC()`).
pub fn collect() {
    crate::gc::gc(2)
}

/// Collections so far and the stop-the-world pause of the latest one, in nanoseconds.
pub fn gc_stats() -> (u32, u64) {
    // SAFETY: reads of the static MStats; the callers run no collection concurrently.
    unsafe {
        let m = &*crate::stats::mstats();
        let n = m.numgc;
        (n, if n == 0 { 0 } else { m.pause_ns[((n - 1) % 256) as usize] })
    }
}
