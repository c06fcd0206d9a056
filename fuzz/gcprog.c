/*
 * fuzz/gcprog.c: libFuzzer harness for GC programs and type descriptors (libgo-abi.md §6.2,
 * §8, §9).
 *
 * Each input is decoded into a GC program (every opcode of §8.2, nested arrays, GC_CALL into
 * any word of the program, GC_REGION with any word of the program as its sub-program, raw
 * words, huge counts and sizes, zero and odd element sizes, negative and huge offsets), a type
 * descriptor that uses it (kind SingleObject, Array, or an invalid kind), and the contents of
 * one heap object of that type: words that hold pointers to fresh "target" blocks (each with a
 * finalizer, so its death is observable), interior pointers, small scalars, pointers to static
 * type descriptors and method tables.
 *
 * A shadow model in this file, written from the contract and independent of gogc's code,
 * runs the program over a symbolic copy of the object and decides one of:
 *   VALID    the scan is defined: the set of targets the collector must keep alive (pointer
 *            slots per the program). The harness builds the heap in process, collects,
 *            and requires every one of them to survive (finalizer not run, contents intact).
 *            Targets referenced only from scalar words are expected to die eventually; since
 *            stacks are scanned conservatively this is checked only in aggregate.
 *   FATAL    the program is invalid: the collector must print `fatal error: <msg>` (and for a
 *            bad instruction the `runtime: invalid GC instruction <op> at <addr>` line of one
 *            of the places the model names) and die of SIGABRT. Run in a forked child.
 *   UNSPEC   the outcome is left open (no case at present; kept for rules that leave a choice):
 *            run in a child, which must either finish or die with the invalid-instruction
 *            message; never a signal, never a hang.
 *   SKIP     the input describes memory the collector may legitimately trust blindly (a call
 *            target outside the program, an interface whose type word is garbage) or work
 *            the model cannot hold (more than 256 regions): not run.
 *
 * The program rules the model applies (contract §8.2/§8.4, plus the bounds the contract's
 * "never a hang, never a wild read" demands of a malformed program, documented in
 * src/gc/gcprog.rs):
 *   - operands read words of the block being scanned; a word outside it reads as 0;
 *   - GC_ARRAY_START: count 0, element size 0, more than 12 pushed frames, or an array that does
 *     not lie inside the current element (top level: the element, cut at the block's end;
 *     inside an array: that array's element; a GC_CALL frame: its caller's) is invalid;
 *   - GC_CALL: more than 12 pushed frames is invalid; the callee runs with base b+off;
 *   - GC_ARRAY_NEXT outside an array body, and GC_END inside an array body, are invalid;
 *   - any opcode >= 12 is invalid;
 *   - a GC_REGION is scanned with its program, not precise (unless the operand's flag bits say
 *     so), once; if data lies past what the program describes, the region is rescanned
 *     conservatively (§8.4 re-queues "the whole block" by its heap type; for a region that
 *     type's program is the one that queued it, which would loop forever);
 *   - the regions one scan queues must be disjoint and in address order, and a region queued
 *     while scanning a region must be smaller than it; otherwise the GC_REGION is invalid
 *     (this bounds region work: a region can never queue its own range again).
 *
 * Any disagreement aborts (libFuzzer records the input).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gogc.h"

/* ---- program opcodes (§8.2) ------------------------------------------------------------ */
enum {
    OP_END = 0, OP_PTR, OP_APTR, OP_ARRAY_START, OP_ARRAY_NEXT, OP_CALL, OP_CHAN_PTR,
    OP_STRING, OP_EFACE, OP_IFACE, OP_SLICE, OP_REGION, OP_NUM
};
#define MAX_FRAMES 12 /* GC_STACK_CAPACITY + 4 */

/* ---- static type descriptors used by interface words and GC_CHAN_PTR ------------------- */
#define K_PTR 22
#define K_UNSAFE 26
#define K_STRUCT 25
#define F_DIRECT 0x20
#define F_NOPTR 0x80

static uintptr_t prog_noptr[] = {8, OP_END, 0};
static uintptr_t prog_aptr[] = {8, OP_APTR, 0, OP_END, 0};

/* 80 bytes each (a GoPtrType), so a reader of the element field at +72 stays inside. */
static GoPtrType elem_noptr, elem_ptr;
#define NDESC 8
static GoPtrType desc[NDESC];
static const void *itab[NDESC][2];
static GoChanType chantype[3];

static void init_type(GoType *t, uint8_t code, uintptr_t size, const uintptr_t *prog)
{
    memset(t, 0, sizeof *t);
    t->__code = code;
    t->__align = 8;
    t->__field_align = 8;
    t->__size = size;
    t->__gc = prog;
}

