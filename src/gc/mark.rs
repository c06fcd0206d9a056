//! Parallel marking (the seed's scanblock/markroot/gchelper, redesigned).
//!
//! ## Work
//! A unit of work is an [`Obj`]: a range `[p, p+n)` and how to scan it (`ti`: a GC-program
//! word with PRECISE/LOOP bits, [`TI_CONSERVATIVE`], or 0 for "look up the heap type when
//! scanning"). Each worker owns a crossbeam-deque `Worker` (LIFO, for locality); roots go into
//! a shared `Injector`; idle workers steal batches from the injector and from each other.
//! Blocks bigger than [`CHUNK`] are split so one big array does not serialise the mark.
//!
//! ## The per-worker pipeline (latency hiding)
//! Marking a big heap is a chain of dependent cache misses: the object's words, then for each
//! candidate pointer its span record and its bitmap word. Three stages keep many misses in
//! flight instead of one:
//! 1. scanning an object puts each word that falls inside the arena into a 16-entry
//!    candidate FIFO and prefetches its bitmap word and span record;
//! 2. the oldest candidate is then resolved (`mark_candidate`): span checks, block base, mark
//!    bit, and, if newly marked and scannable, the scan type, decided right there from the
//!    span that is already at hand (the span's primary type when the block's bitmap says so,
//!    else the per-object table, else conservative) and pushed on a private stack;
//! 3. objects leave the stack through an 8-slot FIFO that prefetches them, so each is
//!    scanned 7 objects after its line was requested (one slot is refilled per object).
//!
//! A candidate in the page being scanned skips stage 1 (its span and bitmap line are already
//! in cache: allocation-ordered data). On a shuffled heap this makes marking several times
//! faster than one miss at a time; on an allocation-ordered heap it costs next to nothing.
//!
//! ## The page path (allocation-ordered data)
//! Blocks scanned by pointer mask (`scan_mask`, below) mark pointers into their own page
//! without the pipeline (`walk_page`): the page's span is read once into a [`PageSpan`], and
//! the first block so marked that is itself mask-scanned is scanned next in the same loop
//! instead of going through the stack and the ring: a list's next node, a tree node's child.
//! The common candidate (an unmarked block of the span's primary type, or an untyped one in
//! a span without types) is recognised by one compare of its bitmap entry, and its mark bit is
//! collected in a register with the others of the same bitmap word and written once per word
//! (see "Mark bits"). The first pointer into the *next* page is not queued
//! either: when the page is done the walk goes on there, so a list or tree laid out in
//! allocation order is scanned front to back through memory, which the hardware's sequential
//! prefetch keeps up with (queueing it instead interleaves many such lists page by page, and
//! every page then starts with a cache miss on each line until the prefetcher catches up: on
//! markbench's 1024 lists that took 3 times as long). Each step of the walk also prefetches
//! [`WALK_PREFETCH`] bytes ahead, across page boundaries, where the hardware's stream prefetch
//! stops. Other pointers out of the page take the pipeline.
//!
//! ## Scanning
//! GC programs that are plain structs (only `GC_PTR`/`GC_APTR`, element of at most 64 words)
//! are compiled once per mark and worker into a pointer mask (`Compiled`, a small direct-mapped
//! cache keyed by program address); everything else goes through the interpreter (`gcprog`).
//! A block whose heap type is a single object of such a struct without `GC_PTR` words (the
//! usual tree or list node) is queued with the mask itself as its scan info (`TI_MASK`,
//! decided once per type and block size in `block_ti`), so scanning it reads no program; so
//! is an untyped block of at most 63 words, with every word in its mask (`untyped_ti`).
//! Bigger untyped blocks, stacks and roots are scanned word by word.
//!
//! ## Mark bits
//! With two or more workers a mark bit is set by an atomic `or` whose old value is not read
//! back (two workers that both saw the bit clear both scan the block: harmless, and rarer than
//! the CAS loop a read-back costs on every mark); a single worker (GODEBUG=gcprocs=1 or a 1-CPU
//! machine) uses plain stores, and no external helper may join it then.
//!
//! The page walk writes its marks once per bitmap word (16 heap words), when it moves off the
//! word. With several workers, if every block that starts in the word is then marked, it
//! writes the word's whole mark plane with one plain 16-bit store
//! (`bitmap::publish_all_marked`) instead of a `lock or`: no bit another worker sets meanwhile
//! can be lost, because markers only ever set the mark bits of allocated block starts, and the
//! store sets all of them. A word left partly marked takes a `lock or` of the new bits. This
//! is what lets two workers scale on allocation-ordered data, where each word is left fully
//! marked: there a locked instruction per 128 heap bytes cost as much as the rest of the walk
//! (markbench, 256 MiB, 2 workers: 19 ms with it, 11 ms without, 1 worker 19 ms).
//!
//! ## Termination
//! `IDLE` packs `(epoch << 32) | idle_workers`. A worker that finds nothing increments the idle
//! count and then waits. It leaves the idle state only by a CAS that decrements the count *and*
//! bumps the epoch, and only after seeing work in some queue. When a waiting worker sees every
//! worker idle and all queues empty, it CASes the very value it examined to `DONE`: the epoch
//! makes that CAS fail if anyone un-idled (and maybe pushed work) in between. Only non-idle
//! workers push work, so "all idle + all queues empty" is stable and marking is complete.
//!
//! ## Workers
//! `min(cores, GOMAXPROCS if set, GODEBUG=gcprocs if set, MAX_WORKERS)`; MAX_WORKERS (32) is
//! where the bitmap's shared cache lines and memory bandwidth stop paying for more threads on
//! the machines we measured. Helpers are OS threads created once (before the world is first
//! stopped) and parked on a futex between collections.
//!
//! ## Protection
//! `STATE`'s workers and stealers are created once under the GC lock and then only used while
//! a collection runs (the GC lock is held by the coordinator); worker `i`'s deque is touched
//! only by the thread running as worker `i`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use crate::alloc::typeinfo;
use crate::bitmap;
use crate::config::{TYPEINFO_ARRAY, TYPEINFO_CHAN, TYPEINFO_SINGLE_OBJECT};
use crate::fatal::throw;
use crate::gc::gcprog::{self, Start, LOOP, PRECISE};
use crate::heap::{arena, span::MSPAN_IN_USE};
use crate::sync::{futex_wait, futex_wake};

extern crate alloc as rust_alloc;
use rust_alloc::vec::Vec;

/// Scan with no type lookup, word by word (roots, stacks, chunks of untyped blocks).
pub const TI_CONSERVATIVE: usize = PRECISE | LOOP;
/// Tag of a "pointer mask" scan info: bit 63 set (never set in a user-space program address),
/// bits 0..62 the words of the block that may hold pointers. What a block of a plain struct
/// type (`block_ti`) or a small untyped block (`untyped_ti`) is queued with: scanning it needs
/// no program and no table.
const TI_MASK: usize = 1 << 63;
/// Tag of a `GC_REGION` work item (bit 62, never set in a user-space program address): when a
/// non-precise scan of a region finds data past what its program describes, the region is
/// rescanned conservatively, not by the heap type of the block it lies in. That type's program
/// is what queued the region, so a rescan by it would queue the same region again, forever.
const TI_REGION: usize = 1 << 62;
/// Largest piece of one block that a single work item covers.
pub const CHUNK: usize = 128 << 10;
pub const MAX_WORKERS: usize = 32;

#[derive(Clone, Copy, Debug)]
pub struct Obj {
    pub p: usize,
    pub n: usize,
    pub ti: usize,
}

struct MarkState {
    injector: Injector<Obj>,
    workers: Vec<UnsafeCell<Worker<Obj>>>,
    stealers: Vec<Stealer<Obj>>,
    nworkers: usize,
}

// SAFETY: see "Protection" in the module comment: each Worker is used by one thread at a time.
unsafe impl Sync for MarkState {}

static mut STATE: Option<MarkState> = None;

const DONE: u64 = u64::MAX;
static IDLE: AtomicU64 = AtomicU64::new(0);
static ACTIVE_WORKERS: AtomicUsize = AtomicUsize::new(1);

/// GODEBUG=checkmark: while set, marking goes to a shadow bitmap (1 bit per heap word) and every
/// object reached must already carry the real mark bit; otherwise the first mark missed it.
static VERIFY: AtomicU64 = AtomicU64::new(0);
static SHADOW: AtomicUsize = AtomicUsize::new(0);
static SHADOW_LEN: AtomicUsize = AtomicUsize::new(0);

/// Runs a verifying re-mark (world stopped, roots already re-queued): throws on any reachable
/// object the real mark left unmarked.
pub fn run_checkmark() {
    let words = (arena::used() - arena::start()) / 8;
    let len = (words / 8 + 4095) & !4095;
    let sh = crate::os::sys_alloc(len.max(4096), core::ptr::null_mut());
    if sh.is_null() {
        throw("runtime: cannot allocate memory");
    }
    SHADOW.store(sh as usize, Ordering::Release);
    SHADOW_LEN.store(len.max(4096), Ordering::Release);
    VERIFY.store(1, Ordering::Release);
    run(1);
    VERIFY.store(0, Ordering::Release);
    crate::os::sys_free(sh, len.max(4096), core::ptr::null_mut());
}

