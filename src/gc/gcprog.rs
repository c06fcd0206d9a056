//! The GC-program interpreter (libgo-abi.md §8): walks one block under a compiler-emitted
//! program and reports what it finds to a [`Sink`]. It knows nothing about the heap; the mark
//! loop supplies the sink, and unit tests supply a recording one.
//!
//! Program format: word 0 is the element size, then instructions, then `GC_END`. A type-info
//! word `ti` is a program address with flag bits PRECISE (1) and LOOP (2).
//!
//! Safety against malformed programs: every operand read is bounds-checked against the block
//! (a word outside it reads as 0), and these end in the contract's fatal message
//! (`scanblock: invalid GC instruction`): an unknown opcode; more than 12 pushed frames (as
//! gccgo); a `GC_ARRAY_START` with count 0 or element size 0, or whose elements do not lie
//! inside the current element (at top level: the type's element, cut at the block's end;
//! inside an array: that array's element; a `GC_CALL` frame keeps its caller's); a
//! `GC_ARRAY_NEXT` outside an array body; a `GC_END` inside an array body. So a bad program
//! throws or scans too little; it never reads wild memory or loops forever: array iterations
//! are bounded by the block's size, and every frame push by the 12-frame limit.
//! `GC_REGION` work is bounded too, where gccgo's was not: the regions one scan queues must be
//! disjoint and in address order, and a region met while scanning a region must be smaller
//! than it (else `scanblock: invalid GC instruction`). So a region can never queue its own
//! range again (a region whose program is the enclosing type's own, or two that name each
//! other, used to make endless work), and the regions below one block form a tree of
//! disjoint, shrinking ranges. The compiler's regions obey this: it emits one per array
//! element nested 8 arrays deep (each of at least two elements), in field order.

use crate::fatal::throw;

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

pub const PRECISE: usize = 1;
pub const LOOP: usize = 2;
pub const PC_BITS: usize = 3;

/// Size of the channel header before its buffer (`runtime_Hchansize`).
pub const HCHAN_SIZE: usize = 88;

const GO_CODE_MASK: u8 = 0x1f;
const GO_NO_POINTERS: u8 = 0x80;
const GO_PTR: u8 = 22;
const GO_UNSAFE_POINTER: u8 = 26;
/// Offsets inside type descriptors (§9.2, §9.3).
const TYPE_GC_OFF: usize = 40;
const TYPE_SIZE_OFF: usize = 8;
const ELEM_OFF: usize = 72;

const STACK_CAPACITY: usize = 12;

/// What the interpreter reports.
pub trait Sink {
    /// A word that may point into the heap, with the type info to scan its target with
    /// (a bare program address, not precise), or 0.
    fn candidate(&mut self, p: usize, ti: usize);
    /// Mark the block containing `p` without scanning it; true if this call marked it.
    fn markonly(&mut self, p: usize) -> bool;
    /// Queue `[p, p+n)` to be scanned with type info `ti`.
    fn region(&mut self, p: usize, n: usize, ti: usize);
    /// Queue the whole block for a rescan with no type info (non-precise tail had data).
    fn rescan(&mut self, b: usize, n: usize);
    /// True if `p` lies in the allocated part of the arena.
    fn in_heap(&self, p: usize) -> bool;
    /// True if the block being scanned is a region queued by [`Sink::region`].
    fn scanning_region(&self) -> bool {
        false
    }
}

/// How to start scanning a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Run `pc` (program address) once or in a loop over the block.
    Program { pc: usize, precise: bool, looping: bool },
    /// The block is a channel (Hchan + buffer) of channel type `chantype`.
    Chan { chantype: usize },
}

impl Start {
    pub fn from_ti(ti: usize) -> Start {
        Start::Program { pc: ti & !PC_BITS, precise: ti & PRECISE != 0, looping: ti & LOOP != 0 }
    }
}

#[derive(Clone, Copy)]
struct Frame {
    /// Remaining iterations; 0 means "until the block ends" (top-level loop).
    count: usize,
    elemsize: usize,
    b: usize,
    /// Loop body start (arrays, top-level loop) or return address (calls).
    ret: usize,
    /// The element an array started in this frame must lie in: `[lo, hi)`.
    lo: usize,
    hi: usize,
}