/* What the data word of an interface with type descriptor desc[k] does (§8.4). */
enum { DATA_SKIP, DATA_KEEP };
static int desc_data[NDESC];

static void init_descs(void)
{
    init_type(&elem_noptr.__common, K_STRUCT | F_NOPTR, 8, prog_noptr);
    init_type(&elem_ptr.__common, K_PTR | F_DIRECT, 8, prog_aptr);
    /* 0: pointer type marked NO_POINTERS: data word skipped. */
    init_type(&desc[0].__common, K_PTR | F_DIRECT | F_NOPTR, 8, prog_noptr);
    desc_data[0] = DATA_SKIP;
    /* 1: *T, T without pointers. */
    init_type(&desc[1].__common, K_PTR | F_DIRECT, 8, prog_aptr);
    desc[1].__element_type = &elem_noptr.__common;
    desc_data[1] = DATA_KEEP;
    /* 2: *T, T with pointers. */
    init_type(&desc[2].__common, K_PTR | F_DIRECT, 8, prog_aptr);
    desc[2].__element_type = &elem_ptr.__common;
    desc_data[2] = DATA_KEEP;
    /* 3: unsafe.Pointer. */
    init_type(&desc[3].__common, K_UNSAFE | F_DIRECT, 8, prog_aptr);
    desc_data[3] = DATA_KEEP;
    /* 4: struct with pointers: data points to a heap copy. */
    init_type(&desc[4].__common, K_STRUCT, 8, prog_aptr);
    desc_data[4] = DATA_KEEP;
    /* 5: struct without pointers: still a heap copy, still marked. */
    init_type(&desc[5].__common, K_STRUCT | F_NOPTR, 8, prog_noptr);
    desc_data[5] = DATA_KEEP;
    /* 6: unsafe.Pointer marked NO_POINTERS: skipped. */
    init_type(&desc[6].__common, K_UNSAFE | F_DIRECT | F_NOPTR, 8, prog_noptr);
    desc_data[6] = DATA_SKIP;
    /* 7: pointer type with no element descriptor. */
    init_type(&desc[7].__common, K_PTR | F_DIRECT, 8, prog_aptr);
    desc_data[7] = DATA_KEEP;
    for (int k = 0; k < NDESC; k++) {
        itab[k][0] = &desc[k];
        itab[k][1] = NULL;
    }
    init_type(&chantype[0].__common, 18, 8, prog_aptr); /* no element type */
    chantype[1] = chantype[0];
    chantype[1].__element_type = &elem_noptr.__common;
    chantype[2] = chantype[0];
    chantype[2].__element_type = &elem_ptr.__common;
    for (int k = 0; k < 3; k++)
        chantype[k].__dir = 3;
}

/* ---- decoded input ------------------------------------------------------------------------ */
#define MAX_PROG 300                 /* words, program proper */
#define PAD 8                        /* zero (GC_END) words after it */
#define MAX_OBJ_WORDS 512            /* 4 KiB objects at most */

/* Symbolic contents of the object (the model never sees real heap addresses). */
enum { C_ZERO, C_TARGET, C_INTERIOR, C_SCALAR, C_DESC, C_ITAB };
typedef struct {
    uint8_t kind;
    uint32_t arg; /* target id / scalar value / descriptor index */
} Cell;

typedef struct {
    uintptr_t w[MAX_PROG + PAD];
    size_t n;           /* words including padding */
    int type_kind;      /* 0 SingleObject, 1 Array, 3..7 invalid */
    uintptr_t size;     /* bytes requested */
    uintptr_t blk;      /* block size (size class) */
    Cell cell[MAX_OBJ_WORDS];
    int ntargets;
} Input;

typedef struct {
    const uint8_t *p;
    size_t n, i;
} Rd;

static unsigned next8(Rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static int more(Rd *r) { return r->i < r->n; }
static uint64_t next64(Rd *r)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)next8(r) << (8 * k);
    return v;
}

static uintptr_t dec_off(Rd *r)
{
    unsigned o = next8(r);
    if (o < 0xf0)
        return (uintptr_t)o * 8;
    if (o < 0xf8)
        return (uintptr_t)0 - 8 * (uintptr_t)(o - 0xef); /* -8 .. -64 */
    if (o == 0xf8)
        return (uintptr_t)1 << 63;
    if (o == 0xf9)
        return UINTPTR_MAX - 3;
    return o & 7; /* misaligned small offsets */
}

static uintptr_t dec_len(Rd *r)
{
    unsigned l = next8(r);
    if (l < 0xf0)
        return l;
    switch (l) {
    case 0xf0: return (uintptr_t)1 << 32;
    case 0xf1: return (uintptr_t)1 << 62;
    case 0xf2: return UINTPTR_MAX;
    case 0xf3: return ((uintptr_t)1 << 61) + 1;
    default: return (uintptr_t)(l - 0xf0) * 1000;
    }
}