/// Verify mode: set the shadow bit for `base`; true if it was clear. Throws if the real mark
/// bit is clear.
#[cold]
fn checkmark_visit(base: usize, real_bits: usize, from: usize) -> bool {
    if real_bits & bitmap::BIT_MARKED == 0 {
        checkmark_report(base, real_bits, from);
    }
    let off = (base - arena::start()) / 8;
    let byte = SHADOW.load(Ordering::Relaxed) + off / 8;
    // SAFETY: the shadow bitmap covers [arena_start, arena_used) at one bit per word.
    let b = unsafe { &*(byte as *const core::sync::atomic::AtomicU8) };
    let m = 1u8 << (off % 8);
    b.fetch_or(m, Ordering::Relaxed) & m == 0
}

/// Describes a reachable object the first mark missed (and the block or root range that
/// points to it, and every attached thread), then throws.
#[cold]
fn checkmark_report(base: usize, bits: usize, from: usize) -> ! {
    let s = arena::span_of(base);
    crate::rprint!("runtime: checkmark found unmarked object {:#x} (bits {:#x}), reached from {:#x}", base, bits & 0xf, from);
    if !s.is_null() {
        // SAFETY: spans-map entries point to live span records; the world is stopped.
        let sp = unsafe { &*s };
        crate::rprint!(
            " in span {:#x}+{} pages, class {}, elemsize {}, state {}, sweepgen {} (heap {}), incache {}",
            sp.base(),
            sp.npages,
            sp.sizeclass,
            sp.elemsize,
            sp.state,
            sp.sweepgen.load(Ordering::Relaxed),
            crate::heap::SWEEPGEN.load(Ordering::Relaxed),
            sp.incache
        );
    }
    let fs = if from >= arena::start() && from < arena::used() { arena::span_of(from) } else { core::ptr::null_mut() };
    if !fs.is_null() {
        // SAFETY: as above.
        let sp = unsafe { &*fs };
        crate::rprint!(
            "; referrer in span {:#x} class {} state {} sweepgen {} bits {:#x}",
            sp.base(),
            sp.sizeclass,
            sp.state,
            sp.sweepgen.load(Ordering::Relaxed),
            bitmap::bits(sp.obj_base(from)) & 0xf
        );
    }
    // SAFETY: reading a counter of the static MStats; getpid has no preconditions.
    crate::rprint!("; numgc {} pid {}\n", unsafe { (*crate::stats::mstats()).numgc }, unsafe { libc::getpid() });
    crate::threads::debug_dump();
    throw("checkmark found unmarked object");
}

/// Statistics of the last mark (for gctrace).
pub static NSTEAL: AtomicU64 = AtomicU64::new(0);
pub static NSTEALCNT: AtomicU64 = AtomicU64::new(0);
pub static NYIELD: AtomicU64 = AtomicU64::new(0);

fn state() -> &'static MarkState {
    // SAFETY: STATE is initialised by `setup` (under the GC lock) before any use and never
    // changed afterwards.
    unsafe { (*core::ptr::addr_of!(STATE)).as_ref().unwrap() }
}

static SETUP_LOCK: crate::sync::RawLock = crate::sync::RawLock::new_plain();
static HELPERS_ALIVE: AtomicU32 = AtomicU32::new(0);

/// In a forked child the helper threads are gone: recreate them at the next collection.
pub fn after_fork_child() {
    SETUP_LOCK.reset();
    HELPERS_ALIVE.store(0, Ordering::Release);
    GEN.store(0, Ordering::Release);
    RUNNING.store(0, Ordering::Release);
}

/// Decides the worker count and creates the queues (once) and the helper threads (once per
/// process image). Runs before the world is stopped.
pub fn setup() {
    if HELPERS_ALIVE.load(Ordering::Acquire) != 0 {
        return;
    }
    SETUP_LOCK.lock();
    // SAFETY: STATE is only written here, under SETUP_LOCK, before any mark uses it.
    let have = unsafe { (*core::ptr::addr_of!(STATE)).is_some() };
    if !have {
        create_state();
    }
    if HELPERS_ALIVE.load(Ordering::Acquire) == 0 {
        for id in 1..state().nworkers {
            spawn_helper(id);
        }
        HELPERS_ALIVE.store(1, Ordering::Release);
    }
    SETUP_LOCK.unlock();
}

fn create_state() {
    let mut n = crate::os::ncpu();
    if let Some(v) = crate::config::getenv(c"GOMAXPROCS") {
        let g = crate::config::atoi(v) as usize;
        if g > 0 {
            n = n.min(g);
        }
    }
    let g = crate::config::DEBUG.gcprocs.load(Ordering::Relaxed);
    if g > 0 {
        n = n.min(g as usize);
    }
    let n = n.clamp(1, MAX_WORKERS);
    let mut workers = Vec::with_capacity(n);
    let mut stealers = Vec::with_capacity(n);
    for _ in 0..n {
        let w = Worker::new_lifo();
        stealers.push(w.stealer());
        workers.push(UnsafeCell::new(w));
    }
    // SAFETY: SETUP_LOCK held (see setup).
    unsafe {
        *core::ptr::addr_of_mut!(STATE) =
            Some(MarkState { injector: Injector::new(), workers, stealers, nworkers: n });
    }
}

/// Touches the calling thread's crossbeam epoch state (see `world::prepare`).
pub fn warm_thread() {
    // A private deque only: stealing from the shared injector here could take (and drop) a
    // root of a collection another thread is running.
    let w: Worker<Obj> = Worker::new_lifo();
    let s = w.stealer();
    let _ = s.steal();
}

pub fn nworkers() -> usize {
    state().nworkers
}

/// Number of workers used by the current/last mark (may be < nworkers via `set_active`).
pub fn active_workers() -> usize {
    ACTIVE_WORKERS.load(Ordering::Relaxed)
}

// ------------------------------------------------------------------------------------------
// Helper threads.

static GEN: AtomicU32 = AtomicU32::new(0);
static RUNNING: AtomicU32 = AtomicU32::new(0);

fn spawn_helper(id: usize) {
    extern "C" fn body(arg: *mut libc::c_void) -> *mut libc::c_void {
        let id = arg as usize;
        // GEN starts at 0 (and is reset to 0 in a forked child) and only grows: a helper that
        // starts late still sees the generation that is waiting for it.
        let mut seen = 0u32;
        loop {
            let g = GEN.load(Ordering::Acquire);
            if g == seen {
                futex_wait(&GEN, g);
                continue;
            }
            seen = g;
            if id < ACTIVE_WORKERS.load(Ordering::Acquire) {
                drain(id);
            }
            if RUNNING.fetch_sub(1, Ordering::AcqRel) == 1 {
                futex_wake(&RUNNING, 1);
            }
        }
    }
    if !crate::host::spawn(body, id as *mut libc::c_void, 256 << 10) {
        throw("runtime: cannot create GC helper thread");
    }
}

/// Non-zero while a mark is running (external helpers may join), and the number of external
/// helpers inside `external_help`.
static MARKING: AtomicU32 = AtomicU32::new(0);
static EXTERNAL: AtomicU32 = AtomicU32::new(0);

