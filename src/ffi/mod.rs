//! Every exported symbol of libgogc, and no logic: each function checks its C-level arguments
//! and forwards to the module that implements it. Names are gccgo's exactly (libgo-abi.md §3,
//! §4); dotted assembler names use `export_name` and appear in `gogc.h` with an asm label.

#![allow(non_snake_case, non_upper_case_globals, clippy::missing_safety_doc)]

pub mod types;

/// cbindgen:ignore
#[cfg(feature = "fuzzing")]
mod fuzz;

use core::ffi::c_void;
use core::ptr;

use crate::alloc::{malloc, mcache::{self, MCache}};
use crate::config;
use crate::fatal::throw;
use crate::heap::{self, persistent, span::MSpan};
pub use types::*;

// ---------------------------------------------------------------------------------------------
// Constants for C callers.

pub const FlagNoScan: u32 = 1;
pub const FlagNoProfiling: u32 = 2;
pub const FlagNoGC: u32 = 4;
pub const FlagNoZero: u32 = 8;
pub const FlagNoInvokeGC: u32 = 16;
pub const TypeInfo_SingleObject: usize = 0;
pub const TypeInfo_Array: usize = 1;
pub const TypeInfo_Chan: usize = 2;
pub const PageSize: usize = 8192;
pub const MaxSmallSize: usize = 32768;
pub const NumSizeClasses: usize = 67;

const _: () = {
    assert!(FlagNoScan == config::FLAG_NO_SCAN && FlagNoProfiling == config::FLAG_NO_PROFILING);
    assert!(FlagNoGC == config::FLAG_NO_GC && FlagNoZero == config::FLAG_NO_ZERO);
    assert!(FlagNoInvokeGC == config::FLAG_NO_INVOKE_GC);
    assert!(TypeInfo_Array == config::TYPEINFO_ARRAY && TypeInfo_Chan == config::TYPEINFO_CHAN);
    assert!(TypeInfo_SingleObject == config::TYPEINFO_SINGLE_OBJECT);
    assert!(PageSize == config::PAGE_SIZE && MaxSmallSize == config::MAX_SMALL_SIZE);
    assert!(NumSizeClasses == config::NUM_SIZE_CLASSES);
};

pub const GO_BOOL: u8 = 1;
pub const GO_INT: u8 = 2;
pub const GO_INT8: u8 = 3;
pub const GO_INT16: u8 = 4;
pub const GO_INT32: u8 = 5;
pub const GO_INT64: u8 = 6;
pub const GO_UINT: u8 = 7;
pub const GO_UINT8: u8 = 8;
pub const GO_UINT16: u8 = 9;
pub const GO_UINT32: u8 = 10;
pub const GO_UINT64: u8 = 11;
pub const GO_UINTPTR: u8 = 12;
pub const GO_FLOAT32: u8 = 13;
pub const GO_FLOAT64: u8 = 14;
pub const GO_COMPLEX64: u8 = 15;
pub const GO_COMPLEX128: u8 = 16;
pub const GO_ARRAY: u8 = 17;
pub const GO_CHAN: u8 = 18;
pub const GO_FUNC: u8 = 19;
pub const GO_INTERFACE: u8 = 20;
pub const GO_MAP: u8 = 21;
pub const GO_PTR: u8 = 22;
pub const GO_SLICE: u8 = 23;
pub const GO_STRING: u8 = 24;
pub const GO_STRUCT: u8 = 25;
pub const GO_UNSAFE_POINTER: u8 = 26;
pub const GO_DIRECT_IFACE: u8 = 0x20;
pub const GO_GC_PROG: u8 = 0x40;
pub const GO_NO_POINTERS: u8 = 0x80;
pub const GO_CODE_MASK: u8 = 0x1f;

pub const GC_END: usize = 0;
pub const GC_PTR: usize = 1;
pub const GC_APTR: usize = 2;
pub const GC_ARRAY_START: usize = 3;
pub const GC_ARRAY_NEXT: usize = 4;
pub const GC_CALL: usize = 5;
pub const GC_CHAN_PTR: usize = 6;
pub const GC_STRING: usize = 7;
pub const GC_EFACE: usize = 8;
pub const GC_IFACE: usize = 9;
pub const GC_SLICE: usize = 10;
pub const GC_REGION: usize = 11;
pub const GC_NUM_INSTR: usize = 12;
pub const PRECISE: usize = 1;
pub const LOOP: usize = 2;