static uintptr_t dec_esize(Rd *r)
{
    unsigned e = next8(r);
    if (e < 0xf0)
        return (uintptr_t)e * 8;
    switch (e) {
    case 0xf0: return 0;
    case 0xf1: return (uintptr_t)1 << 62;
    case 0xf2: return UINTPTR_MAX - 7;
    case 0xf3: return (uintptr_t)1 << 61;
    default: return e - 0xf0; /* 4..15, odd sizes */
    }
}

/* Fix-ups: operands that are addresses inside the program buffer. */
typedef struct {
    size_t at;     /* word holding the operand */
    size_t opword; /* word of the opcode (for GC_CALL's relative offset) */
    size_t target; /* word index it refers to */
    int call;      /* 1: relative byte offset from the opcode, 0: absolute address */
    unsigned flags;
} Fix;

static void decode(const uint8_t *data, size_t size, Input *in, Fix *fix, int *nfix)
{
    Rd r = {data, size, 0};
    memset(in, 0, sizeof *in);
    *nfix = 0;
    unsigned h0 = next8(&r), h1 = next8(&r), h2 = next8(&r);

    uintptr_t es;
    if (h1 < 0xf8)
        es = (uintptr_t)(h1 % 64 + 1) * 8;
    else
        switch (h1) {
        case 0xf8: es = 0; break;
        case 0xf9: es = (uintptr_t)1 << 40; break;
        case 0xfa: es = 12; break;
        case 0xfb: es = (uintptr_t)1 << 63; break;
        default: es = 8 * 64 + 8 * (h1 & 7); break;
        }
    switch (h0 & 7) {
    case 5: case 6: in->type_kind = 1; break;
    case 7: in->type_kind = 3 + (h0 >> 3) % 5; break;
    default: in->type_kind = 0; break;
    }
    if (in->type_kind == 1) {
        uintptr_t cnt = (h2 & 7) + 1;
        in->size = (es == 0 || es > 4096 / cnt) ? 8 * (uintptr_t)((h2 >> 3) + 1) : es * cnt;
    } else {
        in->size = (es == 0 || es > 4096) ? 8 * (uintptr_t)((h2 >> 3) % 64 + 1) : es;
        if (h2 & 0x80)
            in->size += 8 * (h2 & 7); /* a block bigger than the type */
    }
    if (in->size > 4096)
        in->size = 4096;
    if (in->size < 16)
        in->size = 16; /* so that __go_free takes it (a block under 16 bytes cannot be freed) */

    size_t n = 0;
    in->w[n++] = es;
    while (more(&r) && n < MAX_PROG - 8) {
        unsigned t = next8(&r);
        if (t == 0xff)
            break;
        if (t == 0xfe) { /* raw word */
            in->w[n++] = next64(&r);
            continue;
        }
        unsigned op = t & 15;
        if (op >= 12 && (t >> 4) < 12)
            op -= 11; /* keep invalid opcodes rare: 12..15 only from 0xc?..0xf? */
        size_t opw = n;
        in->w[n++] = op;
        switch (op) {
        case OP_PTR:
        case OP_SLICE: {
            in->w[n++] = dec_off(&r);
            unsigned g = next8(&r);
            if (g % 4 == 0)
                in->w[n++] = 0;
            else if (g % 4 == 1)
                in->w[n++] = (uintptr_t)prog_aptr;
            else { /* any word of this program (a noscan target never runs it) */
                fix[*nfix] = (Fix){n, opw, (size_t)(g >> 2), 0, 0};
                (*nfix)++;
                in->w[n++] = 0;
            }
            break;
        }
        case OP_APTR: case OP_STRING: case OP_EFACE: case OP_IFACE:
            in->w[n++] = dec_off(&r);
            break;
        case OP_ARRAY_START:
            in->w[n++] = dec_off(&r);
            in->w[n++] = dec_len(&r);
            in->w[n++] = dec_esize(&r);
            break;
        case OP_CALL:
            in->w[n++] = dec_off(&r);
            fix[*nfix] = (Fix){n, opw, next8(&r), 1, 0};
            (*nfix)++;
            in->w[n++] = 0;
            break;
        case OP_CHAN_PTR:
            in->w[n++] = dec_off(&r);
            in->w[n++] = (uintptr_t)&chantype[next8(&r) % 3];
            break;
        case OP_REGION: {
            in->w[n++] = dec_off(&r);
            unsigned s = next8(&r);
            in->w[n++] = s < 0xf0 ? (uintptr_t)s * 8 : s == 0xf0 ? UINTPTR_MAX : (uintptr_t)(s & 15);
            unsigned g = next8(&r);
            fix[*nfix] = (Fix){n, opw, (size_t)(g >> 2), 0, g & 3};
            (*nfix)++;
            in->w[n++] = 0;
            break;
        }
        default:
            break;
        }
    }
    in->w[n++] = OP_END;
    size_t used = n;
    for (int k = 0; k < PAD; k++)
        in->w[n++] = 0;
    in->n = n;
    for (int k = 0; k < *nfix; k++) {
        size_t tgt = fix[k].target % used;
        uintptr_t a = (uintptr_t)&in->w[tgt];
        if (fix[k].call)
            in->w[fix[k].at] = (uintptr_t)(uint32_t)(int32_t)((intptr_t)a - (intptr_t)&in->w[fix[k].opword]);
        else
            in->w[fix[k].at] = a | fix[k].flags;
    }

    in->blk = runtime_roundupsize(in->size);
    if (in->blk > MAX_OBJ_WORDS * 8)
        in->blk = MAX_OBJ_WORDS * 8;
    /* Contents: one byte per word; when the input runs out, alternate target / scalar. */
    size_t nw = in->blk / 8;
    for (size_t i = 0; i < nw; i++) {
        unsigned c = more(&r) ? next8(&r) : (i & 1 ? 3 : 1);
        Cell *ce = &in->cell[i];
        switch (c % 8) {
        case 0: ce->kind = C_ZERO; break;
        case 1: case 7: ce->kind = C_TARGET; ce->arg = (uint32_t)in->ntargets++; break;
        case 2: ce->kind = C_INTERIOR; ce->arg = (uint32_t)in->ntargets++; break;
        case 3: ce->kind = C_SCALAR; ce->arg = 1; break;
        case 4: ce->kind = C_SCALAR; ce->arg = (c >> 3) + 2; break;
        case 5: ce->kind = C_DESC; ce->arg = (c >> 3) % NDESC; break;
        default: ce->kind = C_ITAB; ce->arg = (c >> 3) % NDESC; break;
        }
    }
}