/// `runtime_gchelper`: a host thread lends itself to the running mark. It is not counted by the
/// termination protocol: it steals work, scans everything it took (and everything that work
/// led to, in a private deque) and leaves when it finds nothing; the coordinator waits for all
/// external helpers before the mark ends. Returns at once when no mark is running.
pub fn external_help() {
    if MARKING.load(Ordering::Acquire) == 0 {
        return;
    }
    EXTERNAL.fetch_add(1, Ordering::AcqRel);
    if MARKING.load(Ordering::Acquire) == 0 {
        EXTERNAL.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let st = state();
    let local = Worker::new_lifo();
    let mut cx = Ctx::new(&local, true);
    let n = ACTIVE_WORKERS.load(Ordering::Acquire);
    loop {
        while let Some(k) = cx.next() {
            let o = cx.slot(k);
            scan_obj(&mut cx, o);
        }
        match steal(st, cx.local, 0, n + 1) {
            Some(o) => scan_obj(&mut cx, o),
            None => break,
        }
    }
    EXTERNAL.fetch_sub(1, Ordering::AcqRel);
}

/// Runs the mark to completion with `nactive` workers (the caller is worker 0). Roots must
/// already be in the injector (see [`push_root`]).
pub fn run(nactive: usize) {
    let nactive = nactive.clamp(1, state().nworkers);
    // A single marker sets mark bits with plain stores, so no external helper may join it.
    if nactive > 1 {
        MARKING.store(1, Ordering::Release);
    }
    run_workers(nactive);
    MARKING.store(0, Ordering::Release);
    while EXTERNAL.load(Ordering::Acquire) != 0 {
        core::hint::spin_loop();
    }
}

fn run_workers(nactive: usize) {
    let st = state();
    ACTIVE_WORKERS.store(nactive, Ordering::Release);
    NSTEAL.store(0, Ordering::Relaxed);
    NSTEALCNT.store(0, Ordering::Relaxed);
    NYIELD.store(0, Ordering::Relaxed);
    IDLE.store(0, Ordering::Release);
    if nactive == 1 {
        // One worker: mark on this thread alone, without waking (and waiting for) helpers.
        drain(0);
        return;
    }
    let helpers = st.nworkers as u32 - 1;
    RUNNING.store(helpers, Ordering::Release);
    GEN.fetch_add(1, Ordering::AcqRel);
    futex_wake(&GEN, i32::MAX);
    drain(0);
    loop {
        let r = RUNNING.load(Ordering::Acquire);
        if r == 0 {
            break;
        }
        futex_wait(&RUNNING, r);
    }
}

/// Queues a root range for conservative scanning.
pub fn push_root(lo: usize, hi: usize) {
    let lo = (lo + 7) & !7;
    if hi <= lo {
        return;
    }
    let st = state();
    let mut p = lo;
    while p < hi {
        let n = (hi - p).min(CHUNK);
        st.injector.push(Obj { p, n, ti: TI_CONSERVATIVE });
        p += n;
    }
}

/// Queues an arbitrary object (finalizer roots etc.).
pub fn push_obj(o: Obj) {
    state().injector.push(o);
}

// ------------------------------------------------------------------------------------------
// The per-worker loop.

/// A worker's view. Work goes first to `stack`, a plain private vector (no atomics, no
/// fences); it spills its older half into the shared deque `local` when it grows past
/// [`STACK_SPILL`], or when another worker is idle and the deque is empty, so thieves always
/// find something while this worker is busy.
///
/// Between the stack and the scanner sits `ring`, a small FIFO: an object taken off the stack
/// is prefetched and scanned only RING - 1 pops later, so up to RING cache misses are in flight
/// at once instead of one (following many pointer chains at a time; the LIFO stack alone would
/// walk one chain, one miss after the other).
struct Ctx<'a> {
    local: &'a Worker<Obj>,
    stack: Vec<Obj>,
    ring: [Obj; RING],
    rhead: usize,
    rlen: usize,
    /// One-entry cache for `primary_ti`: the span primary type and block size last resolved,
    /// and their scan info.
    last_typ: usize,
    last_n: usize,
    last_ti: usize,
    /// One-entry cache for `compiled`: the program last looked up, and its slot in `progs`.
    last_pc: usize,
    last_slot: usize,
    /// Candidate pointers found by the scanner, waiting for their span-map entry and bitmap
    /// word to arrive (prefetched when queued): a circular buffer of CANDS entries.
    cands: [(usize, usize); CANDS],
    chead: usize,
    clen: usize,
    /// Start of the block being scanned (see `candidate`).
    cur: usize,
    /// The item being scanned by a GC program is a `GC_REGION` ([`TI_REGION`]).
    in_region: bool,
    lo: usize,
    hi: usize,
    /// Objects taken since the last look at idle workers (wraps at 256).
    since_check: u8,
    /// Mark bits are set with an atomic RMW (false only when this is the only marker).
    atomic: bool,
    /// GODEBUG=checkmark verification pass (read once per mark).
    verify: bool,
    progs: [Compiled; PROG_CACHE],
}

const STACK_SPILL: usize = 1024;
const RING: usize = 8;
const CANDS: usize = 16;
const PREFETCH_SPAN: bool = true;
const PROG_CACHE: usize = 64;
const EMPTY_OBJ: Obj = Obj { p: 0, n: 0, ti: 0 };

impl<'a> Ctx<'a> {
    fn new(local: &'a Worker<Obj>, atomic: bool) -> Self {
        Ctx {
            local,
            stack: Vec::with_capacity(STACK_SPILL + 1),
            ring: [EMPTY_OBJ; RING],
            rhead: 0,
            rlen: 0,
            last_typ: 0,
            last_n: usize::MAX,
            last_ti: TI_CONSERVATIVE,
            last_pc: usize::MAX,
            last_slot: 0,
            cands: [(0, 0); CANDS],
            chead: 0,
            clen: 0,
            cur: 0,
            in_region: false,
            lo: arena::start(),
            hi: arena::used(),
            since_check: 0,
            atomic,
            verify: VERIFY.load(Ordering::Acquire) != 0,
            progs: [Compiled::EMPTY; PROG_CACHE],
        }
    }

    #[inline(always)]
    fn push(&mut self, o: Obj) {
        self.push3(o.p, o.n, o.ti);
    }

    /// `push` with the fields in registers: building an `Obj` in a stack temporary and
    /// copying it as one 16-byte load defeats store forwarding on the hottest path.
    #[inline(always)]
    fn push3(&mut self, p: usize, n: usize, ti: usize) {
        let mut len = self.stack.len();
        if len >= STACK_SPILL {
            self.spill();
            len = self.stack.len();
        }
        // SAFETY: capacity is STACK_SPILL + 1 > len; the slot is initialised before set_len.
        unsafe {
            let d = self.stack.as_mut_ptr().add(len);
            core::ptr::addr_of_mut!((*d).p).write(p);
            core::ptr::addr_of_mut!((*d).n).write(n);
            core::ptr::addr_of_mut!((*d).ti).write(ti);
            self.stack.set_len(len + 1);
        }
    }

    #[cold]
    fn spill(&mut self) {
        let half = self.stack.len() / 2;
        for o in self.stack.drain(..half) {
            self.local.push(o);
        }
    }

    #[inline(always)]
    fn take(&mut self) -> Option<Obj> {
        match self.stack.pop() {
            Some(o) => Some(o),
            None => self.local.pop(),
        }
    }

    /// The ring slot holding the next object to scan (valid until the next call: only this
    /// function and `fill_ring` write the ring), or None when this worker has nothing left.
    /// Returning the slot rather than the object keeps its three words out of a temporary.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        self.since_check = self.since_check.wrapping_add(1);
        if self.since_check == 0 && self.stack.len() > 8 {
            self.share_if_idle();
        }
        // Steady state (one slot free since the last call) with an object on the stack: it
        // goes into the free slot behind the tail, and the head is returned; the ring keeps
        // RING - 1 objects in flight.
        let len = self.stack.len();
        if self.rlen == RING - 1 && len != 0 {
            let tail = (self.rhead + RING - 1) % RING;
            // SAFETY: element len - 1 is initialised; set_len moves it out (Obj is Copy).
            // tail < RING.
            unsafe {
                let src = self.stack.as_ptr().add(len - 1);
                self.stack.set_len(len - 1);
                let p = (*src).p;
                // Prefetch is a hint and never faults.
                core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0);
                let dst = self.ring.as_mut_ptr().add(tail);
                (*dst).p = p;
                (*dst).n = (*src).n;
                (*dst).ti = (*src).ti;
            }
            let k = self.rhead;
            self.rhead = (k + 1) % RING;
            return Some(k);
        }
        self.fill_ring();
        if self.rlen == 0 {
            // Nothing queued but candidates: resolving them may queue more.
            while self.clen > 0 {
                let (v, ti) = self.cands[self.chead];
                self.chead = (self.chead + 1) % CANDS;
                self.clen -= 1;
                mark_candidate(self, v, ti);
            }
            self.fill_ring();
            if self.rlen == 0 {
                return None;
            }
        }
        let k = self.rhead;
        self.rhead = (k + 1) % RING;
        self.rlen -= 1;
        Some(k)
    }

    /// The object in ring slot `k` (from `next`).
    #[inline(always)]
    fn slot(&self, k: usize) -> Obj {
        self.ring[k % RING]
    }

    /// Another worker is idle and this one's deque is empty: spill half of the private stack
    /// where it can be stolen.
    #[cold]
    fn share_if_idle(&mut self) {
        if IDLE.load(Ordering::Relaxed) & 0xffff_ffff != 0 && self.local.is_empty() {
            if self.stack.len() > 1 {
                self.spill();
            } else {
                self.spill_ring();
            }
        }
    }

    /// [`Ctx::share_if_idle`] with (almost) nothing on the stack: the newest half of the
    /// prefetch ring goes to the shared deque instead. At the end of a mark of long lists the
    /// ring may hold the last few lists, which would otherwise all be walked by this worker.
    fn spill_ring(&mut self) {
        let keep = self.rlen - self.rlen / 2;
        for i in keep..self.rlen {
            self.local.push(self.ring[(self.rhead + i) % RING]);
        }
        self.rlen = keep;
    }

    #[inline(always)]
    fn fill_ring(&mut self) {
        while self.rlen < RING {
            match self.take() {
                Some(o) => {
                    // SAFETY: prefetch is a hint and never faults.
                    unsafe { core::arch::x86_64::_mm_prefetch(o.p as *const i8, core::arch::x86_64::_MM_HINT_T0) };
                    self.ring[(self.rhead + self.rlen) % RING] = o;
                    self.rlen += 1;
                }
                None => break,
            }
        }
    }

    /// Queues candidate `v` (already known to lie in `[lo, hi)`), prefetching what
    /// `mark_candidate` will read first, and resolves the oldest candidate if the buffer is full.
    #[inline(always)]
    fn candidate(&mut self, v: usize, ti: usize) {
        // A pointer into the page being scanned: its span record and bitmap line are already
        // in cache (allocation-ordered data), so queueing it would only add work.
        if (v ^ self.cur) >> crate::config::PAGE_SHIFT == 0 {
            mark_candidate(self, v, ti);
            return;
        }
        // SAFETY: prefetches are hints and never fault; v is inside the arena, so its bitmap
        // word and spans-map slot are inside their (mapped) tables.
        unsafe {
            core::arch::x86_64::_mm_prefetch(bitmap::locate(v).0 as *const _ as *const i8, core::arch::x86_64::_MM_HINT_T0);
            if PREFETCH_SPAN {
                let s = arena::span_of_unchecked(v);
                if !s.is_null() {
                    // The fields mark_resolve reads fill the record's first two lines.
                    core::arch::x86_64::_mm_prefetch(s as *const i8, core::arch::x86_64::_MM_HINT_T0);
                    core::arch::x86_64::_mm_prefetch((s as *const i8).add(0x40), core::arch::x86_64::_MM_HINT_T0);
                }
            }
        }
        if self.clen == CANDS {
            let (ov, oti) = self.cands[self.chead];
            self.cands[self.chead] = (v, ti);
            self.chead = (self.chead + 1) % CANDS;
            mark_candidate(self, ov, oti);
        } else {
            self.cands[(self.chead + self.clen) % CANDS] = (v, ti);
            self.clen += 1;
        }
    }

    /// The slot in `progs` holding the compiled form of program `pc` (compiled on first use
    /// in this mark).
    #[inline(always)]
    fn compiled(&mut self, pc: usize) -> usize {
        if pc == self.last_pc {
            return self.last_slot;
        }
        let i = ((pc >> 3) ^ (pc >> 10)) % PROG_CACHE;
        self.last_pc = pc;
        self.last_slot = i;
        if self.progs[i].pc != pc {
            self.progs[i] = Compiled::compile(pc);
        }
        i
    }

    /// How to scan a block of `n` bytes whose type is its span's primary type `typ`, through a
    /// one-entry cache (a heap's spans mostly share a handful of types and sizes): see
    /// [`block_ti`].
    #[inline(always)]
    fn primary_ti(&mut self, typ: usize, n: usize) -> usize {
        if typ != self.last_typ || n != self.last_n {
            self.last_typ = typ;
            self.last_n = n;
            self.last_ti = block_ti(typ, n);
        }
        self.last_ti
    }
}

