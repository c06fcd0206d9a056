//! Finalizers (libgo-abi.md §14): SetFinalizer's checks, the pending queue, the finalizer
//! thread, and the two collector hooks (finalizable objects are roots for their contents but
//! are not marked themselves; unmarked finalizable objects are queued and survive one cycle).
//!
//! ## Queue
//! Entries `{fn, arg, ft, ot}` (32 bytes) live in 4 KiB blocks from persistent memory, chained
//! on `finq` (pending) and on `all` (every block ever made, for `runtime_iterate_finq`). A C
//! finalizer (`gogc_set_finalizer`) is stored as `{cfn, obj, carg, 1}`: the low bit of `ot`,
//! always clear for a type descriptor, marks it.
//!
//! ## Running
//! Go finalizers run on the finalizer thread (started by `runtime_createfing`, through the host
//! if it provides `start_thread`), each called with its FuncVal in the static chain register and
//! its argument built from the finalizer's input type; after each batch the thread runs a
//! collection (force 1), as gccgo's runfinq does. `gogc_run_finalizers` drains the queue on the
//! calling thread instead (C programs that want finalizers on their own thread).
//!
//! Protection: `FINQ` is under its lock; `runtime_fingwait`/`runtime_fingwake` are written
//! under it (read racily by a host scheduler, as in gccgo).

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::alloc::specials::{self, SpecialRec, KIND_FINALIZER};
use crate::bitmap;
use crate::ffi::types::{FuncVal, GoEface, GoFuncType, GoInterfaceType, GoPtrType, GoString, GoType};
use crate::heap::{self, arena, span::{MSpan, MSPAN_IN_USE}, HEAP};
use crate::sync::{futex_wait, futex_wake, Locked};

const GO_CODE_MASK: u8 = 0x1f;
const GO_NO_POINTERS: u8 = 0x80;
const GO_FUNC: u8 = 19;
const GO_INTERFACE: u8 = 20;
const GO_PTR: u8 = 22;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Fin {
    pub fn_: usize,
    pub arg: usize,
    pub ft: usize,
    pub ot: usize,
}

const BLOCK_BYTES: usize = 4096;
const BLOCK_CAP: usize = (BLOCK_BYTES - 32) / 32;

#[repr(C)]
struct FinBlock {
    alllink: *mut FinBlock,
    next: *mut FinBlock,
    cnt: usize,
    cap: usize,
    fin: [Fin; BLOCK_CAP],
}

/// One queue: blocks waiting to run, and the chain a runner has taken but not finished (still
/// a root: a finalizer that triggers a collection must not free its batch-mates).
struct Queue {
    pending: *mut FinBlock,
    running: *mut FinBlock,
}

struct FinQ {
    /// Go finalizers (run by the finalizer thread).
    go: Queue,
    /// C finalizers (run only by `gogc_run_finalizers`).
    c: Queue,
    finc: *mut FinBlock,
    all: *mut FinBlock,
}
// SAFETY: only reached under FINQ's lock.
unsafe impl Send for FinQ {}

static FINQ: Locked<FinQ> = Locked::new(FinQ {
    go: Queue { pending: ptr::null_mut(), running: ptr::null_mut() },
    c: Queue { pending: ptr::null_mut(), running: ptr::null_mut() },
    finc: ptr::null_mut(),
    all: ptr::null_mut(),
});
/// One runner per queue at a time. Plain locks: a runner executes user code (which may
/// collect), and a thread waiting here must stay stoppable.
static GO_RUNNER: crate::sync::RawLock = crate::sync::RawLock::new_plain();
static C_RUNNER: crate::sync::RawLock = crate::sync::RawLock::new_plain();
/// Futex word the finalizer thread sleeps on.
static FIN_WAKE: AtomicU32 = AtomicU32::new(0);
static FING_STARTED: AtomicU32 = AtomicU32::new(0);