#[inline(always)]
fn word(p: usize) -> usize {
    // SAFETY: callers only pass addresses inside the block being scanned or inside a type
    // descriptor / program, all of which are mapped and word-aligned.
    unsafe { *(p as *const usize) }
}

#[inline(always)]
fn byte(p: usize) -> u8 {
    // SAFETY: p is a type descriptor's kind byte.
    unsafe { *(p as *const u8) }
}

fn invalid(op: usize, at: usize) -> ! {
    crate::rprint!("runtime: invalid GC instruction {:#x} at {:#x}\n", op, at);
    throw("scanblock: invalid GC instruction")
}

fn is_pointer_type(t: usize) -> bool {
    let k = byte(t) & GO_CODE_MASK;
    k == GO_PTR || k == GO_UNSAFE_POINTER
}

/// Marks a channel and, if this call marked it and its elements hold pointers, queues its
/// buffer (the channel sub-program). A nil channel type describes no buffer.
fn chan_buffer(ch: usize, chantype: usize, end_ok: bool, sink: &mut impl Sink) {
    if chantype == 0 {
        return;
    }
    let elem = word(chantype + ELEM_OFF);
    if elem == 0 || byte(elem) & GO_NO_POINTERS != 0 || !end_ok {
        return;
    }
    let cap = word(ch + 8);
    if cap > 0 {
        let esize = word(elem + TYPE_SIZE_OFF);
        let gc = word(elem + TYPE_GC_OFF);
        sink.region(ch + HCHAN_SIZE, cap * esize, gc | PRECISE | LOOP);
    }
}