/// A GC program reduced to a pointer mask: programs made only of `GC_PTR`/`GC_APTR` at word
/// offsets inside an element of at most 64 words (at most 4 `GC_PTR`s) then `GC_END`, which is
/// what compilers emit for plain structs. Everything else keeps going through the interpreter.
#[derive(Clone, Copy)]
struct Compiled {
    pc: usize,
    /// Element size in bytes; 0: not compilable.
    elemsize: usize,
    /// Words holding pointers.
    mask: u64,
    /// Which of them are `GC_PTR` (with the pointee's program in `ptr_ti`, in word order).
    ptrmask: u64,
    ptr_ti: [usize; 4],
}

impl Compiled {
    const EMPTY: Compiled = Compiled { pc: 0, elemsize: 0, mask: 0, ptrmask: 0, ptr_ti: [0; 4] };

    #[cold]
    fn compile(pc: usize) -> Compiled {
        let none = Compiled { pc, ..Compiled::EMPTY };
        // SAFETY: pc is a GC program (word 0 is the element size, then instructions).
        let rd = |a: usize| unsafe { *(a as *const usize) };
        let es = rd(pc);
        if es == 0 || es > 64 * 8 || es % 8 != 0 {
            return none;
        }
        let mut c = Compiled { pc, elemsize: es, ..Compiled::EMPTY };
        let mut ptrs: [(usize, usize); 4] = [(0, 0); 4];
        let mut nptr = 0;
        let mut at = pc + 8;
        for _ in 0..=64 {
            let op = rd(at);
            if op == gcprog::GC_END {
                ptrs[..nptr].sort_unstable();
                for (k, &(_, ti)) in ptrs[..nptr].iter().enumerate() {
                    c.ptr_ti[k] = ti;
                }
                return c;
            }
            if op != gcprog::GC_APTR && op != gcprog::GC_PTR {
                return none;
            }
            let off = rd(at + 8);
            // `off >= es`, not `off + 8 > es`: a huge offset (a negative one) must not wrap past the test.
            if off % 8 != 0 || off >= es || c.mask & (1 << (off / 8)) != 0 {
                return none;
            }
            c.mask |= 1 << (off / 8);
            if op == gcprog::GC_PTR {
                if nptr == 4 {
                    return none;
                }
                ptrs[nptr] = (off, rd(at + 16));
                nptr += 1;
                c.ptrmask |= 1 << (off / 8);
                at += 24;
            } else {
                at += 16;
            }
        }
        none
    }
}

fn drain(id: usize) {
    let st = state();
    // SAFETY: worker `id`'s deque is used only by the thread running as worker `id`.
    let local = unsafe { &*st.workers[id].get() };
    let n = ACTIVE_WORKERS.load(Ordering::Acquire);
    let mut cx = Ctx::new(local, n > 1);
    loop {
        while let Some(k) = cx.next() {
            let o = cx.slot(k);
            scan_obj(&mut cx, o);
        }
        if let Some(o) = steal(st, cx.local, id, n) {
            scan_obj(&mut cx, o);
            continue;
        }
        if !wait_for_work(st, n) {
            break;
        }
    }
}