/* ---- the shadow model --------------------------------------------------------------------- */
enum { V_VALID, V_FATAL, V_UNSPEC, V_SKIP };
#define MAX_SITES 64
#define MAX_REGIONS 256

typedef struct {
    const Input *in;
    int verdict;             /* worst so far: VALID < UNSPEC; FATAL/SKIP stop */
    uint8_t must[MAX_OBJ_WORDS];  /* per target id (ids < number of words) */
    long steps;
    /* where a bad instruction was found: (opcode, address) */
    uintptr_t site_op[MAX_SITES], site_at[MAX_SITES];
    int nsites;
    const char *fatal_msg;
    struct { uintptr_t lo, hi; size_t pc; int precise, loop; } reg[MAX_REGIONS];
    int nreg;
    int region_fatal;        /* a region scan hit a bad instruction */
    uintptr_t region_end;    /* lowest start of the next region of this scan */
    int in_region;           /* this scan is a region's */
} Model;

/* Addresses in the model are offsets from the block start (wrapping arithmetic). */
typedef struct { int err; } Stop;

/* The symbolic value of the word at offset a of the scan range [lo, hi): out of range reads 0. */
static const Cell *cell_at(const Model *m, uintptr_t a, uintptr_t lo, uintptr_t hi)
{
    static const Cell zero = {C_ZERO, 0};
    if (a < lo || a >= hi || hi - a < 8 || a % 8 != 0)
        return &zero;
    return &m->in->cell[a / 8];
}

static int in_heap(const Cell *c) { return c->kind == C_TARGET || c->kind == C_INTERIOR; }
static int nonzero(const Cell *c) { return c->kind != C_ZERO; }

static void keep(Model *m, const Cell *c)
{
    if (in_heap(c))
        m->must[c->arg] = 1;
}

/* Word index of a program address, or -1 if it is not a word of the buffer. */
static long word_index(const Model *m, uintptr_t addr)
{
    uintptr_t base = (uintptr_t)m->in->w;
    if (addr < base || (addr - base) % 8 != 0 || (addr - base) / 8 >= m->in->n)
        return -1;
    return (long)((addr - base) / 8);
}

enum { R_END, R_NEXT, R_STOP };
enum { FR_TOP, FR_ARRAY, FR_CALL };

static int stop_fatal(Model *m, uintptr_t op, size_t pc)
{
    if (m->nsites < MAX_SITES) {
        m->site_op[m->nsites] = op;
        m->site_at[m->nsites] = (uintptr_t)&m->in->w[pc];
        m->nsites++;
    }
    return R_STOP;
}

/* Runs instructions from word pc with base b inside extent [elo, ehi); reads confined to the
 * scan range [lo, hi). Returns how the body ended and, for R_NEXT, the word after it. */