// ---------------------------------------------------------------------------------------------
// Data symbols.

/// The C `mstats` (`runtime.memStats`, §11.9).
#[export_name = "runtime.memStats"]
pub static mut runtime_memStats: MStats = MStats::zeroed();

/// Stand-in for gccgo's `runtime_mheap` (§1.1 option c): only `panic.c`'s "heap initialised"
/// test reads it outside the memory manager (the word at byte 56240 is non-zero after init).
#[no_mangle]
pub static mut runtime_mheap: [u64; 56992 / 8] = [0; 56992 / 8];

/// Go's `runtime.Sizeof_C_MStats`: the Go-visible size of MStats, set by mallocinit (§11.9).
/// In a gccgo build libgo's Go code defines this variable; link gogc's copy in its place.
#[export_name = "runtime.Sizeof_C_MStats"]
pub static mut runtime_Sizeof_C_MStats: usize = SIZEOF_C_MSTATS;

/// The block returned for every zero-size allocation (`&runtime_zerobase`). In a gccgo build
/// it replaces the definition in go-make-slice.c.
#[no_mangle]
pub static mut runtime_zerobase: usize = 0;

pub(crate) fn memstats_ptr() -> *mut MStats {
    // SAFETY: taking the address of the static; no reference is created.
    ptr::addr_of_mut!(runtime_memStats)
}

/// Called once by heap initialisation.
pub(crate) fn on_heap_init() {
    // SAFETY: initialisation runs once, before any other thread can observe the heap.
    unsafe {
        *ptr::addr_of_mut!(runtime_Sizeof_C_MStats) = SIZEOF_C_MSTATS;
        (*ptr::addr_of_mut!(runtime_mheap))[56240 / 8] = 1;
    }
    crate::stats::init_sizes();
}

// ---------------------------------------------------------------------------------------------
// Allocation (§4.1, §6).

#[no_mangle]
pub extern "C" fn runtime_mallocinit() {
    heap::ensure_init();
}

#[no_mangle]
pub extern "C" fn runtime_mallocgc(size: usize, typ: usize, flag: u32) -> *mut c_void {
    malloc::mallocgc(size, typ, flag).cast()
}

#[no_mangle]
pub extern "C" fn __go_alloc(size: usize) -> *mut c_void {
    malloc::mallocgc(size, 0, config::FLAG_NO_INVOKE_GC).cast()
}

#[no_mangle]
pub extern "C" fn runtime_mal(n: usize) -> *mut c_void {
    malloc::mallocgc(n, 0, 0).cast()
}

#[no_mangle]
pub unsafe extern "C" fn __go_free(v: *mut c_void) {
    malloc::free(v.cast())
}

/// Type word and flags for one value of type `t`.
unsafe fn type_word(t: *const GoType, kind: usize) -> (usize, u32) {
    if t as usize & 7 != 0 {
        throw("runtime: invalid objtyp");
    }
    // SAFETY: t is a type descriptor (caller's obligation).
    let noptr = unsafe { (*t).__code } & GO_NO_POINTERS != 0;
    (t as usize | kind, if noptr { config::FLAG_NO_SCAN } else { 0 })
}

#[no_mangle]
pub unsafe extern "C" fn __go_new(td: *const GoType, size: usize) -> *mut c_void {
    // SAFETY: td is a type descriptor.
    let (typ, flag) = unsafe { type_word(td, config::TYPEINFO_SINGLE_OBJECT) };
    malloc::mallocgc(size, typ, flag).cast()
}

#[export_name = "runtime.new"]
pub unsafe extern "C" fn runtime_new(t: *const GoType) -> *mut u8 {
    // SAFETY: t is a type descriptor.
    unsafe {
        let (typ, flag) = type_word(t, config::TYPEINFO_SINGLE_OBJECT);
        malloc::mallocgc((*t).__size, typ, flag)
    }
}