fn steal(st: &MarkState, local: &Worker<Obj>, id: usize, n: usize) -> Option<Obj> {
    loop {
        let mut retry = false;
        match st.injector.steal_batch_and_pop(local) {
            Steal::Success(o) => return Some(o),
            Steal::Retry => retry = true,
            Steal::Empty => {}
        }
        for k in 1..n {
            let v = (id + k) % n;
            if v >= st.stealers.len() {
                continue;
            }
            match st.stealers[v].steal_batch_and_pop(local) {
                Steal::Success(o) => {
                    NSTEAL.fetch_add(1, Ordering::Relaxed);
                    NSTEALCNT.fetch_add(1 + local.len() as u64, Ordering::Relaxed);
                    return Some(o);
                }
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if !retry {
            return None;
        }
    }
}

fn work_visible(st: &MarkState, n: usize) -> bool {
    !st.injector.is_empty() || st.stealers[..n].iter().any(|s| !s.is_empty())
}

/// Goes idle; returns true when there may be work again, false when marking is complete.
fn wait_for_work(st: &MarkState, n: usize) -> bool {
    IDLE.fetch_add(1, Ordering::AcqRel);
    let mut spins = 0u32;
    loop {
        let cur = IDLE.load(Ordering::Acquire);
        if cur == DONE {
            return false;
        }
        let (epoch, idle) = (cur >> 32, cur & 0xffff_ffff);
        if work_visible(st, n) {
            let next = ((epoch + 1) << 32) | (idle - 1);
            if IDLE.compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return true;
            }
            continue;
        }
        if idle as usize == n && IDLE.compare_exchange(cur, DONE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return false;
        }
        spins += 1;
        if spins < 64 {
            core::hint::spin_loop();
        } else {
            NYIELD.fetch_add(1, Ordering::Relaxed);
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }
}

// ------------------------------------------------------------------------------------------
// Scanning.

impl gcprog::Sink for Ctx<'_> {
    #[inline(always)]
    fn candidate(&mut self, p: usize, ti: usize) {
        self.candidate(p, ti);
    }
    #[inline]
    fn markonly(&mut self, p: usize) -> bool {
        markonly(p)
    }
    #[inline]
    fn region(&mut self, p: usize, n: usize, ti: usize) {
        let ti = if ti & !gcprog::PC_BITS != 0 { ti | TI_REGION } else { ti };
        push_split(self, Obj { p, n, ti });
    }
    #[inline]
    fn rescan(&mut self, b: usize, n: usize) {
        let ti = if self.in_region { TI_CONSERVATIVE } else { 0 };
        self.push(Obj { p: b, n, ti });
    }
    #[inline(always)]
    fn in_heap(&self, p: usize) -> bool {
        p >= self.lo && p < self.hi
    }
    #[inline]
    fn scanning_region(&self) -> bool {
        self.in_region
    }
}

/// Pushes `o`, split into CHUNK-sized pieces when it is untyped or a typed loop.
#[inline(always)]
fn push_split(cx: &mut Ctx<'_>, o: Obj) {
    push_split3(cx, o.p, o.n, o.ti);
}

#[inline(always)]
fn push_split3(cx: &mut Ctx<'_>, p: usize, n: usize, ti: usize) {
    if n <= CHUNK {
        cx.push3(p, n, ti);
    } else {
        push_big(cx, Obj { p, n, ti });
    }
}

#[cold]
fn push_big(cx: &mut Ctx<'_>, o: Obj) {
    if o.ti == TI_CONSERVATIVE {
        let mut p = o.p;
        let end = o.p + o.n;
        while p < end {
            let n = (end - p).min(CHUNK);
            cx.push(Obj { p, n, ti: TI_CONSERVATIVE });
            p += n;
        }
        return;
    }
    if o.ti & LOOP != 0 && o.ti & PRECISE != 0 {
        let pc = o.ti & !(gcprog::PC_BITS | TI_REGION);
        // SAFETY: pc is a GC program; word 0 is its element size.
        let esize = if pc == 0 { 0 } else { unsafe { *(pc as *const usize) } };
        if esize > 0 && esize <= CHUNK {
            let step = CHUNK / esize * esize;
            let mut p = o.p;
            let end = o.p + o.n;
            while p < end {
                let n = (end - p).min(step);
                cx.push(Obj { p, n, ti: o.ti });
                p += n;
            }
            return;
        }
    }
    cx.push(o);
}

/// Marks the block containing `v` without queueing it; true if this call marked it.
pub fn markonly(v: usize) -> bool {
    let s = arena::span_of(v);
    if s.is_null() {
        return false;
    }
    // SAFETY: spans-map entries point to live span records.
    let sp = unsafe { &*s };
    if sp.state != MSPAN_IN_USE || v >= sp.limit || v < sp.base() {
        return false;
    }
    let base = sp.obj_base(v);
    let (w, sh) = bitmap::locate(base);
    let x = w.load(Ordering::Relaxed) >> sh;
    if VERIFY.load(Ordering::Relaxed) != 0 {
        return x & bitmap::BIT_ALLOCATED != 0 && checkmark_visit(base, x, 0);
    }
    if x & bitmap::BIT_ALLOCATED == 0 || x & bitmap::BIT_MARKED != 0 {
        return false;
    }
    w.fetch_or(bitmap::BIT_MARKED << sh, Ordering::Relaxed) & (bitmap::BIT_MARKED << sh) == 0
}

/// Type info for scanning the block at `base` of span `sp` from its heap type record:
/// [`TI_CONSERVATIVE`] for untyped blocks, `pc|PRECISE(|LOOP)` for typed ones, [`TI_NONE`] when
/// the type has nothing to scan, 0 to decide in `scan_obj` (channels, invalid records).
#[inline(always)]
fn heap_ti(sp: &crate::heap::span::MSpan, base: usize) -> usize {
    type_ti(typeinfo::gettype_in(sp, base))
}

/// [`heap_ti`] for a type word.
#[inline(always)]
fn type_ti(typ: usize) -> usize {
    if typ == 0 {
        return TI_CONSERVATIVE;
    }
    let t = typ & !7;
    // SAFETY: the type word names a type descriptor; __gc is at offset 40.
    let pc = unsafe { *((t + 40) as *const usize) };
    match typ & 7 {
        TYPEINFO_SINGLE_OBJECT => {
            if pc == 0 {
                TI_NONE
            } else {
                pc | PRECISE
            }
        }
        // SAFETY: pc is a GC program; word 0 is its element size.
        TYPEINFO_ARRAY => {
            if pc == 0 || unsafe { *(pc as *const usize) } == 0 {
                TI_NONE
            } else {
                pc | PRECISE | LOOP
            }
        }
        _ => 0,
    }
}

/// Scan info for a block of `n` bytes of type word `typ`: [`type_ti`], except that a single
/// object whose program compiles to a pointer mask without `GC_PTR` words (a plain struct of
/// pointers and scalars), all inside the block's first 63 words and inside the block, gets a
/// [`TI_MASK`] scan info: scanning it sends the same candidates (each pointer word inside the
/// heap, no pointee type) without a program.
#[cold]
fn block_ti(typ: usize, n: usize) -> usize {
    let ti = type_ti(typ);
    if typ & 7 != TYPEINFO_SINGLE_OBJECT || ti == TI_NONE || ti == 0 || ti == TI_CONSERVATIVE {
        return ti;
    }
    let c = Compiled::compile(ti & !gcprog::PC_BITS);
    if c.elemsize == 0 || c.ptrmask != 0 || c.mask >> 63 != 0 {
        return ti;
    }
    if c.mask == 0 {
        return TI_NONE;
    }
    if TI_MASK | c.mask as usize == TI_NONE {
        // All 63 words hold pointers: that mask reads as "nothing to scan"; keep the program.
        return ti;
    }
    let extent = (64 - c.mask.leading_zeros() as usize) * 8;
    if extent > n || c.elemsize > n {
        return ti;
    }
    TI_MASK | c.mask as usize
}

/// Scan info for an untyped block of `n` bytes: every word may be a pointer. A block of at
/// most 62 words gets the mask of all its words ([`TI_MASK`]: the same candidates as the
/// word-by-word loop, scanned inline), a bigger one [`TI_CONSERVATIVE`]. (The mask of all 63
/// words would be [`TI_NONE`], "nothing to scan": a 504-byte untyped block, which efence
/// makes, since there a block is as long as its request, was never scanned.)
#[inline(always)]
fn untyped_ti(n: usize) -> usize {
    if n <= 62 * 8 {
        TI_MASK | ((1 << (n / 8)) - 1)
    } else {
        TI_CONSERVATIVE
    }
}

/// "Nothing to scan" (a typed block whose type has no program); never queued.
const TI_NONE: usize = usize::MAX;

/// The conservative/precise candidate filter: cheapest rejection first. Marks the block and
/// queues it with the type info it will be scanned with, resolved now (the span is at hand).
#[inline(always)]
fn mark_candidate(cx: &mut Ctx<'_>, v: usize, ti: usize) {
    if let Some((base, n, ti)) = mark_resolve(cx, v, ti) {
        push_split3(cx, base, n, ti);
    }
}

/// Marks the block containing candidate `v` (pointee type `ti`, or 0); when this call marked
/// it and it has something to scan, returns `(base, size, scan info)` for the caller to queue
/// or to scan at once.
#[inline(always)]
fn mark_resolve(cx: &mut Ctx<'_>, v: usize, ti: usize) -> Option<(usize, usize, usize)> {
    // Every caller checked v against [lo, hi), which is inside [arena_start, arena_used).
    debug_assert!(v >= cx.lo && v < cx.hi);
    let s = arena::span_of_unchecked(v);
    if s.is_null() {
        return None;
    }
    // SAFETY: spans-map entries point to live span records.
    let sp = unsafe { &*s };
    if sp.state != MSPAN_IN_USE || v >= sp.limit || v < sp.base() {
        return None;
    }
    let base = sp.obj_base(v);
    let (w, sh) = bitmap::locate(base);
    let full = w.load(Ordering::Relaxed);
    let x = full >> sh;
    if x & bitmap::BIT_ALLOCATED == 0 {
        return None;
    }
    if cx.verify {
        if !checkmark_visit(base, x, cx.cur) {
            return None;
        }
    } else {
        if x & bitmap::BIT_MARKED != 0 {
            return None;
        }
        let m = bitmap::BIT_MARKED << sh;
        if cx.atomic {
            // `lock or` without reading the old value back (a read-back compiles to a CAS
            // loop): two workers that both saw the bit clear both queue the block, which only
            // scans it twice; marking is idempotent.
            w.fetch_or(m, Ordering::Relaxed);
        } else {
            // The only marker (see `run`): nobody else writes bitmap words during the mark.
            w.store(full | m, Ordering::Relaxed);
        }
    }
    if x & bitmap::BIT_SCAN == 0 {
        return None;
    }
    let n = if sp.sizeclass == 0 { sp.limit - base } else { sp.elemsize };
    // A pointer into the middle of a block loses its type (it may be a field's address).
    let ti = if ti != 0 && base == (v & !7) {
        ti
    } else if x & bitmap::BIT_TYPED != 0 {
        // The span's primary type: no per-object table read (a cache miss on big heaps).
        cx.primary_ti(sp.types.primary, n)
    } else {
        table_ti(sp, base, n)
    };
    if ti == TI_NONE {
        return None;
    }
    Some((base, n, ti))
}

/// Scan info of the block at `base` (`n` bytes) of span `sp` when it does not carry the span's
/// primary type: from the per-object table, or every word for an untyped block.
#[inline(always)]
fn table_ti(sp: &crate::heap::span::MSpan, base: usize, n: usize) -> usize {
    if sp.types.compression == crate::heap::span::MTYPES_EMPTY {
        untyped_ti(n)
    } else {
        match heap_ti(sp, base) {
            TI_CONSERVATIVE => untyped_ti(n),
            t => t,
        }
    }
}

/// What marking a pointer into one page needs from the page's span, read once per page by
/// [`scan_mask`]: the block arithmetic, the limit, the block size and the primary type's scan
/// info. A span that is not in use gets `limit` 0, so nothing in it is marked.
struct PageSpan {
    sp: *const crate::heap::span::MSpan,
    base: usize,
    limit: usize,
    elemsize: usize,
    /// 0 in large spans (their one block starts at `base`).
    divmagic: u64,
    /// Block size (a large span's block ends at `limit`).
    n: usize,
    primary_ti: usize,
    /// The walk's fast case (see [`walk_page`]): the bitmap entry (under [`WALK_BITS`]) of the
    /// blocks it takes, and their scan info, a pointer mask (0: no fast case in this span).
    /// Blocks of the span's primary type when that type scans by mask, or the untyped blocks
    /// of a span that has no types at all.
    walk_bits: usize,
    walk_ti: usize,
}

impl PageSpan {
    /// The span of the page holding `p` (a block being scanned, so inside the arena).
    #[inline(never)]
    fn of(cx: &mut Ctx<'_>, p: usize) -> PageSpan {
        let s = arena::span_of_unchecked(p);
        let mut ps =
            PageSpan { sp: s, base: 0, limit: 0, elemsize: 0, divmagic: 0, n: 0, primary_ti: TI_NONE, walk_bits: 0, walk_ti: 0 };
        if s.is_null() {
            return ps;
        }
        // SAFETY: spans-map entries point to live span records; the world is stopped.
        let sp = unsafe { &*s };
        if sp.state != MSPAN_IN_USE {
            return ps;
        }
        ps.base = sp.base();
        ps.limit = sp.limit;
        ps.elemsize = sp.elemsize;
        ps.divmagic = sp.divmagic;
        ps.n = if sp.sizeclass == 0 { sp.limit - ps.base } else { sp.elemsize };
        if sp.types.primary != 0 {
            ps.primary_ti = cx.primary_ti(sp.types.primary, ps.n);
            if ps.primary_ti & TI_MASK != 0 && ps.primary_ti != TI_NONE {
                (ps.walk_bits, ps.walk_ti) = (WALK_TYPED, ps.primary_ti);
            }
        } else if sp.types.compression == crate::heap::span::MTYPES_EMPTY {
            let t = untyped_ti(ps.n);
            if t & TI_MASK != 0 {
                (ps.walk_bits, ps.walk_ti) = (WALK_UNTYPED, t);
            }
        }
        ps
    }
}

/// [`mark_resolve`] for a candidate `v` in the page of [`PageSpan`] `ps` (so inside the
/// arena and at or above the span's base), outside checkmark verification, for the candidates
/// [`walk_page`] does not take in its fast case (out of line): returns the block's base and
/// scan info when this call marked it and it has something to scan. `ATOMIC` and `bm` are the
/// walk's mark-bit mode and bitmap locator.
#[cold]
#[inline(never)]
fn mark_in_page<const ATOMIC: bool>(ps: &PageSpan, v: usize, bm: bitmap::Locator) -> Option<(usize, usize)> {
    if v >= ps.limit {
        return None;
    }
    let base = ps.base + (((v - ps.base) as u64 * ps.divmagic) >> 32) as usize * ps.elemsize;
    let (w, sh) = bm.locate(base);
    let full = w.load(Ordering::Relaxed);
    let x = full >> sh;
    if x & bitmap::BIT_ALLOCATED == 0 || x & bitmap::BIT_MARKED != 0 {
        return None;
    }
    let m = bitmap::BIT_MARKED << sh;
    if ATOMIC {
        // See mark_resolve.
        w.fetch_or(m, Ordering::Relaxed);
    } else {
        w.store(full | m, Ordering::Relaxed);
    }
    if x & bitmap::BIT_SCAN == 0 {
        return None;
    }
    let ti = if x & bitmap::BIT_TYPED != 0 {
        ps.primary_ti
    } else {
        // SAFETY: ps.sp is the live, in-use span of the page (ps.limit != 0).
        table_ti(unsafe { &*ps.sp }, base, ps.n)
    };
    if ti == TI_NONE {
        return None;
    }
    Some((base, ti))
}

/// Scans one work item.
#[inline(always)]
fn scan_obj(cx: &mut Ctx<'_>, o: Obj) {
    // The fields one by one: a call that took the whole Obj would keep it in memory.
    let Obj { p, n, ti } = o;
    cx.cur = p;
    if ti & TI_MASK != 0 {
        scan_mask(cx, p, ti);
    } else if ti == TI_CONSERVATIVE {
        conservative(cx, p, n);
    } else if ti != 0 {
        scan_prog(cx, p, n, ti);
    } else {
        scan_untyped_item(cx, p, n);
    }
}

/// Runs GC program `ti` over `[p, p+n)`: through its compiled mask when it has one.
#[inline(always)]
fn scan_prog(cx: &mut Ctx<'_>, p: usize, n: usize, ti: usize) {
    let region = ti & TI_REGION != 0;
    let ti = ti & !TI_REGION;
    let pc = ti & !gcprog::PC_BITS;
    if pc == 0 {
        return;
    }
    let k = cx.compiled(pc);
    let (elemsize, mask, ptrmask) = (cx.progs[k].elemsize, cx.progs[k].mask, cx.progs[k].ptrmask);
    if elemsize == 0 || elemsize > n {
        cx.in_region = region;
        gcprog::scan(p, n, Start::from_ti(ti), cx);
        cx.in_region = false;
        return;
    }
    let end = p + n;
    let mut e = p;
    loop {
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            // SAFETY: word i lies inside the element, which lies inside the block.
            let v = unsafe { *((e + i * 8) as *const usize) };
            if v >= cx.lo && v < cx.hi {
                let t = if ptrmask & (1 << i) != 0 {
                    cx.progs[k].ptr_ti[(ptrmask & ((1u64 << i) - 1)).count_ones() as usize]
                } else {
                    0
                };
                cx.candidate(v, t);
            }
            m &= m - 1;
        }
        e += elemsize;
        if ti & LOOP == 0 || e + elemsize > end {
            break;
        }
    }
    if ti & PRECISE == 0 {
        // Not precise: anything after the described part means the block is not what the
        // program says (interpreter's tail rule): rescan it by its own heap type.
        let mut a = if ti & LOOP != 0 { e } else { p + elemsize };
        while a + 8 <= end {
            // SAFETY: inside the block.
            if unsafe { *(a as *const usize) } != 0 {
                cx.push(Obj { p, n, ti: if region { TI_CONSERVATIVE } else { 0 } });
                break;
            }
            a += 8;
        }
    }
}

