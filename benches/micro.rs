//! Micro-benchmarks of gogc's hot paths, with a small self-contained harness (no criterion):
//! the allocation fast path (`mallocgc`), the GC-program interpreter and the mark loop.
//!
//!   cargo bench --bench micro                 # everything, a markdown table on stdout
//!   cargo bench --bench micro -- --quick      # fewer and shorter samples
//!   cargo bench --bench micro -- gcprog       # only the rows whose name contains "gcprog"
//!
//! Method: every row runs a warm-up, then N samples (default 21, quick 7; the mark rows 7 and
//! 3, since each sample is a full collection); each sample times a batch of operations with
//! `std::time::Instant` and is divided by the batch size. The table gives the median, the
//! fastest and the slowest sample. `std::hint::black_box` keeps results and inputs opaque to
//! the optimiser.
//!
//! Environment: MICRO_MARK_MIB (live heap of the mark rows, default 64; quick 16).
//!
//! The library is reached through `gogc::bench_api`, thin wrappers kept for this file.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gogc::bench_api::{self as api, Kind, Sink};
use gogc::ffi::types::GoType;

// ---------------------------------------------------------------------------------------------
// Harness.

struct Opts {
    quick: bool,
    filters: Vec<String>,
}

struct Row {
    name: String,
    unit: &'static str,
    median: f64,
    min: f64,
    max: f64,
    samples: usize,
    note: String,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Bench {
    opts: Opts,
    rows: Vec<Row>,
}

impl Bench {
    fn wanted(&self, name: &str) -> bool {
        self.opts.filters.is_empty() || self.opts.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Runs `sample` (which does `ops` operations and returns the nanoseconds it timed) once to
    /// warm up and then `n` times; records ns per operation.
    fn run(&mut self, name: &str, ops: usize, n: usize, mut sample: impl FnMut() -> u64) -> Option<f64> {
        if !self.wanted(name) {
            return None;
        }
        black_box(sample());
        let mut v: Vec<f64> = (0..n).map(|_| sample() as f64 / ops as f64).collect();
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        let med = median(&mut v);
        self.rows.push(Row {
            name: name.to_string(),
            unit: "ns/op",
            median: med,
            min,
            max,
            samples: n,
            note: String::new(),
        });
        eprintln!("micro: {name}: {med:.2} ns/op");
        Some(med)
    }

    fn samples(&self) -> usize {
        if self.opts.quick { 7 } else { 21 }
    }
}

fn fmt(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn elapsed_ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

// ---------------------------------------------------------------------------------------------
// Type descriptors with GC programs (libgo layout: word 0 element size, then instructions).

const GC_END: usize = 0;
const GC_PTR: usize = 1;
const GC_APTR: usize = 2;
const GC_ARRAY_START: usize = 3;
const GC_ARRAY_NEXT: usize = 4;
const GC_CALL: usize = 5;
const GC_STRING: usize = 7;
const GC_EFACE: usize = 8;
const GC_SLICE: usize = 10;
const PRECISE: usize = 1;
const LOOP: usize = 2;
const GO_STRUCT: u8 = 25;

/// A struct type descriptor whose `__gc` is `prog` (both leaked: they must outlive every
/// object of the type).
fn struct_type(size: usize, prog: Vec<usize>) -> &'static GoType {
    let prog: &'static [usize] = Box::leak(prog.into_boxed_slice());
    Box::leak(Box::new(GoType {
        __code: GO_STRUCT,
        __align: 8,
        __field_align: 8,
        __size: size,
        __hash: 0,
        __hashfn: std::ptr::null(),
        __equalfn: std::ptr::null(),
        __gc: prog.as_ptr(),
        __reflection: std::ptr::null(),
        __uncommon: std::ptr::null(),
        __pointer_to_this: std::ptr::null(),
    }))
}

/// `struct { next *T; a, b, c int64 }`: 32 bytes, one pointer field (GC_APTR, as benches/*.c).
fn node_type() -> &'static GoType {
    struct_type(32, vec![32, GC_APTR, 0, GC_END, 0])
}

// ---------------------------------------------------------------------------------------------
// 1. Allocation fast path.

const BATCH: usize = 4096;

fn bench_malloc(b: &mut Bench) {
    let n = b.samples();
    let batches = if b.opts.quick { 4 } else { 16 };
    let ops = BATCH * batches;
    let mut ptrs = vec![0usize; BATCH];
    let node = node_type() as *const GoType as usize; // TypeInfo_SingleObject is 0

    // alloc + free pairs through the thread cache: no collection can start (FlagNoInvokeGC).
    for &(size, typ, label) in &[
        (16usize, 0usize, "malloc: 16 B alloc+free, untyped"),
        (32, 0, "malloc: 32 B alloc+free, untyped"),
        (32, node, "malloc: 32 B alloc+free, typed (GoType recorded)"),
        (128, 0, "malloc: 128 B alloc+free, untyped"),
        (512, 0, "malloc: 512 B alloc+free, untyped"),
    ] {
        b.run(label, ops, n, || {
            let t0 = Instant::now();
            for _ in 0..batches {
                for p in ptrs.iter_mut() {
                    let v = api::malloc(black_box(size), typ, Kind::ScanNoGc);
                    // SAFETY: a fresh block of at least 16 bytes.
                    unsafe { *(v as *mut usize) = 1 };
                    *p = v as usize;
                }
                for &p in ptrs.iter() {
                    // SAFETY: p was allocated above and is referenced nowhere else.
                    unsafe { api::free(p as *mut u8) };
                }
            }
            elapsed_ns(t0)
        });
    }

    // alloc only: the timed part is the allocations (collections they start included); the
    // blocks are dropped, and the collector reclaims them.
    for &(size, kind, label) in &[
        (8usize, Kind::NoScan, "malloc: 8 B alloc-only, noscan (tiny allocator)"),
        (32, Kind::NoScan, "malloc: 32 B alloc-only, noscan"),
        (32, Kind::Scan, "malloc: 32 B alloc-only, pointerful"),
    ] {
        let gcs0 = api::gc_stats().0;
        let row = b.run(label, ops, n, || {
            let t0 = Instant::now();
            for _ in 0..ops {
                black_box(api::malloc(black_box(size), 0, kind));
            }
            elapsed_ns(t0)
        });
        if row.is_some() {
            b.rows.last_mut().unwrap().note =
                format!("{} collections started by the row, their cost included", api::gc_stats().0 - gcs0);
        }
    }

    // large objects: page-heap allocation, zeroing and free.
    let large_n = if b.opts.quick { 200 } else { 1000 };
    b.run("malloc: 64 KiB alloc+free (large object, zeroed)", large_n, n, || {
        let t0 = Instant::now();
        for _ in 0..large_n {
            let v = api::malloc(black_box(64 << 10), 0, Kind::ScanNoGc);
            // SAFETY: a fresh 64 KiB block, then freed once.
            unsafe {
                *(v as *mut usize) = 1;
                api::free(v);
            }
        }
        elapsed_ns(t0)
    });
}

// ---------------------------------------------------------------------------------------------
// 2. GC-program interpreter, over a synthetic block with a counting sink.

/// Counts what the interpreter reports; every word inside `[lo, hi)` is "in the heap".
#[derive(Default)]
struct CountingSink {
    lo: usize,
    hi: usize,
    candidates: usize,
    marks: usize,
    regions: usize,
    rescans: usize,
    hash: usize,
}

impl Sink for CountingSink {
    fn candidate(&mut self, p: usize, ti: usize) {
        self.candidates += 1;
        self.hash = self.hash.rotate_left(5) ^ p ^ ti;
    }
    fn markonly(&mut self, p: usize) -> bool {
        self.marks += 1;
        self.hash ^= p;
        true
    }
    fn region(&mut self, p: usize, n: usize, _ti: usize) {
        self.regions += 1;
        self.hash ^= p + n;
    }
    fn rescan(&mut self, b: usize, _n: usize) {
        self.rescans += 1;
        self.hash ^= b;
    }
    fn in_heap(&self, p: usize) -> bool {
        p >= self.lo && p < self.hi
    }
}

/// The program of a 128-byte struct with one field of each common kind:
///   0 *T (GC_PTR)            8 unsafe.Pointer (GC_APTR)    16 string (GC_STRING)
///   32 []T (GC_SLICE)        56 interface{} (GC_EFACE)
///   72 [3]struct{p *T; n int} (GC_ARRAY_START .. GC_ARRAY_NEXT)
///   120 struct{p *T} (GC_CALL into a sub-program)
/// Returns the program (leaked) and the address of its first word.
fn mixed_program(sub_ti: usize) -> usize {
    let mut p: Vec<usize> = vec![
        128, // element size
        GC_PTR, 0, sub_ti,
        GC_APTR, 8,
        GC_STRING, 16,
        GC_SLICE, 32, 0,
        GC_EFACE, 56,
        GC_ARRAY_START, 72, 3, 16,
        GC_APTR, 0,
        GC_ARRAY_NEXT,
    ];
    let call_at = p.len();
    p.extend_from_slice(&[GC_CALL, 120, 0, GC_END]);
    let sub_at = p.len();
    // the called sub-program (struct{p *T}): its instructions, then GC_END
    p.extend_from_slice(&[GC_APTR, 0, GC_END, 0]);
    // GC_CALL's operand: the callee's first instruction, relative to the GC_CALL word
    p[call_at + 2] = ((sub_at - call_at) * 8) as u32 as usize;
    let p: &'static [usize] = Box::leak(p.into_boxed_slice());
    p.as_ptr() as usize
}

fn bench_gcprog(b: &mut Bench) {
    let n = b.samples();
    let reps = if b.opts.quick { 20 } else { 100 };

    // The block: 64 KiB of 128-byte elements whose pointer fields point back into the block.
    const WORDS: usize = 8192;
    let mut block = vec![0usize; WORDS];
    let base = block.as_ptr() as usize;
    let elem_type = struct_type(128, vec![128, GC_APTR, 0, GC_END, 0]);
    let sub = mixed_program(0); // sub_ti: only its address matters to the sink
    let prog = mixed_program(sub | PRECISE);
    for e in 0..WORDS / 16 {
        let w = &mut block[e * 16..e * 16 + 16];
        let target = base + ((e * 7 + 3) % (WORDS / 16)) * 128;
        w[0] = target; // *T
        w[1] = target + 8; // unsafe.Pointer
        w[2] = target; // string data
        w[3] = 5; // string len
        w[4] = target; // slice data
        w[5] = 4; // len
        w[6] = 4; // cap
        w[7] = elem_type as *const GoType as usize; // eface type (not in the "heap")
        w[8] = target; // eface data
        for k in 0..3 {
            w[9 + 2 * k] = target + 16 * k;
            w[10 + 2 * k] = k;
        }
        w[15] = target;
    }
    let bytes = WORDS * 8;
    let mut sink = CountingSink { lo: base, hi: base + bytes, ..Default::default() };
    api::gcprog_scan(base, bytes, prog | PRECISE | LOOP, &mut sink);
    let per_elem = sink.candidates + sink.marks;
    let elems = WORDS / 16;
    if b.run(
        "gcprog: mixed 128-byte struct (ptr, aptr, string, slice, eface, [3]struct, call), 64 KiB block, per element",
        elems * reps,
        n,
        || {
            let t0 = Instant::now();
            for _ in 0..reps {
                let mut s = CountingSink { lo: base, hi: base + bytes, ..Default::default() };
                api::gcprog_scan(black_box(base), bytes, black_box(prog | PRECISE | LOOP), &mut s);
                black_box(s.hash);
            }
            elapsed_ns(t0)
        },
    ).is_some() {
        b.rows.last_mut().unwrap().note =
            format!("{} reports per element ({} candidates, {} markonly)", per_elem / elems, sink.candidates / elems, sink.marks / elems);
    }

    // A pointer array ([]*T): one GC_APTR per word, the interpreter's per-instruction cost.
    let ptr_prog: &'static [usize] = Box::leak(vec![8, GC_APTR, 0, GC_END, 0].into_boxed_slice());
    let pp = ptr_prog.as_ptr() as usize;
    for (i, w) in block.iter_mut().enumerate() {
        *w = base + (i * 8 * 13) % bytes;
    }
    let aptr_row = b.run("gcprog: [8192]*T (GC_APTR per word), per word", WORDS * reps, n, || {
        let t0 = Instant::now();
        for _ in 0..reps {
            let mut s = CountingSink { lo: base, hi: base + bytes, ..Default::default() };
            api::gcprog_scan(black_box(base), bytes, black_box(pp | PRECISE | LOOP), &mut s);
            black_box(s.hash);
        }
        elapsed_ns(t0)
    });
    if aptr_row.is_some() {
        b.rows.last_mut().unwrap().note = "1 candidate per word".to_string();
    }
    black_box(&block);
}

// ---------------------------------------------------------------------------------------------
// 3. Mark loop: forced collections over a live linked list.

/// The list head, a registered root (the rest of the list is reachable only through it).
static HEAD: AtomicUsize = AtomicUsize::new(0);

fn bench_mark(b: &mut Bench) {
    let default_mib = if b.opts.quick { 16 } else { 64 };
    let mib: usize = std::env::var("MICRO_MARK_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(default_mib);
    let nobj = (mib << 20) / 32;
    let n = if b.opts.quick { 3 } else { 7 };
    let node = node_type() as *const GoType as usize;
    let head = &HEAD as *const AtomicUsize as usize;
    api::add_roots(head, head + std::mem::size_of::<AtomicUsize>());

    for &(typ, label) in &[
        (0usize, "mark: linked list of 32-byte objects, untyped (conservative)"),
        (node, "mark: linked list of 32-byte objects, typed (GC program)"),
    ] {
        let name = format!("{label}, {mib} MiB live, per object");
        if !b.wanted(&name) {
            continue;
        }
        // Build the list: each new node points to the previous head.
        HEAD.store(0, Ordering::SeqCst);
        for i in 0..nobj {
            let v = api::malloc(32, typ, Kind::Scan) as *mut usize;
            // SAFETY: a fresh 32-byte block; word 0 is its pointer field.
            unsafe {
                *v = HEAD.load(Ordering::Relaxed);
                *v.add(1) = i;
            }
            HEAD.store(v as usize, Ordering::Relaxed);
        }
        let mut pauses = Vec::new();
        b.run(&name, nobj, n, || {
            let t0 = Instant::now();
            api::collect();
            let t = elapsed_ns(t0);
            pauses.push(api::gc_stats().1 as f64);
            t
        });
        // Check that the list survived every collection.
        let mut count = 0usize;
        let mut p = HEAD.load(Ordering::SeqCst);
        while p != 0 {
            count += 1;
            // SAFETY: p is a live list node (the list is rooted at HEAD).
            p = unsafe { *(p as *const usize) };
        }
        assert_eq!(count, nobj, "mark benchmark: the live list lost objects");
        let pause_ms = median(&mut pauses) / 1e6;
        let row = b.rows.last_mut().unwrap();
        row.note = format!(
            "full GC (mark + sweep) {:.1} ms; stop-the-world pause {:.1} ms = {:.0} MiB/s marked",
            row.median * nobj as f64 / 1e6,
            pause_ms,
            mib as f64 / (pause_ms / 1e3)
        );
        HEAD.store(0, Ordering::SeqCst);
        api::collect();
    }
    api::remove_roots(head, head + std::mem::size_of::<AtomicUsize>());
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let mut opts = Opts { quick: false, filters: Vec::new() };
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quick" => opts.quick = true,
            // cargo bench passes --bench; ignore it and any other harness flag
            s if s.starts_with("--") => {}
            s => opts.filters.push(s.to_string()),
        }
    }
    api::init();
    let mut b = Bench { opts, rows: Vec::new() };
    let t0 = Instant::now();
    bench_malloc(&mut b);
    bench_gcprog(&mut b);
    bench_mark(&mut b);

    let (gcs, _) = api::gc_stats();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!();
    println!("## Rust micro-benchmarks (cargo bench --bench micro{})", if b.opts.quick { " -- --quick" } else { "" });
    println!();
    println!(
        "- gogc {} (release profile), one thread; {} CPUs (mark workers: gogc's default, min(cores, GOMAXPROCS, GODEBUG=gcprocs)); {} collections in all; {:.1} s",
        env!("CARGO_PKG_VERSION"),
        cpus,
        gcs,
        t0.elapsed().as_secs_f64()
    );
    println!("- each row: one warm-up, then the samples; median, fastest and slowest sample per operation");
    println!();
    println!("| benchmark | median | min | max | unit | samples | notes |");
    println!("|---|---:|---:|---:|---|---:|---|");
    for r in &b.rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            fmt(r.median),
            fmt(r.min),
            fmt(r.max),
            r.unit,
            r.samples,
            r.note
        );
    }
}