static int exec(Model *m, size_t pc, uintptr_t b, uintptr_t elo, uintptr_t ehi, uintptr_t lo,
                uintptr_t hi, int depth, int frame, size_t *after)
{
    const uintptr_t *w = m->in->w;
    for (;;) {
        if (++m->steps > 3000000) {
            m->verdict = V_SKIP;
            return R_STOP;
        }
        if (pc + 4 > m->in->n) { /* operands past the buffer: only reachable via wild jumps */
            m->verdict = V_SKIP;
            return R_STOP;
        }
        uintptr_t op = w[pc];
        switch (op) {
        case OP_END:
            if (frame == FR_ARRAY)
                return stop_fatal(m, op, pc);
            return R_END;
        case OP_ARRAY_NEXT:
            if (frame != FR_ARRAY)
                return stop_fatal(m, op, pc);
            *after = pc + 1;
            return R_NEXT;
        case OP_PTR:
            keep(m, cell_at(m, b + w[pc + 1], lo, hi));
            pc += 3;
            break;
        case OP_APTR:
            keep(m, cell_at(m, b + w[pc + 1], lo, hi));
            pc += 2;
            break;
        case OP_SLICE:
            if (nonzero(cell_at(m, b + w[pc + 1] + 16, lo, hi)))
                keep(m, cell_at(m, b + w[pc + 1], lo, hi));
            pc += 3;
            break;
        case OP_STRING:
            if (nonzero(cell_at(m, b + w[pc + 1] + 8, lo, hi)))
                keep(m, cell_at(m, b + w[pc + 1], lo, hi));
            pc += 2;
            break;
        case OP_EFACE:
        case OP_IFACE: {
            uintptr_t at = b + w[pc + 1];
            if (at % 8 != 0 && at - lo < hi - lo) {
                /* a misaligned interface: its words straddle two of ours (garbage type) */
                m->verdict = V_SKIP;
                return R_STOP;
            }
            const Cell *first = cell_at(m, b + w[pc + 1], lo, hi);
            const Cell *data = cell_at(m, b + w[pc + 1] + 8, lo, hi);
            pc += 2;
            if (!nonzero(first))
                break;
            keep(m, first);
            if (!in_heap(data))
                break;
            /* The dynamic type: a target block is all zero in its first words (kind 0, not
             * pointer-shaped; as a method table its type slot is nil). */
            int k;
            if (first->kind == C_TARGET || first->kind == C_INTERIOR) {
                if (op == OP_IFACE)
                    break; /* tab[0] == nil */
                if (first->kind == C_INTERIOR) { /* reads a target's pattern words */
                    m->verdict = V_SKIP;
                    return R_STOP;
                }
                keep(m, data);
                break;
            }
            if (op == OP_EFACE && first->kind == C_DESC)
                k = (int)first->arg;
            else if (op == OP_IFACE && first->kind == C_ITAB)
                k = (int)first->arg;
            else { /* a garbage type word with a heap data word: undefined (wild read) */
                m->verdict = V_SKIP;
                return R_STOP;
            }
            if (desc_data[k] == DATA_KEEP)
                keep(m, data);
            break;
        }
        case OP_CHAN_PTR: {
            const Cell *c = cell_at(m, b + w[pc + 1], lo, hi);
            uintptr_t ct = w[pc + 2];
            if (in_heap(c) && ct != 0 && ct != (uintptr_t)&chantype[0] && ct != (uintptr_t)&chantype[1] &&
                ct != (uintptr_t)&chantype[2]) {
                /* a garbage channel descriptor (an operand word run as an instruction): the
                 * collector reads it blindly. A nil one describes no buffer. */
                m->verdict = V_SKIP;
                return R_STOP;
            }
            if (in_heap(c) && c->kind == C_INTERIOR && ct == (uintptr_t)&chantype[2]) {
                /* would read the channel's capacity from the middle of a target */
                m->verdict = V_SKIP;
                return R_STOP;
            }
            keep(m, c); /* markonly; a target's capacity word (word 1) is 0: no buffer */
            pc += 3;
            break;
        }
        case OP_ARRAY_START: {
            uintptr_t a = b + w[pc + 1], cnt = w[pc + 2], es = w[pc + 3];
            if (cnt == 0 || es == 0 || depth == MAX_FRAMES)
                return stop_fatal(m, op, pc);
            /* extent check, wrapping-safe: elo <= a <= ehi and cnt*es <= ehi - a */
            if (a - elo > ehi - elo || cnt > (ehi - a) / es)
                return stop_fatal(m, op, pc);
            size_t body = pc + 4, nxt = 0;
            for (uintptr_t i = 0; i < cnt; i++) {
                uintptr_t e = a + i * es;
                int r = exec(m, body, e, e, e + es, lo, hi, depth + 1, FR_ARRAY, &nxt);
                if (r == R_STOP)
                    return R_STOP;
            }
            pc = nxt;
            break;
        }
        case OP_CALL: {
            if (depth == MAX_FRAMES)
                return stop_fatal(m, op, pc);
            int32_t rel = (int32_t)(uint32_t)w[pc + 2];
            long t = word_index(m, (uintptr_t)&w[pc] + (intptr_t)rel);
            if (t < 0) {
                m->verdict = V_SKIP;
                return R_STOP;
            }
            size_t dummy;
            int r = exec(m, (size_t)t, b + w[pc + 1], elo, ehi, lo, hi, depth + 1, FR_CALL, &dummy);
            if (r == R_STOP)
                return R_STOP;
            pc += 3;
            break;
        }
        case OP_REGION: {
            uintptr_t p = b + w[pc + 1], sz = w[pc + 2], ti = w[pc + 3];
            pc += 4;
            if (p - lo >= hi - lo)
                break; /* starts outside the range being scanned: ignored */
            if (sz > hi - p)
                sz = hi - p;
            /* One scan's regions are disjoint and in order; a region inside a region is
             * smaller than it (gcprog.rs: the bound on region work). */
            if (p - lo < m->region_end - lo || (m->in_region && sz == hi - lo))
                return stop_fatal(m, op, pc - 4);
            m->region_end = p + sz;
            long t = word_index(m, ti & ~(uintptr_t)3);
            if (t < 0 || (ti & ~(uintptr_t)3) == 0) {
                m->verdict = V_SKIP;
                return R_STOP;
            }
            if (m->nreg == MAX_REGIONS) { /* self-re-queueing regions: gccgo loops too */
                m->verdict = V_SKIP;
                return R_STOP;
            }
            m->reg[m->nreg].lo = p;
            m->reg[m->nreg].hi = p + sz;
            m->reg[m->nreg].pc = (size_t)t;
            m->reg[m->nreg].precise = ti & 1;
            m->reg[m->nreg].loop = (ti & 2) != 0;
            m->nreg++;
            break;
        }
        default:
            return stop_fatal(m, op, pc);
        }
    }
}