/// Scans the pointer words of the block at `p` named by mask scan info `ti` ([`TI_MASK`]).
///
/// Pointers to other pages take the usual path ([`Ctx::candidate`]). The first pointer into
/// the block's own page hands the rest of the scan to [`walk_page`], which marks pointers into
/// that page with the page's span read once.
#[inline(always)]
fn scan_mask(cx: &mut Ctx<'_>, p: usize, ti: usize) {
    if cx.verify {
        scan_mask_verify(cx, p, ti);
        return;
    }
    let mut m = (ti & !TI_MASK) as u64;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        // SAFETY: block_ti and untyped_ti only make masks whose words lie inside the block.
        let v = unsafe { *((p + i * 8) as *const usize) };
        if (v ^ p) >> crate::config::PAGE_SHIFT == 0 {
            // Word i again, with the words after it.
            if cx.atomic {
                walk_page::<true>(cx, p, m);
            } else {
                walk_page::<false>(cx, p, m);
            }
            return;
        }
        if v >= cx.lo && v < cx.hi {
            cx.candidate(v, 0);
        }
        m &= m - 1;
    }
}

/// How far ahead of the block it scans next the page walk prefetches (bytes). Allocation-
/// ordered data is walked front to back, one dependent load after another (a list's next
/// node), and the hardware's stream prefetch stops at every 4 KiB page, so without this each
/// 4 KiB began with misses the walk waited for one by one. markbench, 256 MiB allocation
/// order, on a 2-core Xeon VM: 1 worker 78 -> 33 ms, 2 workers 38 -> 17 ms (distances of
/// 1024 to 8192 came within 10% of each other; 256 gained little); shuffled heaps, whose walks
/// rarely stay in a page, and the tree benchmarks were unchanged.
const WALK_PREFETCH: usize = 2048;

/// The bits of a block's bitmap entry that [`walk_page`]'s fast case tests.
const WALK_BITS: usize = bitmap::BIT_ALLOCATED | bitmap::BIT_SCAN | bitmap::BIT_MARKED | bitmap::BIT_TYPED;
/// What they must be for a block of the span's primary type: allocated, may hold pointers,
/// of the primary type, not marked yet.
const WALK_TYPED: usize = bitmap::BIT_ALLOCATED | bitmap::BIT_SCAN | bitmap::BIT_TYPED;
/// The same for an untyped block (in a span without types).
const WALK_UNTYPED: usize = bitmap::BIT_ALLOCATED | bitmap::BIT_SCAN;

/// Scans the words `m` of block `p` and then, in the same loop, the blocks it leads to in its
/// own page (allocation-ordered data: a list's next node, a tree node's child), and then in the
/// pages after it.
///
/// The page's span is read once ([`PageSpan`]). Of the blocks a scanned block marks in the
/// page, the first one that has a mask scan info is scanned next, here, instead of going
/// through the stack and the prefetch ring; the others are queued. The inner walk
/// ([`walk_page_in`]) never leaves the page, so its `PageSpan` stays valid; the first pointer
/// it meets into the next page is handed back, resolved here (`mark_resolve`), and when it
/// names a block scanned by mask the walk starts over in that page. Any other pointer out of
/// the page goes to the candidate pipeline.
///
/// The common candidate (the start of an unmarked block of the span's primary type, when that
/// type scans by mask, or of an untyped block in a span without types: `PageSpan::walk_ti`)
/// is recognised by one test of its bitmap entry: an allocated bit at the
/// candidate's own word means a block starts there. Its mark bit is not written at once: the
/// walk reads a bitmap word once, sets mark bits in its copy, and writes the copy's mark bits
/// back with one store when it moves to another bitmap word or ends ([`leave_word`]: with
/// several workers a plain store of the mark plane when the word is left fully marked, else a
/// `lock or`). A common candidate in another word that the walk will only queue (it already
/// has the block to go on with) is marked in its own word directly instead, keeping the
/// walk's copy: a tree node's right child, while the walk descends to the left. So the walk
/// never marks a block twice itself; another worker (or this worker's candidate pipeline) may
/// still see the block unmarked meanwhile and scan it a second time, which costs time but is
/// harmless, as with the unread-back atomic `or` of `mark_resolve`.
/// Neither write-back loses a bit set meanwhile by anyone else (see [`leave_word`]). Every
/// other candidate goes through [`mark_in_page`], which marks in the bitmap directly (the walk
/// writes its copy back first and reads the word again after).
#[inline(never)]
fn walk_page<const ATOMIC: bool>(cx: &mut Ctx<'_>, p: usize, m: u64) {
    let (mut p, mut m) = (p, m);
    loop {
        let ps = PageSpan::of(cx, p);
        let follow = if ps.walk_ti != 0 {
            walk_page_in::<ATOMIC, true>(cx, &ps, p, m)
        } else {
            walk_page_in::<ATOMIC, false>(cx, &ps, p, m)
        };
        if follow == 0 {
            return;
        }
        // The walk found a pointer into the next page: go on there if it names a block to
        // scan by mask (a list or a tree that continues in allocation order), so the scan
        // runs on through memory in order and the hardware's sequential prefetch keeps up.
        // A long walk does not pass through `next`, which shares work with idle workers.
        cx.share_if_idle();
        match mark_resolve(cx, follow, 0) {
            Some((b, _, t)) if t & TI_MASK != 0 => {
                (p, m) = (b, (t & !TI_MASK) as u64);
                cx.cur = p;
            }
            Some((b, n, t)) => {
                push_split3(cx, b, n, t);
                return;
            }
            None => return,
        }
    }
}