unsafe fn cnew(t: *const GoType, n: isize, kind: usize) -> *mut c_void {
    // SAFETY: t is a type descriptor.
    unsafe {
        let (typ, flag) = type_word(t, kind);
        let size = (*t).__size;
        if n < 0 || (size > 0 && n as usize > config::MAX_MEM / size) {
            crate::fatal::go_panic("runtime: allocation size out of range");
        }
        malloc::mallocgc(size * n as usize, typ, flag).cast()
    }
}

#[no_mangle]
pub unsafe extern "C" fn runtime_cnew(t: *const GoType) -> *mut c_void {
    // SAFETY: forwarded obligation.
    unsafe { cnew(t, 1, config::TYPEINFO_SINGLE_OBJECT) }
}

#[no_mangle]
pub unsafe extern "C" fn runtime_cnewarray(t: *const GoType, n: isize) -> *mut c_void {
    // SAFETY: forwarded obligation.
    unsafe { cnew(t, n, config::TYPEINFO_ARRAY) }
}

#[no_mangle]
pub extern "C" fn runtime_roundupsize(size: usize) -> usize {
    crate::sizeclass::roundupsize(size)
}

/// `runtime_mlookup`: 1 and the block's base/size/span if `v` is inside an in-use span, else 0.
#[no_mangle]
pub unsafe extern "C" fn runtime_mlookup(
    v: *mut c_void,
    base: *mut *mut u8,
    size: *mut usize,
    sp: *mut *mut MSpan,
) -> i32 {
    let r = malloc::mlookup(v as usize);
    let (b, n, s) = r.unwrap_or((0, 0, ptr::null_mut()));
    // SAFETY: non-null out-parameters point to writable storage (caller's obligation).
    unsafe {
        if !base.is_null() {
            *base = b as *mut u8;
        }
        if !size.is_null() {
            *size = n;
        }
        if !sp.is_null() {
            *sp = s;
        }
    }
    r.is_some() as i32
}

#[no_mangle]
pub extern "C" fn runtime_gettype(v: *mut c_void) -> usize {
    malloc::gettype(v as usize)
}

#[no_mangle]
pub extern "C" fn runtime_persistentalloc(size: usize, align: usize, stat: *mut u64) -> *mut c_void {
    persistent::persistentalloc(size, align, stat).cast()
}

#[no_mangle]
pub extern "C" fn runtime_SysAlloc(n: usize, stat: *mut u64) -> *mut c_void {
    crate::os::sys_alloc(n, stat).cast()
}

#[no_mangle]
pub unsafe extern "C" fn runtime_SysFree(v: *mut c_void, n: usize, stat: *mut u64) {
    crate::os::sys_free(v.cast(), n, stat)
}

#[no_mangle]
pub extern "C" fn runtime_allocmcache() -> *mut MCache {
    mcache::allocmcache()
}

#[no_mangle]
pub unsafe extern "C" fn runtime_freemcache(c: *mut MCache) {
    if !c.is_null() {
        // SAFETY: the caller gives up a cache from runtime_allocmcache.
        unsafe { mcache::freemcache(c) }
    }
}

/// Recomputes derived MStats fields. `stats` (gccgo's per-M GCStats sum) is cleared if non-null.
#[no_mangle]
pub unsafe extern "C" fn runtime_updatememstats(stats: *mut c_void) {
    crate::stats::update(false);
    if !stats.is_null() {
        // SAFETY: a GCStats is 5 u64 (§10.1).
        unsafe { ptr::write_bytes(stats as *mut u64, 0, 5) };
    }
}

// ---------------------------------------------------------------------------------------------
// Heap bitmap (§3).

#[no_mangle]
pub extern "C" fn runtime_markspan(v: *mut c_void, size: usize, n: usize, leftover: bool) {
    crate::bitmap::markspan(v as usize, size, n, leftover)
}

#[no_mangle]
pub extern "C" fn runtime_unmarkspan(v: *mut c_void, nbytes: usize) {
    crate::bitmap::unmarkspan(v as usize, nbytes)
}

#[no_mangle]
pub extern "C" fn runtime_markfreed(v: *mut c_void) {
    crate::bitmap::markfreed(v as usize)
}

#[no_mangle]
pub extern "C" fn runtime_checkfreed(v: *mut c_void, n: usize) {
    crate::bitmap::checkfreed(v as usize, n)
}