extern "C" {
    fn gogc_call_funcval_ptr(fv: *const FuncVal, p: *mut c_void);
    fn gogc_call_funcval_pair(fv: *const FuncVal, t: *const c_void, v: *mut c_void);
    fn gogc_convert_interface(iface_type: *const c_void, obj_type: *const c_void) -> *const c_void;
    fn gogc_have_type_equal() -> i32;
    fn gogc_type_equal(a: *const c_void, b: *const c_void) -> bool;
}

fn set_flag(f: *mut bool, v: bool) {
    // SAFETY: the exported one-byte flags live for the process.
    unsafe { ptr::write_volatile(f, v) };
}

/// Installs the collector hooks (called by `gc::install`).
pub fn install() {
    crate::gc::set_extra_roots(push_roots);
    crate::collector_hooks::register_sweep(Some(sweep_specials), crate::gc::sweep::reclaim);
}

/// `runtime_queuefinalizer`: append to the pending queue and wake the finalizer thread.
pub fn queue(p: usize, fn_: usize, ft: usize, ot: usize) {
    FINQ.with(|fq| {
        let (q, finc, all) = if ot & 1 != 0 {
            (&mut fq.c, &mut fq.finc, &mut fq.all)
        } else {
            (&mut fq.go, &mut fq.finc, &mut fq.all)
        };
        // SAFETY: blocks are private to the queue, which is locked.
        unsafe {
            if q.pending.is_null() || (*q.pending).cnt == (*q.pending).cap {
                let mut b = *finc;
                if b.is_null() {
                    b = crate::heap::persistent::persistentalloc(
                        BLOCK_BYTES,
                        0,
                        crate::stats::field(crate::stats::Field::GcSys),
                    ) as *mut FinBlock;
                    (*b).cap = BLOCK_CAP;
                    (*b).alllink = *all;
                    *all = b;
                } else {
                    *finc = (*b).next;
                }
                (*b).next = q.pending;
                (*b).cnt = 0;
                q.pending = b;
            }
            let b = q.pending;
            (*b).fin[(*b).cnt] = Fin { fn_, arg: p, ft, ot };
            (*b).cnt += 1;
        }
        set_flag(crate::ffi::fingwake_ptr(), true);
    });
    FIN_WAKE.fetch_add(1, Ordering::Release);
    futex_wake(&FIN_WAKE, 1);
}

/// `runtime_iterate_finq`: every entry of every block ever allocated.
pub fn iterate(cb: unsafe extern "C" fn(*const FuncVal, *mut c_void, *const GoFuncType, *const GoPtrType)) {
    FINQ.with(|q| {
        let mut b = q.all;
        while !b.is_null() {
            // SAFETY: blocks are never freed; cnt entries are valid.
            unsafe {
                let fins = &(*b).fin;
                for f in &fins[..(*b).cnt] {
                    cb(f.fn_ as *const FuncVal, f.arg as *mut c_void, f.ft as *const GoFuncType, f.ot as *const GoPtrType);
                }
                b = (*b).alllink;
            }
        }
    });
}

/// `gogc_run_finalizers`: runs the queued C finalizers on the calling thread, and the Go ones
/// too when no finalizer thread exists. Returns how many ran (0 if called re-entrantly).
pub fn run_pending() -> usize {
    crate::threads::attach();
    let mut n = run_queue(false);
    if FING_STARTED.load(Ordering::Acquire) == 0 {
        n += run_queue(true);
    }
    n
}