/// [`walk_page`] over the page of `ps`; `FAST`: the span has a fast case (`walk_ti`).
/// Returns the first pointer it found into the next page (0: none), which it left to the
/// caller.
#[inline(always)]
fn walk_page_in<const ATOMIC: bool, const FAST: bool>(cx: &mut Ctx<'_>, ps: &PageSpan, p: usize, m: u64) -> usize {
    let mut follow = 0usize;
    let limit = ps.limit;
    let (want, fti) = (ps.walk_bits, ps.walk_ti);
    let fmask = (fti & !TI_MASK) as u64;
    // Words outside [lo, hi) are no heap pointers (one compare: v - lo < hi - lo).
    let (lo, hlen) = (cx.lo, cx.hi - cx.lo);
    let bm = bitmap::Locator::current();
    // The bitmap word being worked on: its index (`Locator::index`; 0 is no heap word's) and
    // its value as this walk knows it: read once, then or'ed with the marks this walk made in
    // it, which reach the bitmap when the walk moves to another word or ends (`flush_marks`).
    // `wnew`: the mark bits of `wv` that this walk set and has not written yet.
    let (mut widx, mut wv, mut wnew) = (0usize, 0usize, 0usize);
    let (mut p, mut m) = (p, m);
    loop {
        let (mut next, mut nmask) = (0usize, 0u64);
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            // SAFETY: as in scan_mask (the mask is the block's scan info).
            let v = unsafe { *((p + i * 8) as *const usize) };
            if (v ^ p) >> crate::config::PAGE_SHIFT != 0 {
                if v.wrapping_sub(lo) < hlen {
                    if follow == 0 && (v >> crate::config::PAGE_SHIFT).wrapping_sub(p >> crate::config::PAGE_SHIFT) == 1 {
                        follow = v;
                    } else {
                        off_page(cx, v);
                    }
                }
                continue;
            }
            if v >= limit {
                continue;
            }
            let idx = bitmap::Locator::index(v);
            let sh = bitmap::Locator::shift(v);
            if idx != widx {
                // SAFETY: the bitmap word of v, inside the bitmap mapping.
                let w = unsafe { &*(bm.word_at(idx) as *const AtomicUsize) };
                if FAST && next != 0 {
                    // A second block to queue, in another bitmap word (a tree node's right
                    // child, when the walk goes on with the left one): marked in its own
                    // word, so the walk keeps the word it works on and does not write it
                    // out and read it back twice for this one mark.
                    let x = w.load(Ordering::Relaxed);
                    if (x >> sh) & WALK_BITS == want {
                        let mb = bitmap::BIT_MARKED << sh;
                        if ATOMIC {
                            // See mark_resolve.
                            w.fetch_or(mb, Ordering::Relaxed);
                        } else {
                            // The only marker; the walk holds no copy of this word.
                            w.store(x | mb, Ordering::Relaxed);
                        }
                        queue_block(cx, v & !7, ps.n, fti);
                        continue;
                    }
                }
                leave_word::<ATOMIC>(bm, widx, wv, wnew);
                widx = idx;
                wv = w.load(Ordering::Relaxed);
                wnew = 0;
            }
            if FAST && (wv >> sh) & WALK_BITS == want {
                wv |= bitmap::BIT_MARKED << sh;
                if ATOMIC {
                    wnew |= bitmap::BIT_MARKED << sh;
                }
                if next == 0 {
                    (next, nmask) = (v & !7, fmask);
                } else {
                    queue_block(cx, v & !7, ps.n, fti);
                }
            } else if (wv >> sh) & bitmap::BIT_MARKED == 0 {
                // Out of the fast case: write this walk's marks first, and read the word
                // again afterwards (the slow path marks in the bitmap itself).
                flush_marks::<ATOMIC>(bm, widx, if ATOMIC { wnew } else { wv & bitmap::MARKED_BITS });
                (widx, wnew) = (0, 0);
                if let Some((b, t)) = mark_in_page::<ATOMIC>(ps, v, bm) {
                    if next == 0 && t & TI_MASK != 0 {
                        (next, nmask) = (b, (t & !TI_MASK) as u64);
                    } else {
                        queue_block(cx, b, ps.n, t);
                    }
                }
            }
        }
        if next == 0 {
            break;
        }
        // SAFETY: a prefetch is a hint and never faults, whatever the address.
        unsafe { core::arch::x86_64::_mm_prefetch(next.wrapping_add(WALK_PREFETCH) as *const i8, core::arch::x86_64::_MM_HINT_T0) };
        (p, m) = (next, nmask);
    }
    leave_word::<ATOMIC>(bm, widx, wv, wnew);
    follow
}

/// [`walk_page`] moves off bitmap word `idx` (0: none), whose value it knows as `wv`, with the
/// mark bits it set there (`bits`, with several workers) not yet written. A single worker
/// writes them with a plain store. With several, when `wv` has every block of the word marked
/// the whole mark plane goes out with a plain store too ([`bitmap::publish_all_marked`]: what
/// an allocation-ordered walk leaves behind, word after word), else `bits` with a `lock or`.
/// (A locked instruction per 128 heap bytes was what kept two workers from scaling: on the
/// machine measured it cost as much as the rest of the walk.)
#[inline(always)]
fn leave_word<const ATOMIC: bool>(bm: bitmap::Locator, idx: usize, wv: usize, bits: usize) {
    if idx == 0 || (ATOMIC && bits == 0) {
        return;
    }
    if ATOMIC {
        if bitmap::all_marked(wv) {
            // SAFETY: idx is the index of a bitmap word inside the bitmap mapping; a mark runs.
            unsafe { bitmap::publish_all_marked(bm.word_at(idx), wv) };
        } else {
            flush_marks::<true>(bm, idx, bits);
        }
    } else {
        flush_marks::<false>(bm, idx, wv & bitmap::MARKED_BITS);
    }
}

/// [`walk_page`]'s pointer (inside the heap) to another page: the candidate pipeline (out of
/// line, so the walk keeps its loop state in registers).
#[cold]
#[inline(never)]
fn off_page(cx: &mut Ctx<'_>, v: usize) {
    cx.candidate(v, 0);
}

/// [`walk_page`] queueing a block it marked (out of line, as [`off_page`]).
#[cold]
#[inline(never)]
fn queue_block(cx: &mut Ctx<'_>, b: usize, n: usize, ti: usize) {
    push_split3(cx, b, n, ti);
}

/// Writes mark bits `bits` (a subset of [`bitmap::MARKED_BITS`]) that [`walk_page`] set in
/// its copy of the bitmap word with index `idx` (0: none) into that word. The word is read
/// again (by the `lock or`, or explicitly), so no bit set meanwhile by anyone else is lost.
#[inline(always)]
fn flush_marks<const ATOMIC: bool>(bm: bitmap::Locator, idx: usize, bits: usize) {
    if idx == 0 || bits == 0 {
        return;
    }
    // SAFETY: idx is the index of a bitmap word inside the bitmap mapping.
    let w = unsafe { &*(bm.word_at(idx) as *const AtomicUsize) };
    if ATOMIC {
        w.fetch_or(bits, Ordering::Relaxed);
    } else {
        // The only marker: nobody else writes bitmap words during the mark.
        w.store(w.load(Ordering::Relaxed) | bits, Ordering::Relaxed);
    }
}

/// [`scan_mask`] during checkmark verification: every candidate through `mark_resolve`.
#[cold]
fn scan_mask_verify(cx: &mut Ctx<'_>, p: usize, ti: usize) {
    let mut m = ti & !TI_MASK;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        // SAFETY: as in scan_mask.
        let v = unsafe { *((p + i * 8) as *const usize) };
        if v >= cx.lo && v < cx.hi {
            cx.candidate(v, 0);
        }
        m &= m - 1;
    }
}

/// A work item with no type info: rescans and channels look up the heap's record.
#[cold]
fn scan_untyped_item(cx: &mut Ctx<'_>, p: usize, n: usize) {
    let o = Obj { p, n, ti: 0 };
    let s = arena::span_of(o.p);
    let typ = if s.is_null() {
        0
    } else {
        // SAFETY: live span record; the world is stopped so its type table is stable.
        let sp = unsafe { &*s };
        if sp.state == MSPAN_IN_USE { typeinfo::gettype_in(sp, o.p) } else { 0 }
    };
    match type_ti(typ) {
        TI_NONE => {}
        // Channels (and invalid records) have no program word to queue with.
        0 if typ & 7 == TYPEINFO_CHAN => gcprog::scan(o.p, o.n, Start::Chan { chantype: typ & !7 }, cx),
        0 => {
            crate::rprint!("scanblock {:#x} {} type {:#x}\n", o.p, o.n, typ);
            throw("scanblock: invalid type");
        }
        // Big blocks go back to the queue in CHUNK pieces (see push_split).
        ti if o.n > CHUNK => push_split(cx, Obj { p: o.p, n: o.n, ti }),
        TI_CONSERVATIVE => conservative(cx, o.p, o.n),
        ti => scan_prog(cx, o.p, o.n, ti),
    }
}