#[no_mangle]
pub extern "C" fn runtime_marknogc(v: *mut c_void) {
    crate::bitmap::marknogc(v as usize)
}

#[no_mangle]
pub extern "C" fn runtime_markscan(v: *mut c_void) {
    crate::bitmap::markscan(v as usize)
}

// ---------------------------------------------------------------------------------------------
// Reflect helpers (§3).

#[export_name = "reflect.typedmemmove"]
pub unsafe extern "C" fn reflect_typedmemmove(t: *const GoType, dst: *mut c_void, src: *const c_void) {
    // SAFETY: dst and src hold t->__size bytes (caller's obligation); memmove allows overlap.
    unsafe { ptr::copy(src as *const u8, dst as *mut u8, (*t).__size) }
}

#[export_name = "reflect.typedslicecopy"]
pub unsafe extern "C" fn reflect_typedslicecopy(elem: *const GoType, dst: GoSlice, src: GoSlice) -> isize {
    let n = dst.__count.min(src.__count);
    if n <= 0 {
        return 0;
    }
    // SAFETY: both slices hold at least n elements of elem's size (caller's obligation).
    unsafe {
        ptr::copy(
            src.__values as *const u8,
            dst.__values as *mut u8,
            n as usize * (*elem).__size,
        )
    };
    n
}

// ---------------------------------------------------------------------------------------------
// Collection (§3, §13).

/// `runtime_gc(force)`: 0 = only if the heap reached next_gc, 1 = always (lazy sweep),
/// 2 = always, sweeping everything before returning.
#[no_mangle]
pub extern "C" fn runtime_gc(force: i32) {
    crate::gc::gc(force)
}

/// Go's `runtime.GC()`: a full collection with eager sweep.
#[export_name = "runtime.GC"]
pub extern "C" fn runtime_GC() {
    crate::gc::gc(2)
}

/// `runtime_setgcpercent`: set GOGC (negative = off), returning the previous value.
#[no_mangle]
pub extern "C" fn runtime_setgcpercent(percent: i32) -> i32 {
    crate::gc::setgcpercent(percent)
}

/// `runtime_sweepone`: sweep one span; pages returned, or all-ones when nothing is left.
#[no_mangle]
pub extern "C" fn runtime_sweepone() -> usize {
    heap::ensure_init();
    crate::gc::sweep::sweepone()
}

/// `runtime_MSpan_EnsureSwept`.
#[no_mangle]
pub unsafe extern "C" fn runtime_MSpan_EnsureSwept(s: *mut MSpan) {
    if !s.is_null() {
        // SAFETY: s is a span record from runtime_mlookup.
        crate::alloc::sweep::ensure_swept(unsafe { &*s })
    }
}

/// `runtime_MSpan_Sweep`: sweep a span the caller claimed (sweepgen == sg-1). True if the span
/// went back to the page heap.
#[no_mangle]
pub unsafe extern "C" fn runtime_MSpan_Sweep(s: *mut MSpan) -> bool {
    // SAFETY: forwarded obligation (the span is claimed; bad states throw).
    unsafe { crate::alloc::sweep::sweep_span(s) }
}

/// `runtime_MHeap_MapBits`: the bitmap is mapped whenever the arena grows, so there is never
/// anything left to map; kept for link compatibility.
#[no_mangle]
pub extern "C" fn runtime_MHeap_MapBits(_h: *mut c_void) {}

/// `__go_register_gc_roots`: add a compiler-emitted root list (thread-safe; usable before the
/// heap exists).
#[no_mangle]
pub unsafe extern "C" fn __go_register_gc_roots(r: *mut root_list) {
    // SAFETY: the list is static data that lives for the whole process.
    unsafe { crate::gc::roots::register_list(r) }
}

/// Scan `[lo, hi)` conservatively at every collection.
#[no_mangle]
pub extern "C" fn gogc_add_roots(lo: *mut c_void, hi: *mut c_void) {
    crate::gc::roots::add_range(lo as usize, hi as usize);
}

/// Stop scanning a range added with exactly these bounds.
#[no_mangle]
pub extern "C" fn gogc_remove_roots(lo: *mut c_void, hi: *mut c_void) {
    crate::gc::roots::remove_range(lo as usize, hi as usize);
}