/// Takes one queue's pending chain and runs it. Entries not yet run stay roots (`running`).
fn run_queue(go: bool) -> usize {
    let runner = if go { &GO_RUNNER } else { &C_RUNNER };
    if !runner.try_lock() {
        return 0;
    }
    let pick = |fq: &mut FinQ| -> *mut Queue { if go { &mut fq.go } else { &mut fq.c } };
    FINQ.with(|fq| {
        // SAFETY: pick returns a field of the locked FinQ.
        let q = unsafe { &mut *pick(fq) };
        q.running = q.pending;
        q.pending = ptr::null_mut();
        if go {
            set_flag(crate::ffi::fingwake_ptr(), false);
        }
    });
    let mut n = 0;
    loop {
        // SAFETY: the running chain is only consumed by the runner (us); entries are cleared
        // under the queue lock so the collector never sees a half-written one.
        let b = FINQ.with(|fq| unsafe { (*pick(fq)).running });
        if b.is_null() {
            break;
        }
        loop {
            let f = FINQ.with(|_| {
                // SAFETY: b is the head of our running chain; queue lock held.
                unsafe {
                    let cnt = (*b).cnt;
                    if cnt == 0 {
                        return None;
                    }
                    let f = (*b).fin[cnt - 1];
                    (*b).fin[cnt - 1] = Fin { fn_: 0, arg: 0, ft: 0, ot: 0 };
                    (*b).cnt = cnt - 1;
                    Some(f)
                }
            });
            let Some(f) = f else { break };
            // `f` (on this attached thread's stack) keeps the object alive while it runs.
            run_one(f);
            core::hint::black_box(&f);
            n += 1;
        }
        FINQ.with(|fq| {
            // SAFETY: b is our exhausted block; queue lock held.
            unsafe {
                (*pick(fq)).running = (*b).next;
                (*b).next = fq.finc;
                fq.finc = b;
            }
        });
    }
    runner.unlock();
    n
}

fn run_one(f: Fin) {
    if f.ot & 1 != 0 {
        // SAFETY: stored by gogc_set_finalizer: a C function taking (obj, arg).
        let cfn: extern "C" fn(*mut c_void, *mut c_void) = unsafe { core::mem::transmute(f.fn_) };
        cfn(f.arg as *mut c_void, f.ft as *mut c_void);
        return;
    }
    if crate::host::run_finalizer(f.fn_ as *const c_void, f.arg as *mut c_void, f.ft as *const c_void, f.ot as *const c_void) {
        return;
    }
    // SAFETY: a Go finalizer record: FuncVal, FuncType and the object's PtrType, as
    // SetFinalizer validated them.
    unsafe {
        let ft = f.ft as *const GoFuncType;
        let fint = *((*ft).__in.__values as *const *const GoType);
        let fv = f.fn_ as *const FuncVal;
        if (*fint).__code & GO_CODE_MASK == GO_INTERFACE {
            let it = fint as *const GoInterfaceType;
            if (*it).__methods.__count == 0 {
                gogc_call_funcval_pair(fv, f.ot as *const c_void, f.arg as *mut c_void);
            } else {
                let tab = gogc_convert_interface(fint as *const c_void, f.ot as *const c_void);
                if tab.is_null() {
                    crate::fatal::throw("invalid type conversion in runfinq");
                }
                gogc_call_funcval_pair(fv, tab, f.arg as *mut c_void);
            }
        } else {
            gogc_call_funcval_ptr(fv, f.arg as *mut c_void);
        }
    }
}

/// `runtime_createfing`: start the finalizer thread once.
pub fn createfing() {
    if FING_STARTED.swap(1, Ordering::AcqRel) != 0 {
        return;
    }
    extern "C" fn body(_: *mut c_void) -> *mut c_void {
        crate::threads::attach();
        loop {
            let seen = FIN_WAKE.load(Ordering::Acquire);
            let empty = FINQ.with(|q| {
                let e = q.go.pending.is_null();
                if e {
                    set_flag(crate::ffi::fingwait_ptr(), true);
                }
                e
            });
            if empty {
                futex_wait(&FIN_WAKE, seen);
                continue;
            }
            set_flag(crate::ffi::fingwait_ptr(), false);
            run_queue(true);
            crate::gc::gc(1);
        }
    }
    if !crate::host::spawn(body, ptr::null_mut(), 1 << 20) {
        FING_STARTED.store(0, Ordering::Release);
    }
}