/// Scans `[p, p+n)` word by word for anything that looks like a heap pointer.
#[inline]
fn conservative(cx: &mut Ctx<'_>, p: usize, n: usize) {
    let (lo, hi) = (cx.lo, cx.hi);
    let mut a = p & !7;
    let end = p + n;
    while a + 8 <= end {
        // SAFETY: the range is a root range, a stack, or a heap block being scanned.
        let v = unsafe { core::ptr::read_volatile(a as *const usize) };
        if v >= lo && v < hi {
            cx.candidate(v, 0);
        }
        a += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::gcprog::{GC_APTR, GC_CALL, GC_END, GC_PTR, GC_STRING};

    fn compile(prog: &[usize]) -> Compiled {
        Compiled::compile(prog.as_ptr() as usize)
    }

    #[test]
    fn compiles_plain_structs_to_masks() {
        // struct { *T (GC_PTR with a program); int; unsafe ptr; int } of 32 bytes
        let elem = [8usize, GC_END];
        let eti = elem.as_ptr() as usize;
        let p = [32, GC_APTR, 16, GC_PTR, 0, eti, GC_END];
        let c = compile(&p);
        assert_eq!(c.elemsize, 32);
        assert_eq!(c.mask, 0b101);
        assert_eq!(c.ptrmask, 0b001);
        assert_eq!(c.ptr_ti[0], eti, "GC_PTR keeps its pointee program");
        // Several GC_PTRs: their programs are kept in word order whatever the program order.
        let p = [64, GC_PTR, 40, 7 * 8, GC_PTR, 8, 3 * 8, GC_APTR, 0, GC_END];
        let c = compile(&p);
        assert_eq!(c.mask, (1 << 5) | (1 << 1) | 1);
        assert_eq!(c.ptrmask, (1 << 5) | (1 << 1));
        assert_eq!(&c.ptr_ti[..2], &[24, 56]);
        // No pointers at all: an empty mask (nothing to scan, still compiled).
        let c = compile(&[16, GC_END]);
        assert_eq!((c.elemsize, c.mask), (16, 0));
        // A slot outside the element (a negative offset, the last word of the element
        // before: the interpreter reads it) is not compiled; offset -8 used to wrap past the
        // bound check and set mask bit 63 (found by fuzz/gcprog.c).
        for off in [0usize.wrapping_sub(8), 0usize.wrapping_sub(64), 296, 1 << 40] {
            assert_eq!(compile(&[296, GC_APTR, off, GC_END]).elemsize, 0, "offset {off:#x}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_interpreter() {
        let not = |p: &[usize]| compile(p).elemsize == 0;
        assert!(not(&[0, GC_END]), "element size 0");
        assert!(not(&[65 * 8, GC_APTR, 0, GC_END]), "more than 64 words");
        assert!(not(&[12, GC_APTR, 0, GC_END]), "size not a multiple of 8");
        assert!(not(&[32, GC_APTR, 4, GC_END]), "unaligned offset");
        assert!(not(&[32, GC_APTR, 32, GC_END]), "offset past the element");
        assert!(not(&[32, GC_APTR, 8, GC_APTR, 8, GC_END]), "the same word twice");
        assert!(not(&[32, GC_STRING, 0, GC_END]), "strings");
        assert!(not(&[32, GC_CALL, 0, 0, GC_END]), "calls");
        assert!(not(&[64, GC_PTR, 0, 8, GC_PTR, 8, 8, GC_PTR, 16, 8, GC_PTR, 24, 8, GC_PTR, 32, 8, GC_END]), "5 GC_PTRs");
        assert!(not(&[32, 99, GC_END]), "unknown opcodes reach the interpreter (and its fatal error)");
        // A program without GC_END within 65 instructions is not compiled either.
        let mut long = vec![64 * 8];
        for i in 0..64 {
            long.extend_from_slice(&[GC_APTR, i * 8]);
        }
        long.extend_from_slice(&[GC_APTR, 0, GC_END]);
        assert!(not(&long));
    }

    #[test]
    fn heap_type_to_scan_info() {
        use crate::config::{TYPEINFO_ARRAY, TYPEINFO_CHAN, TYPEINFO_SINGLE_OBJECT};
        // A fake type descriptor: only the __gc word at offset 40 is read.
        let prog = [16usize, GC_APTR, 0, GC_END];
        let mut desc = [0usize; 8];
        desc[5] = prog.as_ptr() as usize;
        let t = desc.as_ptr() as usize;
        let pc = prog.as_ptr() as usize;
        assert_eq!(type_ti(0), TI_CONSERVATIVE);
        assert_eq!(type_ti(t | TYPEINFO_SINGLE_OBJECT), pc | PRECISE);
        assert_eq!(type_ti(t | TYPEINFO_ARRAY), pc | PRECISE | LOOP);
        assert_eq!(type_ti(t | TYPEINFO_CHAN), 0, "channels are resolved when scanned");
        let none = [0usize; 8];
        assert_eq!(type_ti(none.as_ptr() as usize | TYPEINFO_SINGLE_OBJECT), TI_NONE);
        let zero_elem = [0usize, GC_END];
        let mut desc2 = [0usize; 8];
        desc2[5] = zero_elem.as_ptr() as usize;
        assert_eq!(type_ti(desc2.as_ptr() as usize | TYPEINFO_ARRAY), TI_NONE);
    }

    /// Single objects of plain-struct types get a pointer mask, checked against the block.
    #[test]
    fn mask_scan_info_for_plain_structs() {
        use crate::config::{TYPEINFO_ARRAY, TYPEINFO_SINGLE_OBJECT};
        let ti = |prog: &[usize], kind: usize, n: usize| {
            let mut desc = [0usize; 8];
            desc[5] = prog.as_ptr() as usize;
            (block_ti(desc.as_ptr() as usize | kind, n), prog.as_ptr() as usize)
        };
        let node = [16usize, GC_APTR, 0, GC_APTR, 8, GC_END];
        assert_eq!(ti(&node, TYPEINFO_SINGLE_OBJECT, 16).0, TI_MASK | 0b11, "struct of two plain pointers");
        let (t, pc) = ti(&node, TYPEINFO_SINGLE_OBJECT, 8);
        assert_eq!(t, pc | PRECISE, "a block smaller than the type keeps the program");
        let (t, pc) = ti(&node, TYPEINFO_ARRAY, 64);
        assert_eq!(t, pc | PRECISE | LOOP, "arrays keep their program");
        let with_int = [24usize, GC_APTR, 8, GC_END];
        assert_eq!(ti(&with_int, TYPEINFO_SINGLE_OBJECT, 32).0, TI_MASK | 0b10, "scalars are skipped");
        let typed_ptr = [16usize, GC_APTR, 0, GC_PTR, 8, 0x1000, GC_END];
        let (t, pc) = ti(&typed_ptr, TYPEINFO_SINGLE_OBJECT, 16);
        assert_eq!(t, pc | PRECISE, "GC_PTR carries a pointee type");
        let string = [16usize, GC_STRING, 0, GC_END];
        let (t, pc) = ti(&string, TYPEINFO_SINGLE_OBJECT, 16);
        assert_eq!(t, pc | PRECISE, "not a plain pointer");
        let mut last = vec![64 * 8, GC_APTR, 63 * 8, GC_END];
        let (t, pc) = ti(&last, TYPEINFO_SINGLE_OBJECT, 512);
        assert_eq!(t, pc | PRECISE, "word 63 does not fit the mask");
        last[2] = 62 * 8;
        assert_eq!(ti(&last, TYPEINFO_SINGLE_OBJECT, 512).0, TI_MASK | (1 << 62));
        assert_eq!(ti(&[16usize, GC_END], TYPEINFO_SINGLE_OBJECT, 16).0, TI_NONE, "no pointers: nothing to scan");
        assert_eq!(block_ti(0, 16), TI_CONSERVATIVE);
        // Untyped blocks: every word, up to 63 of them.
        assert_eq!(untyped_ti(16), TI_MASK | 0b11);
        assert_eq!(untyped_ti(496), TI_MASK | ((1 << 62) - 1));
        assert_eq!(untyped_ti(504), TI_CONSERVATIVE, "63 words: the full mask would read as TI_NONE");
        assert_eq!(untyped_ti(512), TI_CONSERVATIVE);
        for n in (0..=1024).step_by(8) {
            assert_ne!(untyped_ti(n), TI_NONE, "untyped block of {n} bytes would not be scanned");
        }
        // A struct of 63 plain pointers keeps its program (its mask would be TI_NONE).
        let mut all63 = vec![63 * 8];
        for w in 0..63 {
            all63.extend_from_slice(&[GC_APTR, w * 8]);
        }
        all63.push(GC_END);
        let (t, pc) = ti(&all63, TYPEINFO_SINGLE_OBJECT, 512);
        assert_eq!(t, pc | PRECISE, "a struct of 63 pointers is scanned by its program");
        all63.truncate(all63.len() - 3);
        all63[0] = 62 * 8;
        all63.push(GC_END);
        assert_eq!(ti(&all63, TYPEINFO_SINGLE_OBJECT, 512).0, TI_MASK | ((1 << 62) - 1));
    }
}