/// `sync.runtime_registerPoolCleanup`: `f` is called (static chain = f) at every collection,
/// before marking.
#[export_name = "sync.runtime_registerPoolCleanup"]
pub extern "C" fn sync_runtime_registerPoolCleanup(f: *const FuncVal) {
    crate::gc::POOL_CLEANUP.store(f as usize, core::sync::atomic::Ordering::Release);
}

/// Go's `runtime.ReadMemStats`: exact statistics (world stopped), first 5776 bytes of MStats.
#[export_name = "runtime.ReadMemStats"]
pub unsafe extern "C" fn runtime_ReadMemStats_go(out: *mut MStats) {
    // SAFETY: forwarded obligation.
    unsafe { runtime_ReadMemStats(out) }
}

/// C name of `runtime.ReadMemStats`.
#[no_mangle]
pub unsafe extern "C" fn runtime_ReadMemStats(out: *mut MStats) {
    // SAFETY: the caller passes a buffer of at least the C MStats size (or NULL).
    unsafe { crate::gc::read_memstats(out as *mut u8, SIZEOF_C_MSTATS) };
}

// ---------------------------------------------------------------------------------------------
// Threads (built-in host).

/// Make the calling thread known to the collector: its stack and registers are scanned and it
/// is stopped during collections. Threads that allocate are attached automatically; the main
/// thread is attached when the library loads. Returns 0.
#[no_mangle]
pub extern "C" fn gogc_thread_attach() -> i32 {
    crate::threads::attach()
}

/// Forget the calling thread (it must no longer hold the only reference to heap objects).
/// Returns 0, or EINVAL if the thread is not attached.
#[no_mangle]
pub extern "C" fn gogc_thread_detach() -> i32 {
    crate::threads::detach()
}

/// pthread_create with the new thread attached for its whole life (and `arg` kept alive until
/// it runs).
#[no_mangle]
pub unsafe extern "C" fn gogc_pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start_routine: extern "C" fn(*mut c_void) -> *mut c_void,
    arg: *mut c_void,
) -> i32 {
    // SAFETY: forwarded obligations of pthread_create.
    unsafe { crate::threads::pthread_create(thread, attr, start_routine, arg) }
}

extern "C" fn gogc_load_constructor() {
    heap::ensure_init();
    crate::threads::attach();
}

/// Attach the loading (main) thread when the library is loaded.
#[used]
#[link_section = ".init_array"]
static GOGC_LOAD_CONSTRUCTOR: extern "C" fn() = gogc_load_constructor;

// ---------------------------------------------------------------------------------------------
// Host interface for runtimes with their own scheduler.

pub use crate::host::{GogcHost, GogcRangeFn};

/// Register a runtime's host callbacks (see `GogcHost`). Returns 0, or EINVAL for a NULL
/// table, a `size` smaller than the first version of the table (through `fatal`), or only one
/// of stop_world/start_world or of gc_acquire/gc_release.
#[no_mangle]
pub unsafe extern "C" fn gogc_set_host(host: *const GogcHost) -> i32 {
    heap::ensure_init();
    // SAFETY: forwarded obligation (host points to a readable table).
    unsafe { crate::host::set(host) }
}

// ---------------------------------------------------------------------------------------------
// Finalizers (§14).

/// True while the finalizer thread waits for work (gccgo's `runtime_fingwait`).
#[no_mangle]
pub static mut runtime_fingwait: bool = false;
/// Set when a finalizer is queued (gccgo's `runtime_fingwake`).
#[no_mangle]
pub static mut runtime_fingwake: bool = false;
/// The world-stop semaphore word gccgo's scheduler takes around stop-the-world (starts at 1).
#[no_mangle]
pub static mut runtime_worldsema: u32 = 1;

pub(crate) fn fingwait_ptr() -> *mut bool {
    ptr::addr_of_mut!(runtime_fingwait)
}

pub(crate) fn fingwake_ptr() -> *mut bool {
    ptr::addr_of_mut!(runtime_fingwake)
}

/// Go's `runtime.SetFinalizer(obj, finalizer)` (every check and fatal message of gccgo).
#[export_name = "runtime.SetFinalizer"]
pub extern "C" fn runtime_SetFinalizer(obj: GoEface, finalizer: GoEface) {
    crate::gc::finalizer::set_finalizer(obj, finalizer)
}