/// `runtime_wakefing`: gogc has no G to hand back; it clears the flags (as gccgo does when
/// both are set) and wakes its finalizer thread. Always returns NULL.
pub fn wakefing() -> *mut c_void {
    FINQ.with(|_| {
        // SAFETY: the exported flags; read and written under the queue lock.
        unsafe {
            if *crate::ffi::fingwait_ptr() && *crate::ffi::fingwake_ptr() {
                set_flag(crate::ffi::fingwait_ptr(), false);
                set_flag(crate::ffi::fingwake_ptr(), false);
            }
        }
    });
    FIN_WAKE.fetch_add(1, Ordering::Release);
    futex_wake(&FIN_WAKE, 1);
    ptr::null_mut()
}

// ------------------------------------------------------------------------------------------
// Collector hooks.

/// Start and length of the object a record at `offset` belongs to.
fn object_of(sp: &MSpan, offset: u32) -> (usize, usize) {
    let base = sp.obj_base(sp.base() + offset as usize);
    let len = if sp.sizeclass == 0 { sp.limit - base } else { sp.elemsize };
    (base, len)
}

/// Mark roots: queued finalizer entries, and for every finalizer record the contents of its
/// object (not the object itself) plus the record's data words. World stopped.
fn push_roots() {
    FINQ.with(|q| {
        for head in [q.go.pending, q.go.running, q.c.pending, q.c.running] {
            let mut b = head;
            while !b.is_null() {
                // SAFETY: queue blocks are live persistent memory.
                unsafe {
                    let lo = (*b).fin.as_ptr() as usize;
                    crate::gc::mark::push_root(lo, lo + (*b).cnt * 32);
                    b = (*b).next;
                }
            }
        }
    });
    if specials::COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    HEAP.with(|h| {
        for i in 0..h.nspan {
            // SAFETY: allspans holds nspan live records; the world is stopped.
            let sp = unsafe { &**h.allspans.add(i) };
            if sp.state != MSPAN_IN_USE || sp.specials.is_null() {
                continue;
            }
            specials::for_each(sp, |r| {
                if r.kind == KIND_FINALIZER {
                    let (base, len) = object_of(sp, r.offset);
                    crate::gc::mark::push_obj(crate::gc::mark::Obj { p: base, n: len, ti: 0 });
                    let d = r.data.as_ptr() as usize;
                    crate::gc::mark::push_root(d, d + 24);
                }
            });
        }
    });
}

/// Sweep hook: finalizer records of unmarked objects are unlinked and queued, and their objects
/// marked so they survive this cycle.
fn sweep_specials(sp: &mut MSpan) {
    let base0 = sp.base();
    let spp = sp as *const MSpan;
    specials::drain_matching(
        sp,
        |r| {
            // SAFETY: spp is the span being swept, alive for this call.
            let (obj, _) = object_of(unsafe { &*spp }, r.offset);
            let b = bitmap::bits(obj);
            b & bitmap::BIT_ALLOCATED != 0 && b & bitmap::BIT_MARKED == 0
        },
        |r: *mut SpecialRec| {
            // SAFETY: r was unlinked by drain_matching and is ours.
            let (offset, kind, d) = unsafe { ((*r).offset, (*r).kind, (*r).data) };
            if kind == KIND_FINALIZER {
                // SAFETY: as above.
                let (obj, _) = object_of(unsafe { &*spp }, offset);
                queue(base0 + offset as usize, d[0], d[1], d[2]);
                bitmap::set_mark(obj);
            }
            specials::free_rec(r);
        },
    );
}