/* Scans [lo, hi) with the program at word pc. Returns 0 normally, 1 on a bad instruction,
 * -1 if the model gave up (SKIP). */
static int run_prog(Model *m, size_t pc, uintptr_t lo, uintptr_t hi, int precise, int loop)
{
    uintptr_t es = m->in->w[pc];
    if (loop && es == 0)
        loop = 0;
    uintptr_t e = lo;
    m->region_end = lo;
    for (;;) {
        uintptr_t ehi = es > hi - e ? hi : e + es;
        size_t after;
        int r = exec(m, pc + 1, e, e, ehi, lo, hi, 0, FR_TOP, &after);
        if (r == R_STOP)
            return m->verdict == V_SKIP ? -1 : 1;
        if (!loop)
            break;
        if (es > hi - e) { /* the element ran past the range: no tail left */
            e = hi;
            break;
        }
        e += es;
        if (es > hi - e)
            break;
    }
    if (!precise) {
        uintptr_t from = loop ? e : (es > hi - lo ? hi : lo + es);
        for (uintptr_t a = from; a < hi && hi - a >= 8; a += 8)
            if (nonzero(cell_at(m, a, lo, hi))) {
                /* Data past what the program describes: a region (the only non-precise scan
                 * here) is then rescanned conservatively, every aligned word. */
                for (uintptr_t c = (lo + 7) & ~(uintptr_t)7; c < hi && hi - c >= 8; c += 8)
                    keep(m, cell_at(m, c, lo, hi));
                break;
            }
    }
    return 0;
}

static void model(const Input *in, Model *m)
{
    memset(m, 0, sizeof *m);
    m->in = in;
    m->verdict = V_VALID;
    if (in->type_kind >= 3) {
        m->verdict = V_FATAL;
        m->fatal_msg = "scanblock: invalid type";
        return;
    }
    uintptr_t n = in->blk;
    int loop = in->type_kind == 1;
    if (loop && in->w[0] == 0)
        return; /* an array of zero-size elements: nothing to scan */
    int r = run_prog(m, 0, 0, n, 1, loop);
    if (r < 0)
        return;
    if (r > 0) {
        m->verdict = V_FATAL;
        m->fatal_msg = "scanblock: invalid GC instruction";
        return;
    }
    /* Regions: each is scanned on its own (order does not matter for marking; a bad
     * instruction in any of them kills the collector at one of their sites). */
    int fatal = 0;
    for (int i = 0; i < m->nreg; i++) {
        int nsites = m->nsites;
        m->in_region = 1;
        r = run_prog(m, m->reg[i].pc, m->reg[i].lo, m->reg[i].hi, m->reg[i].precise, m->reg[i].loop);
        if (r < 0)
            return;
        if (r > 0) {
            fatal = 1;
            if (m->nsites == nsites) { /* site list full: cannot name the place */
                m->verdict = V_SKIP;
                return;
            }
            m->verdict = m->verdict == V_SKIP ? V_SKIP : m->verdict;
        }
    }
    if (fatal) {
        /* Which region runs first is the collector's business; with several fatal sites any
         * one of them may be reported, and an UNSPEC region may run before them. */
        m->fatal_msg = "scanblock: invalid GC instruction";
        m->verdict = m->verdict == V_UNSPEC ? V_UNSPEC : V_FATAL;
    }
}