/// `runtime_queuefinalizer`: append `{fn, p, ft, ot}` to the pending queue.
#[no_mangle]
pub extern "C" fn runtime_queuefinalizer(p: *mut c_void, f: *const FuncVal, ft: *const GoFuncType, ot: *const GoPtrType) {
    crate::gc::finalizer::queue(p as usize, f as usize, ft as usize, ot as usize)
}

/// `runtime_iterate_finq`: call `cb` for every entry of every finalizer block.
#[no_mangle]
pub extern "C" fn runtime_iterate_finq(
    cb: unsafe extern "C" fn(*const FuncVal, *mut c_void, *const GoFuncType, *const GoPtrType),
) {
    crate::gc::finalizer::iterate(cb)
}

/// `runtime_createfing`: start the finalizer thread (once).
#[no_mangle]
pub extern "C" fn runtime_createfing() {
    heap::ensure_init();
    crate::gc::finalizer::createfing()
}

/// `runtime_wakefing`: clear the wait/wake flags and wake the finalizer thread. gogc's
/// finalizer runner is a thread, not a G, so this always returns NULL.
#[no_mangle]
pub extern "C" fn runtime_wakefing() -> *mut c_void {
    crate::gc::finalizer::wakefing()
}

/// C finalizer: `fn(obj, arg)` runs once `obj` is unreachable (from `gogc_run_finalizers`).
/// A NULL `fn` removes it. Returns 0, EINVAL if `obj` is not the start of an allocated heap
/// block, or EEXIST if it already has a finalizer.
#[no_mangle]
pub extern "C" fn gogc_set_finalizer(
    obj: *mut c_void,
    f: Option<extern "C" fn(obj: *mut c_void, arg: *mut c_void)>,
    arg: *mut c_void,
) -> i32 {
    crate::gc::finalizer::set_c_finalizer(obj as usize, f, arg as usize)
}

/// Run the queued finalizers on the calling thread; returns how many ran.
#[no_mangle]
pub extern "C" fn gogc_run_finalizers() -> usize {
    crate::gc::finalizer::run_pending()
}

// ---------------------------------------------------------------------------------------------
// runtime/debug (§13.6, §15).

/// `runtime_debug.readGCStats(*[]time.Duration)`: recent pauses (newest first), then last GC
/// time, number of GCs and total pause. Fatal if the capacity is under 259.
#[export_name = "runtime_debug.readGCStats"]
pub unsafe extern "C" fn runtime_debug_readGCStats(pauses: *mut GoSlice) {
    // SAFETY: pauses points to a Go slice of int64 (caller's obligation).
    unsafe { crate::gc::read_gc_stats(&mut *pauses) }
}

/// `runtime_debug.freeOSMemory`: collect, then return every free span's pages to the OS.
#[export_name = "runtime_debug.freeOSMemory"]
pub extern "C" fn runtime_debug_freeOSMemory() {
    crate::gc::scavenge::free_os_memory()
}

/// `runtime_MHeap_Scavenger`: run the scavenger loop on the calling thread (never returns).
/// Standalone programs need not call it: the first collection starts a scavenger thread.
#[no_mangle]
pub extern "C" fn runtime_MHeap_Scavenger(_unused: *mut c_void) {
    crate::gc::scavenge::run_loop()
}

/// `runtime_gchelper`: lend the calling thread to a running mark phase (it steals and scans
/// work until none is left); returns at once when no collection is marking.
#[no_mangle]
pub extern "C" fn runtime_gchelper() {
    crate::gc::mark::external_help()
}

/// `runtime_memorydump`: print every in-use span's objects word by word (debugging).
#[no_mangle]
pub extern "C" fn runtime_memorydump() {
    crate::gc::memorydump()
}

#[cfg(test)]
mod tests {
    /// The committed header must equal what build.rs generates now.
    #[test]
    fn header_is_fresh() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/gogc.h"));
        let committed = include_str!("../../include/gogc.h");
        assert!(
            generated == committed,
            "include/gogc.h is stale: run `make header` and commit it"
        );
    }
}