/// Explicit free of an object that still has a finalizer is fatal (`freeallspecials`).
pub fn check_free(sp: &mut MSpan, base: usize, size: usize) {
    if sp.specials.is_null() {
        return;
    }
    let lo = (base - sp.base()) as u32;
    let hi = lo + size as u32;
    let mut fin = false;
    specials::for_each(sp, |r| {
        if r.offset >= lo && r.offset < hi && r.kind == KIND_FINALIZER {
            fin = true;
        }
    });
    if fin {
        crate::fatal::throw("can't explicitly free an object with a finalizer");
    }
    specials::drain_matching(sp, |r| r.offset >= lo && r.offset < hi, specials::free_rec);
}

// ------------------------------------------------------------------------------------------
// SetFinalizer.

fn type_string(t: *const GoType) -> &'static str {
    // SAFETY: t is a type descriptor; its reflection string, when present, is a Go string.
    unsafe {
        if t.is_null() {
            return "nil";
        }
        let r: *const GoString = (*t).__reflection;
        if r.is_null() || (*r).str.is_null() || (*r).len <= 0 {
            return "?";
        }
        core::str::from_utf8(core::slice::from_raw_parts((*r).str, (*r).len as usize)).unwrap_or("?")
    }
}

fn go_string_eq(a: *const GoString, b: *const GoString) -> bool {
    // SAFETY: both are Go strings (or null).
    unsafe {
        if a == b {
            return true;
        }
        if a.is_null() || b.is_null() || (*a).len != (*b).len {
            return false;
        }
        core::slice::from_raw_parts((*a).str, (*a).len as usize)
            == core::slice::from_raw_parts((*b).str, (*b).len as usize)
    }
}

/// `__go_type_descriptors_equal` when linked into libgo, else: same descriptor, or same kind,
/// hash and type string.
fn types_equal(a: *const GoType, b: *const GoType) -> bool {
    if a == b {
        return true;
    }
    if a.is_null() || b.is_null() {
        return false;
    }
    // SAFETY: both are type descriptors.
    unsafe {
        if gogc_have_type_equal() != 0 {
            return gogc_type_equal(a as *const c_void, b as *const c_void);
        }
        (*a).__code & GO_CODE_MASK == (*b).__code & GO_CODE_MASK
            && (*a).__hash == (*b).__hash
            && go_string_eq((*a).__reflection, (*b).__reflection)
    }
}

fn unnamed(t: *const GoType) -> bool {
    // SAFETY: t is a type descriptor.
    unsafe { (*t).__uncommon.is_null() || (*(*t).__uncommon).__name.is_null() }
}

fn fail(line: core::fmt::Arguments<'_>) -> ! {
    crate::fatal::print_fmt(line);
    crate::fatal::throw("runtime.SetFinalizer")
}