/* ---- building the real heap ----------------------------------------------------------- */
static void *root_slot[1];          /* registered root: the object under test */
static uint64_t gen;                /* input number: finalizers of older inputs are ignored */
static uint8_t dead[MAX_OBJ_WORDS];
static uintptr_t hidden_target[MAX_OBJ_WORDS]; /* target addresses, hidden from the collector */
#define HIDE 0xA5A5000000000000ULL
static GoType obj_type;

static uint64_t stat_valid, stat_fatal, stat_unspec, stat_skip, stat_scalar_only, stat_scalar_died;

static uint64_t pattern(uint64_t g, int id) { return (g * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)id << 40) ^ 0x1111; }

static void on_final(void *obj, void *arg)
{
    (void)obj;
    uintptr_t a = (uintptr_t)arg;
    if ((a >> 16) == (gen & 0xffffffffffffULL))
        dead[a & 0xffff] = 1;
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile unsigned char buf[64 * 1024];
    memset((void *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

static __attribute__((noinline)) void collect(void)
{
    scrub_stack();
    runtime_GC();
    gogc_run_finalizers();
}

/* Allocates the targets and the object, fills it, and publishes it in the root slot. */
static __attribute__((noinline)) void build_heap(const Input *in)
{
    memset(dead, 0, sizeof dead);
    for (int i = 0; i < in->ntargets; i++) {
        /* FlagNoInvokeGC: no collection may run while the targets are only hidden. */
        uint64_t *t = runtime_mallocgc(32, 0, FlagNoScan | FlagNoInvokeGC);
        t[0] = 0;
        t[1] = 0;
        t[2] = pattern(gen, i);
        t[3] = ~pattern(gen, i);
        if (gogc_set_finalizer(t, on_final, (void *)(uintptr_t)(((gen & 0xffffffffffffULL) << 16) | (uintptr_t)i)) != 0)
            abort();
        hidden_target[i] = (uintptr_t)t ^ HIDE;
    }
    init_type(&obj_type, K_STRUCT, in->w[0], in->w);
    uintptr_t typ = (uintptr_t)&obj_type | (uintptr_t)in->type_kind;
    uintptr_t *o = runtime_mallocgc(in->size, typ, FlagNoInvokeGC);
    uint8_t *base = NULL;
    uintptr_t bsize = 0;
    MSpan *sp = NULL;
    if (runtime_mlookup(o, &base, &bsize, &sp) != 1 || base != (uint8_t *)o || bsize != in->blk) {
        fprintf(stderr, "gcprog: object %p of %zu bytes: block %p size %zu, model assumed %zu\n",
                (void *)o, (size_t)in->size, (void *)base, (size_t)bsize, (size_t)in->blk);
        abort();
    }
    for (size_t i = 0; i < in->blk / 8; i++) {
        const Cell *c = &in->cell[i];
        switch (c->kind) {
        case C_ZERO: o[i] = 0; break;
        case C_TARGET: o[i] = hidden_target[c->arg] ^ HIDE; break;
        case C_INTERIOR: o[i] = (hidden_target[c->arg] ^ HIDE) + 8; break;
        case C_SCALAR: o[i] = c->arg; break;
        case C_DESC: o[i] = (uintptr_t)&desc[c->arg]; break;
        default: o[i] = (uintptr_t)itab[c->arg]; break;
        }
    }
    root_slot[0] = o;
}

static void run_valid(const Input *in, const Model *m)
{
    build_heap(in);
    collect();
    for (int i = 0; i < in->ntargets; i++) {
        if (!m->must[i])
            continue;
        const uint64_t *t = (const uint64_t *)(hidden_target[i] ^ HIDE);
        if (dead[i] || t[2] != pattern(gen, i) || t[3] != ~pattern(gen, i)) {
            fprintf(stderr, "gcprog: target %d (%p) held by a pointer slot was %s\n", i, (void *)t,
                    dead[i] ? "finalized (collected)" : "overwritten");
            abort();
        }
    }
    /* The descriptor and program buffer are reused by the next input: the object must not
     * outlive this one (a conservative reference could keep it), so free it explicitly. */
    void *o = root_slot[0];
    root_slot[0] = NULL;
    __go_free(o);
    for (int i = 0; i < in->ntargets; i++)
        if (!m->must[i]) {
            stat_scalar_only++;
            stat_scalar_died += dead[i];
        }
}

/* Runs the input in a child; returns its wait status and its stderr in buf. */
static int run_child(const Input *in, char *buf, size_t cap, int *timed_out)
{
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        signal(SIGABRT, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(20);
        build_heap(in);
        scrub_stack();
        runtime_GC();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    *timed_out = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, 1000);
        if (r > 0) {
            char tmp[4096];
            ssize_t k = read(fds[0], tmp, sizeof tmp);
            if (k <= 0)
                break;
            size_t take = (size_t)k < cap - 1 - len ? (size_t)k : cap - 1 - len;
            memcpy(buf + len, tmp, take);
            len += take;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 15) {
            *timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
    }
    buf[len] = 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

static void fail_child(const char *why, const char *err, const Model *m)
{
    fprintf(stderr, "gcprog: %s (model verdict %d, %s)\n----- child stderr -----\n%s-----\n", why,
            m->verdict, m->fatal_msg ? m->fatal_msg : "-", err);
    for (int i = 0; i < m->nsites; i++)
        fprintf(stderr, "  expected site: op %#lx at %#lx\n", (unsigned long)m->site_op[i],
                (unsigned long)m->site_at[i]);
    abort();
}

static void run_forked(const Input *in, const Model *m)
{
    static char err[65536];
    int timed_out;
    int st = run_child(in, err, sizeof err, &timed_out);
    if (timed_out)
        fail_child("child hung (killed after 15 s)", err, m);
    int died_fatal = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
    if (m->verdict == V_UNSPEC) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            return;
        if (!died_fatal || !strstr(err, "fatal error: scanblock: invalid GC instruction\n"))
            fail_child("unspecified case ended neither normally nor with the invalid-instruction error", err, m);
        return;
    }
    char want[128];
    snprintf(want, sizeof want, "fatal error: %s\n", m->fatal_msg);
    if (!died_fatal)
        fail_child("expected death by SIGABRT", err, m);
    if (!strstr(err, want))
        fail_child("expected fatal message missing", err, m);
    if (m->nsites) {
        int ok = 0;
        for (int i = 0; i < m->nsites && !ok; i++) {
            char line[128];
            snprintf(line, sizeof line, "runtime: invalid GC instruction 0x%lx at 0x%lx\n",
                     (unsigned long)m->site_op[i], (unsigned long)m->site_at[i]);
            ok = strstr(err, line) != NULL;
        }
        if (!ok)
            fail_child("no `runtime: invalid GC instruction` line for a place the model names", err, m);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    init_descs();
    gogc_add_roots(root_slot, root_slot + 1);
    return 0;
}

static Input g_in;
static Model g_m;
static Fix g_fix[MAX_PROG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen++;
    int nfix;
    decode(data, size, &g_in, g_fix, &nfix);
    model(&g_in, &g_m);
    switch (g_m.verdict) {
    case V_VALID:
        stat_valid++;
        run_valid(&g_in, &g_m);
        break;
    case V_FATAL:
        stat_fatal++;
        run_forked(&g_in, &g_m);
        break;
    case V_UNSPEC:
        stat_unspec++;
        run_forked(&g_in, &g_m);
        break;
    default:
        stat_skip++;
        break;
    }
    uint64_t total = stat_valid + stat_fatal + stat_unspec + stat_skip;
    if (getenv("GCPROG_VERBOSE") || (total & (total - 1)) == 0 || total % 100000 == 0)
        if (total >= 1024 || getenv("GCPROG_VERBOSE"))
            fprintf(stderr, "gcprog: %llu inputs: %llu valid, %llu fatal, %llu unspecified, %llu skipped; "
                    "scalar-only targets %llu, of which collected %llu\n",
                    (unsigned long long)total, (unsigned long long)stat_valid,
                    (unsigned long long)stat_fatal, (unsigned long long)stat_unspec,
                    (unsigned long long)stat_skip, (unsigned long long)stat_scalar_only,
                    (unsigned long long)stat_scalar_died);
    /* Precision in aggregate: if thousands of targets referenced only from scalar words all
     * survive, the collector is not scanning typed objects precisely. */
    if (stat_scalar_only >= 5000 && stat_scalar_died == 0) {
        fprintf(stderr, "gcprog: %llu targets referenced only from scalar words, none collected\n",
                (unsigned long long)stat_scalar_only);
        abort();
    }
    return 0;
}