/// Scans block `[b, b+n)` starting as `start` says.
pub fn scan(b: usize, n: usize, start: Start, sink: &mut impl Sink) {
    let end = b + n; // exclusive
    // Lowest address the next GC_REGION may start at, and whether this scan is a region's.
    let mut region_end = b;
    let nested = sink.scanning_region();
    let rd = |a: usize| if a >= b && a < end && end - a >= 8 { word(a) } else { 0 };

    let (prog, precise, looping) = match start {
        Start::Chan { chantype } => {
            chan_buffer(b, chantype, true, sink);
            return;
        }
        Start::Program { pc, precise, looping } => (pc, precise, looping),
    };
    if prog == 0 {
        return;
    }
    let elemsize = word(prog);
    let looping = looping && elemsize != 0;
    let nominal = if precise { 0 } else { elemsize };
    // The top-level element, cut at the block's end.
    let top_hi = |e: usize| if elemsize > end - e { end } else { e + elemsize };

    let mut stack = [Frame { count: 0, elemsize: 0, b: 0, ret: 0, lo: 0, hi: 0 }; STACK_CAPACITY];
    let mut sp = 0usize;
    let mut top = Frame { count: if looping { 0 } else { 1 }, elemsize, b, ret: prog + 8, lo: b, hi: top_hi(b) };
    let mut pc = prog + 8;

    loop {
        let op = word(pc);
        match op {
            GC_PTR => {
                let obj = rd(top.b.wrapping_add(word(pc + 8)));
                let ti = word(pc + 16);
                pc += 24;
                if sink.in_heap(obj) {
                    sink.candidate(obj, ti);
                }
            }
            GC_APTR => {
                let obj = rd(top.b.wrapping_add(word(pc + 8)));
                pc += 16;
                if sink.in_heap(obj) {
                    sink.candidate(obj, 0);
                }
            }
            GC_SLICE => {
                let at = top.b.wrapping_add(word(pc + 8));
                pc += 24;
                // The element program is deliberately ignored: the slice may point into an
                // array embedded in a bigger object, whose own heap type is the right one.
                if rd(at.wrapping_add(16)) != 0 {
                    let obj = rd(at);
                    if sink.in_heap(obj) {
                        sink.candidate(obj, 0);
                    }
                }
            }
            GC_STRING => {
                let at = top.b.wrapping_add(word(pc + 8));
                pc += 16;
                if rd(at.wrapping_add(8)) != 0 {
                    let s = rd(at);
                    if sink.in_heap(s) {
                        sink.markonly(s);
                    }
                }
            }
            GC_EFACE | GC_IFACE => {
                let at = top.b.wrapping_add(word(pc + 8));
                pc += 16;
                let first = rd(at);
                if first == 0 {
                    continue;
                }
                if sink.in_heap(first) {
                    sink.candidate(first, 0);
                }
                let obj = rd(at.wrapping_add(8));
                if !sink.in_heap(obj) {
                    continue;
                }
                let t = if op == GC_EFACE { first } else { word(first) };
                if t == 0 {
                    continue;
                }
                if is_pointer_type(t) {
                    if byte(t) & GO_NO_POINTERS != 0 {
                        continue;
                    }
                    let mut ti = 0;
                    if byte(t) & GO_CODE_MASK == GO_PTR {
                        let et = word(t + ELEM_OFF);
                        if et != 0 && byte(et) & GO_NO_POINTERS == 0 {
                            ti = word(et + TYPE_GC_OFF);
                        }
                    }
                    sink.candidate(obj, ti);
                } else {
                    sink.candidate(obj, word(t + TYPE_GC_OFF));
                }
            }
            GC_ARRAY_START => {
                let start_b = top.b.wrapping_add(word(pc + 8));
                let count = word(pc + 16);
                let esize = word(pc + 24);
                pc += 32;
                // The array must lie inside the current element: lo <= start_b, and
                // count * esize <= hi - start_b (without overflow).
                if count == 0
                    || esize == 0
                    || start_b.wrapping_sub(top.lo) > top.hi - top.lo
                    || count > (top.hi - start_b) / esize
                {
                    invalid(op, pc - 32);
                }
                if sp == STACK_CAPACITY {
                    crate::rprint!("runtime: GC program nests deeper than {} frames\n", STACK_CAPACITY);
                    invalid(op, pc - 32);
                }
                stack[sp] = top;
                sp += 1;
                top = Frame { count, elemsize: esize, b: start_b, ret: pc, lo: start_b, hi: start_b + esize };
            }
            GC_ARRAY_NEXT => {
                // Only an array frame (pushed, with a non-zero element size) has a next element.
                if sp == 0 || top.elemsize == 0 {
                    invalid(op, pc);
                }
                top.count -= 1;
                if top.count != 0 {
                    top.b += top.elemsize;
                    top.lo = top.b;
                    top.hi = top.b + top.elemsize;
                    pc = top.ret;
                } else {
                    sp -= 1;
                    top = stack[sp];
                    pc += 8;
                }
            }
            GC_CALL => {
                if sp == STACK_CAPACITY {
                    crate::rprint!("runtime: GC program nests deeper than {} frames\n", STACK_CAPACITY);
                    invalid(op, pc);
                }
                stack[sp] = top;
                sp += 1;
                top = Frame { count: 1, elemsize: 0, b: top.b.wrapping_add(word(pc + 8)), ret: pc + 24, lo: top.lo, hi: top.hi };
                let rel = word(pc + 16) as u32 as i32 as isize;
                pc = (pc as isize + rel) as usize;
            }
            GC_REGION => {
                let at = pc;
                let p = top.b.wrapping_add(word(pc + 8));
                let size = word(pc + 16);
                let ti = word(pc + 24);
                pc += 32;
                if p >= b && p < end {
                    let size = size.min(end - p);
                    // One scan's regions are disjoint and in address order, and a region met
                    // while scanning a region is smaller than it: so regions form a tree of
                    // shrinking, disjoint ranges, and a program that queues its own range
                    // again (or overlapping ones, for exponential work) is invalid.
                    if p < region_end || (nested && size == n) {
                        invalid(GC_REGION, at);
                    }
                    region_end = p + size;
                    sink.region(p, size, ti);
                }
            }
            GC_CHAN_PTR => {
                let ch = rd(top.b.wrapping_add(word(pc + 8)));
                let chantype = word(pc + 16);
                pc += 24;
                if ch != 0 && sink.in_heap(ch) && sink.markonly(ch) {
                    chan_buffer(ch, chantype, true, sink);
                }
            }
            GC_END => {
                if sp > 0 {
                    // An array body ends with GC_ARRAY_NEXT; GC_END returns from a call.
                    if top.elemsize != 0 {
                        invalid(op, pc);
                    }
                    pc = top.ret;
                    sp -= 1;
                    top = stack[sp];
                    continue;
                }
                let tail_from;
                if top.count == 0 {
                    // Top-level loop: next element if a whole one still fits.
                    if top.elemsize > end - top.b {
                        tail_from = end;
                    } else {
                        top.b += top.elemsize;
                        if top.elemsize <= end - top.b {
                            top.lo = top.b;
                            top.hi = top.b + top.elemsize;
                            pc = top.ret;
                            continue;
                        }
                        tail_from = top.b;
                    }
                } else {
                    tail_from = if nominal > n { end } else { b + nominal };
                }
                if !precise {
                    let mut i = tail_from;
                    while i + 8 <= end {
                        if word(i) != 0 {
                            sink.rescan(b, n);
                            break;
                        }
                        i += 8;
                    }
                }
                return;
            }
            _ => invalid(op, pc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[derive(Default)]
    struct Rec {
        cands: Vec<(usize, usize)>,
        marked: Vec<usize>,
        regions: Vec<(usize, usize, usize)>,
        rescans: Vec<(usize, usize)>,
    }
    impl Sink for Rec {
        fn candidate(&mut self, p: usize, ti: usize) {
            self.cands.push((p, ti));
        }
        fn markonly(&mut self, p: usize) -> bool {
            let new = !self.marked.contains(&p);
            self.marked.push(p);
            new
        }
        fn region(&mut self, p: usize, n: usize, ti: usize) {
            self.regions.push((p, n, ti));
        }
        fn rescan(&mut self, b: usize, n: usize) {
            self.rescans.push((b, n));
        }
        fn in_heap(&self, p: usize) -> bool {
            p >= 0x1000
        }
    }

    fn run(block: &[usize], prog: &[usize], precise: bool, looping: bool) -> Rec {
        let mut r = Rec::default();
        let s = Start::Program { pc: prog.as_ptr() as usize, precise, looping };
        scan(block.as_ptr() as usize, block.len() * 8, s, &mut r);
        r
    }

    #[test]
    fn ptr_aptr_and_non_pointer_words() {
        let block = [0x5000usize, 0x6000, 0x7000];
        // word 0: *T with program 0x999; word 1: unsafe pointer; word 2 is an integer.
        let prog = [24, GC_PTR, 0, 0x999, GC_APTR, 8, GC_END, 0];
        let r = run(&block, &prog, true, false);
        assert_eq!(r.cands, vec![(0x5000, 0x999), (0x6000, 0)]);
        assert!(r.rescans.is_empty());
    }

    #[test]
    fn arrays_nest_and_loop() {
        // struct { int x; *T p } [3] at offset 8.
        let block = [1, 0, 0x1100, 0, 0x1200, 0, 0x1300];
        let prog = [56, GC_ARRAY_START, 8, 3, 16, GC_APTR, 8, GC_ARRAY_NEXT, GC_END, 0];
        let r = run(&block, &prog, true, false);
        assert_eq!(r.cands, vec![(0x1100, 0), (0x1200, 0), (0x1300, 0)]);
    }

    #[test]
    fn top_level_loop_covers_whole_block() {
        let block = [0x2000, 7, 0x2100, 7, 0x2200, 7];
        let prog = [16, GC_APTR, 0, GC_END, 0];
        let r = run(&block, &prog, true, true);
        assert_eq!(r.cands, vec![(0x2000, 0), (0x2100, 0), (0x2200, 0)]);
    }

    #[test]
    fn non_precise_tail_triggers_rescan() {
        let block = [0x3000, 0, 0x3333];
        let prog = [8, GC_APTR, 0, GC_END, 0];
        let r = run(&block, &prog, false, false);
        assert_eq!(r.rescans.len(), 1);
        let block2 = [0x3000, 0, 0];
        assert!(run(&block2, &prog, false, false).rescans.is_empty());
        // Precise objects never rescan.
        assert!(run(&block, &prog, true, false).rescans.is_empty());
    }

    #[test]
    fn string_slice_and_region() {
        // string @0 (ptr,len), slice @16 (ptr,len,cap), region @40 of 16 bytes.
        let block = [0x4000, 3, 0x4100, 1, 1, 0x4200, 0x4300];
        let prog = [56, GC_STRING, 0, GC_SLICE, 16, 0x77, GC_REGION, 40, 16, 0x55, GC_END, 0];
        let r = run(&block, &prog, true, false);
        assert_eq!(r.marked, vec![0x4000]);
        assert_eq!(r.cands, vec![(0x4100, 0)]);
        let b = block.as_ptr() as usize;
        assert_eq!(r.regions, vec![(b + 40, 16, 0x55)]);
        // Empty string and zero-capacity slice are skipped.
        let block = [0x4000, 0, 0x4100, 0, 0, 0, 0];
        let r = run(&block, &prog, true, false);
        assert!(r.marked.is_empty() && r.cands.is_empty());
    }

    #[test]
    fn call_subroutine() {
        // main: CALL +off to sub at offset 8, END; sub: APTR 0, END.
        let mut prog = [16usize, GC_CALL, 8, 0, GC_END, GC_APTR, 0, GC_END, 0];
        let call_at = &prog[1] as *const usize as usize;
        let sub_at = &prog[5] as *const usize as usize;
        prog[3] = sub_at - call_at;
        let block = [0, 0x8000];
        let r = run(&block, &prog, true, false);
        assert_eq!(r.cands, vec![(0x8000, 0)]);
    }

    #[test]
    fn eface_and_iface_follow_the_dynamic_type() {
        // A non-pointer type (struct) with program 0xabc: data word points to a copy.
        let mut t_struct = [0usize; 9];
        t_struct[0] = 25; // GO_STRUCT
        t_struct[5] = 0xabc; // __gc
        // A pointer type to a pointerful element.
        let mut elem = [0usize; 9];
        elem[0] = 25;
        elem[5] = 0xdef;
        let mut t_ptr = [0usize; 10];
        t_ptr[0] = 22 | 0x20;
        t_ptr[9] = elem.as_ptr() as usize;
        let tab = [t_ptr.as_ptr() as usize];
        let block = [t_struct.as_ptr() as usize, 0x9000, tab.as_ptr() as usize, 0x9100];
        let prog = [32, GC_EFACE, 0, GC_IFACE, 16, GC_END, 0];
        let r = run(&block, &prog, true, false);
        assert!(r.cands.contains(&(0x9000, 0xabc)));
        assert!(r.cands.contains(&(0x9100, 0xdef)));
    }

    #[test]
    fn channel_pointer_queues_buffer_once() {
        let mut elem = [0usize; 9];
        elem[0] = 22;
        elem[1] = 8; // __size
        elem[5] = 0x123;
        let mut chantype = [0usize; 11];
        chantype[9] = elem.as_ptr() as usize;
        let hchan = [0usize, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let ch = hchan.as_ptr() as usize;
        let block = [ch];
        let prog = [8, GC_CHAN_PTR, 0, chantype.as_ptr() as usize, GC_END, 0];
        let mut r = Rec::default();
        let s = Start::Program { pc: prog.as_ptr() as usize, precise: true, looping: false };
        scan(block.as_ptr() as usize, 8, s, &mut r);
        assert_eq!(r.regions, vec![(ch + 88, 32, 0x123 | PRECISE | LOOP)]);
        scan(block.as_ptr() as usize, 8, s, &mut r);
        assert_eq!(r.regions.len(), 1, "second sighting does not rescan the buffer");
    }

    #[test]
    fn channel_pointer_with_nil_channel_type_only_marks() {
        let hchan = [0usize, 4, 0, 0];
        let block = [hchan.as_ptr() as usize];
        let prog = [8, GC_CHAN_PTR, 0, 0, GC_END, 0];
        let mut r = Rec::default();
        let s = Start::Program { pc: prog.as_ptr() as usize, precise: true, looping: false };
        scan(block.as_ptr() as usize, 8, s, &mut r);
        assert_eq!(r.marked, vec![hchan.as_ptr() as usize]);
        assert!(r.regions.is_empty());
    }

    #[test]
    fn reads_stay_inside_the_block() {
        // Program claims a pointer at offset 64 of a 16-byte block.
        let block = [0x5000usize, 0x5000];
        let prog = [72, GC_APTR, 64, GC_END, 0];
        let r = run(&block, &prog, true, false);
        assert!(r.cands.is_empty());
    }
}