/// `runtime.SetFinalizer(obj, finalizer)` with gccgo's checks in order (§14.1).
pub fn set_finalizer(obj: GoEface, finalizer: GoEface) {
    heap::ensure_init();
    let ot = obj.__type_descriptor;
    if ot.is_null() {
        fail(format_args!("runtime.SetFinalizer: first argument is nil interface\n"));
    }
    // SAFETY: ot is a type descriptor.
    unsafe {
        if (*ot).__code & GO_CODE_MASK != GO_PTR {
            fail(format_args!("runtime.SetFinalizer: first argument is {}, not pointer\n", type_string(ot)));
        }
        let elem = (*(ot as *const GoPtrType)).__element_type;
        if !elem.is_null() && (*elem).__size == 0 {
            return;
        }
        let p = obj.__object as usize;
        if !arena::contains(p) {
            return;
        }
        let base = crate::alloc::malloc::mlookup(p).map(|(b, _, _)| b).unwrap_or(0);
        if base != p {
            let tiny_ok = !elem.is_null() && (*elem).__code & GO_NO_POINTERS != 0 && (*elem).__size < 16;
            if !tiny_ok {
                fail(format_args!(
                    "runtime.SetFinalizer: pointer not at beginning of allocated block ({:#x})\n",
                    p
                ));
            }
        }
        let ft = finalizer.__type_descriptor;
        if ft.is_null() {
            specials::remove(p, KIND_FINALIZER);
            return;
        }
        createfing();
        let ok_shape = (*ft).__code & GO_CODE_MASK == GO_FUNC && {
            let f = ft as *const GoFuncType;
            !(*f).__dotdotdot && (*f).__in.__count == 1
        };
        if !ok_shape {
            fail(format_args!(
                "runtime.SetFinalizer: cannot pass {} to finalizer {}\n",
                type_string(ot),
                type_string(ft)
            ));
        }
        let f = ft as *const GoFuncType;
        let fint = *((*f).__in.__values as *const *const GoType);
        let fk = (*fint).__code & GO_CODE_MASK;
        let ok = types_equal(fint, ot)
            || (fk == GO_PTR
                && (unnamed(fint) || unnamed(ot))
                && types_equal(
                    (*(fint as *const GoPtrType)).__element_type,
                    (*(ot as *const GoPtrType)).__element_type,
                ))
            || (fk == GO_INTERFACE && (*(fint as *const GoInterfaceType)).__methods.__count == 0)
            || (fk == GO_INTERFACE
                && !gogc_convert_interface(fint as *const c_void, ot as *const c_void).is_null());
        if !ok {
            fail(format_args!(
                "runtime.SetFinalizer: cannot pass {} to finalizer {}\n",
                type_string(ot),
                type_string(ft)
            ));
        }
        let fv = *(finalizer.__object as *const *const FuncVal);
        if !specials::add(p, KIND_FINALIZER, [fv as usize, ft as usize, ot as usize]) {
            fail(format_args!("runtime.SetFinalizer: finalizer already set\n"));
        }
    }
}

/// `gogc_set_finalizer`: 0, EINVAL (not the start of an allocated heap block), EEXIST.
pub fn set_c_finalizer(obj: usize, f: Option<extern "C" fn(*mut c_void, *mut c_void)>, arg: usize) -> i32 {
    heap::ensure_init();
    let s = heap::lookup_maybe(obj);
    if s.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: in-use span containing obj.
    let sp = unsafe { &*s };
    if sp.obj_base(obj) != obj || bitmap::bits(obj) & bitmap::BIT_ALLOCATED == 0 || is_free_small(sp, obj) {
        return libc::EINVAL;
    }
    match f {
        None => {
            specials::remove(obj, KIND_FINALIZER);
            0
        }
        Some(f) => {
            if specials::add(obj, KIND_FINALIZER, [f as usize, arg, 1]) {
                0
            } else {
                libc::EEXIST
            }
        }
    }
}


/// True if small object `obj` sits on a free list we can see: the span's free list or free
/// buffer, or the calling thread's own cache (private list or uncarved blocks of this span,
/// pending frees). A block another thread freed into its own cache is not detected.
fn is_free_small(sp: &MSpan, obj: usize) -> bool {
    use crate::alloc::{mcache, mcentral::CENTRAL};
    use crate::heap::span::MLink;
    fn on(mut l: *mut MLink, obj: usize) -> bool {
        while !l.is_null() {
            if l as usize == obj {
                return true;
            }
            // SAFETY: free lists link through word 0.
            l = unsafe { (*l).next };
        }
        false
    }
    let cl = sp.sizeclass as usize;
    if cl == 0 {
        return false;
    }
    let c = mcache::current();
    if !c.is_null() {
        // SAFETY: our own cache.
        let c = unsafe { &*c };
        let uncarved = obj >= c.carve[cl].next && obj < c.carve[cl].end;
        if (core::ptr::eq(c.alloc[cl], sp) && (on(c.list[cl], obj) || uncarved)) || on(c.free[cl].head, obj) {
            return true;
        }
    }
    CENTRAL[cl].lists.with(|_| on(sp.freelist, obj) || on(sp.freebuf, obj))
}
