/*
 * t_gc_precise: precise scanning with GC programs (libgo-abi.md sections 6.2, 8, 9).
 *
 * Method. Every object whose fate is checked ("target") is a large object (40000 bytes unless
 * said otherwise: its own span). The cases are built with collections off (setgcpercent(-1)),
 * then collected; after that nothing is allocated until the check,
 * so runtime_mlookup(target) answers per object: 1 = still allocated, 0 = freed (its span went
 * back to the page heap). Live targets must also keep their payload. The test's own record of
 * target addresses is kept XOR-masked (never a heap address) and builders run in noinline
 * functions followed by a stack scrub, so only the holders can keep targets alive.
 * A final control drops every holder and requires every target to be freed, which shows that
 * the survivors were kept by what the test put in the holders and nothing else.
 *
 * Holders hang off a registered root_list (scanned conservatively, so each holder is found with
 * type info 0 and scanned with its own recorded type). For each opcode the holder's program
 * declares some words: an address stored in a declared word keeps its target alive; the exact
 * address of a target stored in a word the program does not declare (an int field, the slack
 * after the type's size, a string length, a channel header ...) must not. Each typed holder has
 * an untyped twin (typ 0) holding fresh targets in every word, all of which must survive
 * (conservative scanning). Cases:
 *   GC_APTR, FlagNoScan, GC_PTR (the pointee is scanned with the program named in the instruction,
 *   not precisely: a non-zero tail past its nominal size makes the whole block be rescanned with
 *   its heap type or conservatively), GC_ARRAY_START/NEXT (flat and nested), GC_CALL, GC_STRING
 *   (len 0 is not a reference; the bytes are marked, never scanned), GC_EFACE and GC_IFACE (pointer
 *   types, pointer-to-pointerful types with elem->__gc, unsafe.Pointer, boxed values with t->__gc,
 *   nil type / nil method table, type descriptors and method tables living in the heap),
 *   GC_SLICE (cap 0; the element program in the instruction is ignored, the array's own
 *   TypeInfo_Array record is used), GC_REGION, GC_CHAN_PTR (only the buffer's first cap elements
 *   are scanned, with the element program; element types without pointers and cap 0 are not),
 *   TypeInfo_Chan blocks, TypeInfo_Array blocks (small, with a partial last element, and a large
 *   one whose elements straddle the 128 KiB scan-chunk boundaries), a large precise
 *   SingleObject spanning chunks, an untyped large block with pointers at chunk boundaries.
 * Interior pointers: into large blocks (several cases above) and into small blocks; the small
 * ones are checked through ReadMemStats by_size: two 6912-byte blocks kept only by interior
 * pointers must not be freed (class 6912 Frees +0), two 9472-byte blocks (one referenced from an
 * undeclared word, one unreferenced) must be (class 9472 Frees +2).
 */
#include "testutil.h"
#include "t_gc_util.h"

#define TSZ 40000
#define MAXT 600

static uint64_t t_hid[MAXT];
static const char *t_label[MAXT];
static signed char t_expect[MAXT];
static unsigned char t_fill[MAXT];
static size_t t_size[MAXT];
static int nt;

static void *holders[256];
static int nholders;
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} rl = {NULL, {{holders, sizeof holders}, {NULL, 0}}};

static const char *lbl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *lbl(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static uint64_t tpay(int i, size_t w)
{
    return ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL + w * 0xD6E8FEB86659FD93ULL) | 0xFF00000000000000ULL;
}

/* A tracked block. fill: payload written and later verified (only for blocks the test does not
 * write into itself). */
static uintptr_t tgt_block(const char *label, int live, size_t size, uintptr_t typ, uint32_t flag, int fill)
{
    if (nt >= MAXT) {
        fprintf(stderr, "too many targets\n");
        exit(2);
    }
    uint64_t *p = runtime_mallocgc(size, typ, flag);
    int i = nt++;
    t_hid[i] = gc_hide(p);
    t_label[i] = label;
    t_expect[i] = (signed char)live;
    t_fill[i] = (unsigned char)fill;
    t_size[i] = size;
    if (fill)
        for (size_t w = 0; w < size / 8; w++)
            p[w] = tpay(i, w);
    return (uintptr_t)p;
}

/* A pointer-free target with a payload. */
static uintptr_t tgt(const char *label, int live)
{
    return tgt_block(label, live, TSZ, 0, FlagNoScan, 1);
}

static uintptr_t *holder(uintptr_t size, const void *type, uintptr_t kind)
{
    uintptr_t *h = runtime_mallocgc(size, type ? (uintptr_t)type | kind : 0, 0);
    holders[nholders++] = h;
    return h;
}

/* The untyped twin of a typed holder: nw words, each the address (exact or interior) of a fresh
 * target, all of which must survive. */
static void twin(const char *what, int nw)
{
    uintptr_t *u = holder((uintptr_t)nw * 8, NULL, 0);
    for (int i = 0; i < nw; i++)
        u[i] = tgt(lbl("untyped twin of %s: word %d", what, i), 1) + (uintptr_t)((i % 3) * 4000);
}

/* ---------- type descriptors and programs ---------- */

static uintptr_t sub48[] = {48, GC_APTR, 0, GC_END, 0};
static uintptr_t sub16[] = {16, GC_APTR, 0, GC_END, 0};
static uintptr_t elem16_prog[] = {16, GC_APTR, 8, GC_END, 0};
static uintptr_t elem16_bogus[] = {16, GC_APTR, 0, GC_END, 0};
static uintptr_t elem24_prog[] = {24, GC_APTR, 16, GC_END, 0};
static uintptr_t s48_prog[] = {48, GC_APTR, 8, GC_END, 0};
static uintptr_t x64_prog[] = {64, GC_APTR, 40, GC_END, 0};
static uintptr_t int64_prog[] = {8, GC_END, 0};
static uintptr_t int16_prog[] = {16, GC_END, 0};
static uintptr_t ptrword_prog[] = {8, GC_APTR, 0, GC_END, 0};

static GoType elem16T, elem24T, elem48T, s48T, x64T, int64T, int16T, unsafeT;
static GoPtrType ptr_int, ptr_elem48, weird_ptr;
static GoChanType chanT, chanT_np;

static uintptr_t aptr_prog[] = {40, GC_APTR, 8, GC_APTR, 24, GC_END, 0};
static GoType aptrT;
static uintptr_t ptr_prog[12];
static GoType ptrT_holder;
static uintptr_t arr_prog[] = {104, GC_ARRAY_START, 8, 5, 16, GC_APTR, 8, GC_ARRAY_NEXT, GC_APTR, 96, GC_END, 0};
static GoType arrT;
static uintptr_t nest_prog[] = {72, GC_ARRAY_START, 0, 3, 24, GC_ARRAY_START, 8, 2, 8, GC_APTR, 0,
                                GC_ARRAY_NEXT, GC_ARRAY_NEXT, GC_END, 0};
static GoType nestT;
/* [1]=CALL off 8 rel, [4] APTR 0, [6] END, [7] sub: APTR 8, END */
static uintptr_t call_prog[] = {32, GC_CALL, 8, 6 * 8, GC_APTR, 0, GC_END, GC_APTR, 8, GC_END, 0};
static GoType callT;
static uintptr_t str_prog[] = {88, GC_STRING, 8, GC_STRING, 24, GC_STRING, 40, GC_STRING, 56, GC_STRING, 72, GC_END, 0};
static GoType strT;
static uintptr_t eface_prog[] = {128, GC_EFACE, 0, GC_EFACE, 16, GC_EFACE, 32, GC_EFACE, 48,
                                 GC_EFACE, 64, GC_EFACE, 80, GC_EFACE, 96, GC_EFACE, 112, GC_END, 0};
static GoType efaceT;
static uintptr_t iface_prog[] = {80, GC_IFACE, 0, GC_IFACE, 16, GC_IFACE, 32, GC_IFACE, 48, GC_IFACE, 64, GC_END, 0};
static GoType ifaceT;
static uintptr_t slice_prog[14];
static GoType sliceT;
static uintptr_t region_sub[] = {32, GC_APTR, 8, GC_APTR, 24, GC_END, 0};
static uintptr_t region_prog[9];
static GoType regionT;
static uintptr_t chanhold_prog[12];
static GoType chanholdT;
static uintptr_t ptr63_prog[1 + 2 * 63 + 2];
static GoType ptr63T;

#define BIG_SO 300000
static uintptr_t bigso_prog[] = {BIG_SO, GC_APTR, 131072, GC_APTR, 262136, GC_APTR, BIG_SO - 8, GC_END, 0};
static GoType bigsoT;

static const void *tab_ptr[2], *tab_s48[2], *tab_elem48[2];

static void init_types(void)
{
    gc_init_type(&elem16T, GO_STRUCT, 16, elem16_prog);
    gc_init_type(&elem24T, GO_STRUCT, 24, elem24_prog);
    gc_init_type(&elem48T, GO_STRUCT, 48, sub48);
    gc_init_type(&s48T, GO_STRUCT, 48, s48_prog);
    gc_init_type(&x64T, GO_STRUCT, 64, x64_prog);
    gc_init_type(&int64T, GO_INT64 | GO_NO_POINTERS, 8, int64_prog);
    gc_init_type(&int16T, GO_STRUCT | GO_NO_POINTERS, 16, int16_prog);
    gc_init_type(&unsafeT, GO_UNSAFE_POINTER | GO_DIRECT_IFACE, 8, ptrword_prog);
    gc_init_type(&ptr_int.__common, GO_PTR | GO_DIRECT_IFACE, 8, ptrword_prog);
    ptr_int.__element_type = &int64T;
    static uintptr_t ptr_elem48_prog[] = {8, GC_PTR, 0, 0, GC_END, 0};
    ptr_elem48_prog[3] = (uintptr_t)sub48;
    gc_init_type(&ptr_elem48.__common, GO_PTR | GO_DIRECT_IFACE, 8, ptr_elem48_prog);
    ptr_elem48.__element_type = &elem48T;
    gc_init_type(&weird_ptr.__common, GO_PTR | GO_DIRECT_IFACE | GO_NO_POINTERS, 8, ptrword_prog);
    weird_ptr.__element_type = &int64T;
    static uintptr_t chan_prog[] = {8, GC_CHAN_PTR, 0, 0, GC_END, 0};
    chan_prog[3] = (uintptr_t)&chanT;
    gc_init_type(&chanT.__common, GO_CHAN, 8, chan_prog);
    chanT.__element_type = &elem16T;
    chanT.__dir = 3;
    static uintptr_t chan_np_prog[] = {8, GC_CHAN_PTR, 0, 0, GC_END, 0};
    chan_np_prog[3] = (uintptr_t)&chanT_np;
    gc_init_type(&chanT_np.__common, GO_CHAN, 8, chan_np_prog);
    chanT_np.__element_type = &int16T;
    chanT_np.__dir = 3;

    ptr63_prog[0] = 504;
    for (int w = 0; w < 63; w++) {
        ptr63_prog[1 + 2 * w] = GC_APTR;
        ptr63_prog[2 + 2 * w] = (uintptr_t)w * 8;
    }
    ptr63_prog[1 + 2 * 63] = GC_END;
    gc_init_type(&ptr63T, GO_STRUCT, 504, ptr63_prog);
    gc_init_type(&aptrT, GO_STRUCT, 40, aptr_prog);
    uintptr_t pp[] = {32, GC_PTR, 8, (uintptr_t)sub48, GC_PTR, 16, (uintptr_t)sub16, GC_PTR, 24, (uintptr_t)sub16, GC_END, 0};
    memcpy(ptr_prog, pp, sizeof pp);
    gc_init_type(&ptrT_holder, GO_STRUCT, 32, ptr_prog);
    gc_init_type(&arrT, GO_STRUCT, 104, arr_prog);
    gc_init_type(&nestT, GO_ARRAY, 72, nest_prog);
    gc_init_type(&callT, GO_STRUCT, 32, call_prog);
    gc_init_type(&strT, GO_STRUCT, 88, str_prog);
    gc_init_type(&efaceT, GO_STRUCT, 128, eface_prog);
    gc_init_type(&ifaceT, GO_STRUCT, 80, iface_prog);
    uintptr_t sp[] = {96, GC_SLICE, 0, (uintptr_t)elem16_bogus, GC_SLICE, 24, (uintptr_t)elem16_bogus,
                      GC_SLICE, 48, (uintptr_t)elem16_bogus, GC_SLICE, 72, (uintptr_t)elem16_bogus, GC_END};
    memcpy(slice_prog, sp, sizeof sp);
    gc_init_type(&sliceT, GO_STRUCT, 96, slice_prog);
    uintptr_t rp[] = {64, GC_REGION, 8, 32, (uintptr_t)region_sub, GC_APTR, 48, GC_END, 0};
    memcpy(region_prog, rp, sizeof rp);
    gc_init_type(&regionT, GO_STRUCT, 64, region_prog);
    uintptr_t cp[] = {40, GC_CHAN_PTR, 8, (uintptr_t)&chanT, GC_CHAN_PTR, 16, (uintptr_t)&chanT_np,
                      GC_CHAN_PTR, 24, (uintptr_t)&chanT, GC_END, 0};
    memcpy(chanhold_prog, cp, sizeof cp);
    gc_init_type(&chanholdT, GO_STRUCT, 40, chanhold_prog);
    gc_init_type(&bigsoT, GO_STRUCT, BIG_SO, bigso_prog);

    tab_ptr[0] = &ptr_int;
    tab_s48[0] = &s48T;
    tab_elem48[0] = &ptr_elem48;
}

/* ---------- cases ---------- */

/* A struct of 63 plain pointers (504 bytes, class 512), and an untyped block of 63 words (what
 * efence=1 makes of a 504-byte request: a block as long as its request). Their pointer masks
 * cover all 63 words, which once read as "nothing to scan": the targets were freed. */
static void __attribute__((noinline)) case_63_words(void)
{
    uintptr_t *h = holder(504, &ptr63T, TypeInfo_SingleObject);
    h[0] = tgt("63-pointer struct: word 0", 1);
    h[31] = tgt("63-pointer struct: word 31", 1);
    h[62] = tgt("63-pointer struct: word 62", 1);
    uintptr_t *u = holder(504, NULL, 0);
    u[0] = tgt("untyped 504-byte block: word 0", 1);
    u[62] = tgt("untyped 504-byte block: word 62", 1);
}

static void __attribute__((noinline)) case_aptr(void)
{
    uintptr_t *h = holder(40, &aptrT, TypeInfo_SingleObject); /* class 48: word 5 is slack */
    h[0] = tgt("APTR holder: word 0 (int field)", 0);
    h[1] = tgt("APTR holder: word 1 (GC_APTR 8)", 1);
    h[2] = tgt("APTR holder: word 2 (int field)", 0);
    h[3] = tgt("APTR holder: word 3 (GC_APTR 24), interior +20000", 1) + 20000;
    h[4] = tgt("APTR holder: word 4 (int field)", 0);
    h[5] = tgt("APTR holder: word 5 (slack past the 40-byte type, precise object)", 0);
    twin("APTR holder", 6);

    uintptr_t *n = runtime_mallocgc(48, 0, FlagNoScan);
    holders[nholders++] = n;
    n[0] = tgt("FlagNoScan untyped block: word 0", 0);
    n[3] = tgt("FlagNoScan untyped block: word 3", 0);
}

static void __attribute__((noinline)) case_ptr(void)
{
    uintptr_t *h = holder(32, &ptrT_holder, TypeInfo_SingleObject);
    h[0] = tgt("PTR holder: word 0 (int field)", 0);
    uintptr_t *m48 = runtime_mallocgc(48, 0, 0);
    m48[0] = tgt("GC_PTR with 48-byte program -> untyped 48-byte block: word 0 (declared)", 1);
    m48[2] = tgt("GC_PTR with 48-byte program -> untyped 48-byte block: word 2 (not declared, no tail)", 0);
    m48[5] = tgt("GC_PTR with 48-byte program -> untyped 48-byte block: word 5 (not declared, no tail)", 0);
    h[1] = (uintptr_t)m48;
    uintptr_t *m64 = runtime_mallocgc(64, 0, 0);
    m64[0] = tgt("GC_PTR with 16-byte program -> untyped 64-byte block: word 0 (declared)", 1);
    m64[1] = tgt("GC_PTR with 16-byte program -> untyped 64-byte block: word 1 (conservative rescan: non-zero tail)", 1);
    m64[6] = tgt("GC_PTR with 16-byte program -> untyped 64-byte block: word 6 (tail, conservative rescan)", 1);
    h[2] = (uintptr_t)m64;
    uintptr_t *t64 = runtime_mallocgc(64, (uintptr_t)&x64T | TypeInfo_SingleObject, 0);
    t64[0] = tgt("GC_PTR with 16-byte program -> typed 64-byte block: word 0 (declared by GC_PTR's program)", 1);
    t64[5] = tgt("GC_PTR with 16-byte program -> typed 64-byte block: word 5 (declared by its heap type, tail rescan)", 1);
    t64[3] = tgt("GC_PTR with 16-byte program -> typed 64-byte block: word 3 (declared by neither)", 0);
    h[3] = (uintptr_t)t64;
}

static void __attribute__((noinline)) case_array(void)
{
    uintptr_t *h = holder(104, &arrT, TypeInfo_SingleObject); /* class 112 */
    h[0] = tgt("ARRAY holder: word 0 (int before the array)", 0);
    for (int i = 0; i < 5; i++)
        h[2 + 2 * i] = tgt(lbl("ARRAY holder: arr[%d].p (GC_APTR inside the loop)", i), 1);
    h[1] = tgt("ARRAY holder: arr[0].x (int)", 0);
    h[5] = tgt("ARRAY holder: arr[2].x (int)", 0);
    h[9] = tgt("ARRAY holder: arr[4].x (int)", 0);
    h[11] = tgt("ARRAY holder: word 11 (int after the array)", 0);
    h[12] = tgt("ARRAY holder: word 12 (GC_APTR 96 after GC_ARRAY_NEXT)", 1);
    h[13] = tgt("ARRAY holder: word 13 (slack)", 0);
    twin("ARRAY holder", 14);

    uintptr_t *n = holder(72, &nestT, TypeInfo_SingleObject); /* class 80 */
    for (int i = 0; i < 3; i++) {
        n[3 * i] = tgt(lbl("nested ARRAY holder: outer[%d].n (int)", i), 0);
        n[3 * i + 1] = tgt(lbl("nested ARRAY holder: outer[%d].q[0]", i), 1);
        n[3 * i + 2] = tgt(lbl("nested ARRAY holder: outer[%d].q[1]", i), 1) + 8;
    }
    n[9] = tgt("nested ARRAY holder: word 9 (slack)", 0);
    twin("nested ARRAY holder", 10);
}

static void __attribute__((noinline)) case_call(void)
{
    uintptr_t *h = holder(32, &callT, TypeInfo_SingleObject);
    h[0] = tgt("CALL holder: word 0 (GC_APTR 0 after the call returns)", 1);
    h[1] = tgt("CALL holder: word 1 (int)", 0);
    h[2] = tgt("CALL holder: word 2 (subroutine's GC_APTR 8 at base+8)", 1);
    h[3] = tgt("CALL holder: word 3 (int)", 0);
    twin("CALL holder", 4);
}

static void __attribute__((noinline)) case_string(void)
{
    uintptr_t *h = holder(88, &strT, TypeInfo_SingleObject); /* class 96 */
    h[0] = tgt("STRING holder: word 0 (int)", 0);
    h[1] = tgt("STRING s@8: data pointer, len 5", 1);
    h[2] = 5;
    h[3] = tgt("STRING s@24: interior data pointer (substring), len 7", 1) + 1234;
    h[4] = 7;
    h[5] = tgt("STRING s@40: data pointer with len 0", 0);
    h[6] = 0;
    uintptr_t bytes = tgt_block("STRING s@56: scannable untyped block holding the bytes", 1, TSZ, 0, 0, 0);
    ((uintptr_t *)bytes)[0] = tgt("address inside a string's bytes (marked only, never scanned)", 0);
    h[7] = bytes;
    h[8] = 16;
    h[9] = tgt("STRING s@72: data pointer", 1);
    h[10] = tgt("STRING s@72: a target's address used as the length", 0);
    h[11] = tgt("STRING holder: word 11 (slack)", 0);
    twin("STRING holder", 12);
}

static void __attribute__((noinline)) case_eface(void)
{
    /* 144 bytes: eight declared efaces (128 bytes) and one undeclared in words 16-17 */
    uintptr_t *h = runtime_mallocgc(144, (uintptr_t)&efaceT | TypeInfo_SingleObject, 0);
    holders[nholders++] = h;
    h[0] = (uintptr_t)&ptr_int;
    h[1] = tgt("EFACE e0 {*int64}: data", 1);
    h[2] = (uintptr_t)&ptr_elem48;
    uintptr_t *m = runtime_mallocgc(48, 0, 0);
    m[0] = tgt("EFACE e1 {*T, T has pointers}: T's word 0 (declared by elem->__gc)", 1);
    m[2] = tgt("EFACE e1 {*T, T has pointers}: T's word 2 (not declared)", 0);
    h[3] = (uintptr_t)m;
    h[4] = (uintptr_t)&unsafeT;
    h[5] = tgt("EFACE e2 {unsafe.Pointer}: interior data pointer", 1) + 100;
    h[6] = (uintptr_t)&s48T;
    uintptr_t *c = runtime_mallocgc(48, 0, 0);
    c[1] = tgt("EFACE e3 {struct S (boxed)}: S word 1 (declared by t->__gc)", 1);
    c[0] = tgt("EFACE e3 {struct S (boxed)}: S word 0 (int)", 0);
    c[3] = tgt("EFACE e3 {struct S (boxed)}: S word 3 (int)", 0);
    h[7] = (uintptr_t)c;
    h[8] = (uintptr_t)&int16T;
    uintptr_t *b = runtime_mallocgc(16, 0, 0);
    b[0] = tgt("EFACE e4 {boxed pointer-free 16-byte value}: word 0", 0);
    b[1] = tgt("EFACE e4 {boxed pointer-free 16-byte value}: word 1", 0);
    h[9] = (uintptr_t)b;
    h[10] = 0;
    h[11] = tgt("EFACE e5 {nil type}: data word", 0);
    h[12] = (uintptr_t)&weird_ptr;
    h[13] = tgt("EFACE e6 {pointer type flagged GO_NO_POINTERS}: data word", 0);
    uintptr_t ht = tgt_block("EFACE e7: type descriptor living in the GC heap", 1, TSZ, 0, 0, 0);
    memcpy((void *)ht, &ptr_int, sizeof ptr_int);
    h[14] = ht;
    h[15] = tgt("EFACE e7 {heap type descriptor of a pointer type}: data", 1);
    h[16] = (uintptr_t)&ptr_int;
    h[17] = tgt("EFACE in the slack past the type (words 16-17): data", 0);
    twin("EFACE holder", 18);
}

static void __attribute__((noinline)) case_iface(void)
{
    uintptr_t *h = runtime_mallocgc(96, (uintptr_t)&ifaceT | TypeInfo_SingleObject, 0);
    holders[nholders++] = h;
    h[0] = (uintptr_t)tab_ptr;
    h[1] = tgt("IFACE i0 {tab of *int64}: data", 1);
    h[2] = (uintptr_t)tab_s48;
    uintptr_t *c = runtime_mallocgc(48, 0, 0);
    c[1] = tgt("IFACE i1 {tab of struct S (boxed)}: S word 1 (declared)", 1);
    c[0] = tgt("IFACE i1 {tab of struct S (boxed)}: S word 0 (int)", 0);
    h[3] = (uintptr_t)c;
    h[4] = 0;
    h[5] = tgt("IFACE i2 {nil tab}: data word", 0);
    uintptr_t ht = tgt_block("IFACE i3: method table living in the GC heap", 1, TSZ, 0, 0, 0);
    ((uintptr_t *)ht)[0] = (uintptr_t)&ptr_int;
    h[6] = ht;
    h[7] = tgt("IFACE i3 {heap method table of *int64}: data", 1);
    h[8] = (uintptr_t)tab_elem48;
    uintptr_t *m = runtime_mallocgc(48, 0, 0);
    m[0] = tgt("IFACE i4 {tab of *T, T has pointers}: T word 0 (declared)", 1);
    m[3] = tgt("IFACE i4 {tab of *T, T has pointers}: T word 3 (not declared)", 0);
    h[9] = (uintptr_t)m;
    h[10] = (uintptr_t)tab_ptr;
    h[11] = tgt("IFACE in the slack past the type (words 10-11): data", 0);
    twin("IFACE holder", 12);
}

static void __attribute__((noinline)) case_slice(void)
{
    uintptr_t *h = holder(96, &sliceT, TypeInfo_SingleObject);
    h[0] = tgt("SLICE s0 {p, 1, 1}", 1);
    h[1] = 1;
    h[2] = 1;
    h[3] = tgt("SLICE s1 {p, 0, 0} (cap 0)", 0);
    h[4] = 0;
    h[5] = 0;
    h[6] = tgt("SLICE s2 {p+8000, 0, 3} (len 0, cap 3, interior)", 1) + 8000;
    h[7] = 0;
    h[8] = 3;
    uintptr_t arr = tgt_block("SLICE s3: backing array allocated TypeInfo_Array of {x int; p *T}", 1, TSZ,
                              (uintptr_t)&elem16T | TypeInfo_Array, 0, 0);
    uintptr_t *a = (uintptr_t *)arr;
    a[0] = tgt("SLICE s3 array elem[0].x (int; the instruction's bogus program says pointer)", 0);
    a[1] = tgt("SLICE s3 array elem[0].p (pointer by the array's own type)", 1);
    a[2000] = tgt("SLICE s3 array elem[1000].x (int)", 0);
    a[2001] = tgt("SLICE s3 array elem[1000].p", 1);
    a[4998] = tgt("SLICE s3 array elem[2499].x (int)", 0);
    a[4999] = tgt("SLICE s3 array elem[2499].p (last element)", 1);
    h[9] = arr;
    h[10] = 3;
    h[11] = 3;
    twin("SLICE holder", 12);
}

static void __attribute__((noinline)) case_region(void)
{
    uintptr_t *h = holder(64, &regionT, TypeInfo_SingleObject);
    h[0] = tgt("REGION holder: word 0 (int)", 0);
    h[1] = tgt("REGION holder: region word 0 (int)", 0);
    h[2] = tgt("REGION holder: region word 1 (region program's GC_APTR 8)", 1);
    h[3] = tgt("REGION holder: region word 2 (int)", 0);
    h[4] = tgt("REGION holder: region word 3 (region program's GC_APTR 24)", 1) + 16;
    h[5] = tgt("REGION holder: word 5 (int after the region)", 0);
    h[6] = tgt("REGION holder: word 6 (GC_APTR 48)", 1);
    h[7] = tgt("REGION holder: word 7 (int)", 0);
    twin("REGION holder", 8);
}

/* Channel block: Hchan (88 bytes) then cap elements of 16 bytes {x int; p *T}: elem k's x is
 * word 11+2k, p is word 12+2k. */
static uintptr_t *make_chan(const char *what, uintptr_t typ, uintptr_t cap, int elem_ptrs)
{
    uintptr_t c = tgt_block(lbl("%s: the channel block", what), 1, TSZ, typ, 0, 0);
    Hchan *ch = (Hchan *)c;
    ch->qcount = cap;
    ch->dataqsiz = cap;
    ch->elemsize = 16;
    uintptr_t *w = (uintptr_t *)c;
    w[7] = tgt(lbl("%s: Hchan.recvq (header word 7)", what), 0);
    w[11] = tgt(lbl("%s: buffer elem[0].x (int)", what), 0);
    w[12] = tgt(lbl("%s: buffer elem[0].p", what), elem_ptrs && cap > 0);
    w[18] = tgt(lbl("%s: buffer elem[3].p", what), elem_ptrs && cap > 3);
    w[20] = tgt(lbl("%s: elem[4].p (past cap %lu)", what, (unsigned long)cap), elem_ptrs && cap > 4);
    w[3000] = tgt(lbl("%s: word 3000 (far past the buffer)", what), 0);
    return w;
}

static void __attribute__((noinline)) case_chan(void)
{
    uintptr_t *h = holder(40, &chanholdT, TypeInfo_SingleObject);
    h[0] = tgt("CHAN_PTR holder: word 0 (int)", 0);
    h[1] = (uintptr_t)make_chan("GC_CHAN_PTR to untyped chan, elem {x int; p *T}, cap 4", 0, 4, 1);
    h[2] = (uintptr_t)make_chan("GC_CHAN_PTR to untyped chan, pointer-free elem, cap 4", 0, 4, 0);
    h[3] = (uintptr_t)make_chan("GC_CHAN_PTR to untyped chan, elem {x int; p *T}, cap 0", 0, 0, 1);
    h[4] = tgt("CHAN_PTR holder: word 4 (int)", 0);
    twin("CHAN_PTR holder", 6);

    /* TypeInfo_Chan: found through a conservative root, scanned by its type record. */
    holders[nholders++] = make_chan("TypeInfo_Chan block, elem {x int; p *T}, cap 4",
                                    (uintptr_t)&chanT | TypeInfo_Chan, 4, 1);
    holders[nholders++] = make_chan("TypeInfo_Chan block, elem {x int; p *T}, cap 2",
                                    (uintptr_t)&chanT | TypeInfo_Chan, 2, 1);
}

static void __attribute__((noinline)) case_typed_array(void)
{
    uintptr_t *a = holder(112, &elem16T, TypeInfo_Array); /* 7 elements */
    for (int i = 0; i < 7; i++)
        a[2 * i + 1] = tgt(lbl("TypeInfo_Array[7] of {x int; p *T}: elem[%d].p", i), 1);
    a[0] = tgt("TypeInfo_Array[7] of {x int; p *T}: elem[0].x", 0);
    a[6] = tgt("TypeInfo_Array[7] of {x int; p *T}: elem[3].x", 0);
    a[12] = tgt("TypeInfo_Array[7] of {x int; p *T}: elem[6].x", 0);

    uintptr_t *b = holder(120, &elem24T, TypeInfo_Array); /* 5 elements in a 128-byte block */
    for (int i = 0; i < 5; i++)
        b[3 * i + 2] = tgt(lbl("TypeInfo_Array[5] of {x, y int; p *T}: elem[%d].p", i), 1);
    b[0] = tgt("TypeInfo_Array[5] of {x, y int; p *T}: elem[0].x", 0);
    b[13] = tgt("TypeInfo_Array[5] of {x, y int; p *T}: elem[4].y", 0);
    b[15] = tgt("TypeInfo_Array[5] of 24-byte elems: word 15 (partial element at the block end)", 0);
}

/* Elements of 24 bytes straddle the 128 KiB chunk boundaries (131072 = 24*5461 + 8; 262144 =
 * 24*10922 + 16). */
#define BIG_ARR 393216
static void __attribute__((noinline)) case_big_array(void)
{
    uintptr_t *a = (uintptr_t *)tgt_block("large TypeInfo_Array (384 KiB) of 24-byte elements", 1, BIG_ARR,
                                          (uintptr_t)&elem24T | TypeInfo_Array, 0, 0);
    holders[nholders++] = a;
    static const int elems[] = {0, 5460, 5461, 5462, 10921, 10922, 10923, 16383};
    for (size_t k = 0; k < sizeof elems / sizeof elems[0]; k++) {
        int e = elems[k];
        a[3 * e + 2] = tgt(lbl("large TypeInfo_Array: elem[%d].p (byte %d)", e, 24 * e + 16), 1);
        a[3 * e] = tgt(lbl("large TypeInfo_Array: elem[%d].x (byte %d)", e, 24 * e), 0);
        a[3 * e + 1] = tgt(lbl("large TypeInfo_Array: elem[%d].y (byte %d)", e, 24 * e + 8), 0);
    }

    uintptr_t *u = (uintptr_t *)tgt_block("large untyped block (384 KiB)", 1, BIG_ARR, 0, 0, 0);
    holders[nholders++] = (char *)u + 100000; /* found through an interior pointer */
    static const int words[] = {0, 16382, 16383, 16384, 16385, 32767, 32768, 49151};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        u[words[k]] = tgt(lbl("large untyped block: word %d (byte %d)", words[k], 8 * words[k]), 1);

    uintptr_t *s = (uintptr_t *)tgt_block("large precise SingleObject (300000 bytes)", 1, BIG_SO,
                                          (uintptr_t)&bigsoT | TypeInfo_SingleObject, 0, 0);
    holders[nholders++] = s;
    s[131064 / 8] = tgt("large SingleObject: byte 131064 (int)", 0);
    s[131072 / 8] = tgt("large SingleObject: byte 131072 (GC_APTR)", 1);
    s[262136 / 8] = tgt("large SingleObject: byte 262136 (GC_APTR)", 1);
    s[262144 / 8] = tgt("large SingleObject: byte 262144 (int)", 0);
    s[200000 / 8] = tgt("large SingleObject: byte 200000 (int)", 0);
    s[(BIG_SO - 8) / 8] = tgt("large SingleObject: last word (GC_APTR)", 1);
    s[BIG_SO / 8] = tgt("large SingleObject: first word past the type's size", 0);
}

/* Small blocks kept only by interior pointers. */
static uint64_t small_hid[4];

static void __attribute__((noinline)) case_small_interior(void)
{
    uintptr_t *s1 = runtime_mallocgc(6912, 0, FlagNoScan);
    uintptr_t *s2 = runtime_mallocgc(6912, 0, FlagNoScan);
    uintptr_t *s3 = runtime_mallocgc(9472, 0, FlagNoScan);
    uintptr_t *s4 = runtime_mallocgc(9472, 0, FlagNoScan);
    for (int w = 0; w < 6912 / 8; w++) {
        s1[w] = tpay(1000, (size_t)w);
        s2[w] = tpay(1001, (size_t)w);
    }
    uintptr_t *u = holder(48, NULL, 0);
    u[3] = (uintptr_t)s1 + 3000;
    uintptr_t *t = holder(40, &aptrT, TypeInfo_SingleObject);
    t[1] = (uintptr_t)s2 + 6904; /* last word */
    t[2] = (uintptr_t)s3;        /* undeclared word */
    small_hid[0] = gc_hide(s1);
    small_hid[1] = gc_hide(s2);
    small_hid[2] = gc_hide(s3);
    small_hid[3] = gc_hide(s4);
}

static int class_index(const MStats *m, uint32_t size)
{
    for (int i = 0; i < 61; i++)
        if (m->by_size[i].size == size)
            return i;
    return -1;
}

/* ---------- checking ---------- */

static int check_targets(int control)
{
    int bad = 0;
    for (int i = 0; i < nt; i++) {
        const uint64_t *p = gc_unhide(t_hid[i]);
        int live = gc_large_live(p);
        int want = control ? 0 : t_expect[i];
        if (live != want) {
            bad++;
            CHECK(live == want, "%s%s: expected %s, found %s", control ? "after dropping all holders: " : "",
                  t_label[i], want ? "alive" : "freed", live ? "alive" : "freed");
            continue;
        }
        if (live && t_fill[i]) {
            long badw = -1;
            for (size_t w = 0; w < t_size[i] / 8; w++)
                if (p[w] != tpay(i, w)) {
                    badw = (long)w;
                    break;
                }
            CHECK(badw < 0, "%s: alive but payload word %ld changed", t_label[i], badw);
            bad += badw >= 0;
        }
    }
    return bad;
}

static void __attribute__((noinline)) build_all(void)
{
    case_aptr();
    case_63_words();
    case_ptr();
    case_array();
    case_call();
    case_string();
    case_eface();
    case_iface();
    case_slice();
    case_region();
    case_chan();
    case_typed_array();
    case_big_array();
    case_small_interior();
}

int main(void)
{
    init_types();
    __go_register_gc_roots((struct root_list *)&rl);

    MStats m0, m1;
    gc_full(); /* settle */
    /* No collection may run while the cases are built: one would free the targets that are
     * already unreachable and later targets could reuse their pages, which would make them look
     * alive. GOGC off (setgcpercent < 0) turns every collection into a no-op. */
    int old_pct = runtime_setgcpercent(-1);
    CHECK(old_pct == 100, "setgcpercent returned %d, expected the default 100", old_pct);
    uint32_t gc_before = runtime_memStats.numgc;
    build_all();
    gc_stats(&m0);
    CHECK(m0.numgc == gc_before, "a collection ran while building the cases (numgc %u -> %u)", gc_before,
          m0.numgc);
    runtime_setgcpercent(100);
    gc_full();
    gc_full();
    gc_stats(&m1);

    int nlive = 0;
    for (int i = 0; i < nt; i++)
        nlive += t_expect[i];
    printf("%d targets (%d expected alive, %d expected freed), %d holders\n", nt, nlive, nt - nlive, nholders);

    int bad = check_targets(0);

    int c6912 = class_index(&m1, 6912), c9472 = class_index(&m1, 9472);
    CHECK(c6912 > 0 && c9472 > 0, "by_size lacks the 6912 or 9472 class");
    if (tu_godebug("efence")) {
        /* efence=1: each block is a large object of its own, made inaccessible when freed, so
         * the class counters stay still; ask the heap about each block instead. */
        const uintptr_t *s1 = gc_unhide(small_hid[0]), *s2 = gc_unhide(small_hid[1]);
        CHECK(gc_large_live(s1) && gc_large_live(s2),
              "efence: a 6912-byte block kept only by an interior pointer was freed (%d %d)", gc_large_live(s1),
              gc_large_live(s2));
        CHECK(!gc_large_live(gc_unhide(small_hid[2])) && !gc_large_live(gc_unhide(small_hid[3])),
              "efence: expected both 9472-byte blocks (undeclared word / unreferenced) freed (%d %d)",
              gc_large_live(gc_unhide(small_hid[2])), gc_large_live(gc_unhide(small_hid[3])));
        int ok = 1;
        for (int w = 0; w < 6912 / 8 && gc_large_live(s1) && gc_large_live(s2); w++)
            ok &= s1[w] == tpay(1000, (size_t)w) && s2[w] == tpay(1001, (size_t)w);
        CHECK(ok, "efence: a 6912-byte block kept by an interior pointer lost its contents");
    } else if (c6912 > 0 && c9472 > 0) {
        uint64_t f6912 = m1.by_size[c6912].nfree - m0.by_size[c6912].nfree;
        uint64_t f9472 = m1.by_size[c9472].nfree - m0.by_size[c9472].nfree;
        printf("small blocks: class 6912 Frees +%" PRIu64 ", class 9472 Frees +%" PRIu64 "\n", f6912, f9472);
        CHECK(f6912 == 0, "a 6912-byte block kept only by an interior pointer was freed (Frees +%" PRIu64 ")", f6912);
        CHECK(f9472 == 2, "expected both 9472-byte blocks (undeclared word / unreferenced) freed, Frees +%" PRIu64,
              f9472);
        const uintptr_t *s1 = gc_unhide(small_hid[0]), *s2 = gc_unhide(small_hid[1]);
        int ok = 1;
        for (int w = 0; w < 6912 / 8; w++)
            ok &= s1[w] == tpay(1000, (size_t)w) && s2[w] == tpay(1001, (size_t)w);
        CHECK(ok, "a 6912-byte block kept by an interior pointer lost its contents");
    }

    /* Control: with every holder dropped, everything must go. */
    memset(holders, 0, sizeof holders);
    gc_full();
    gc_full();
    if (bad == 0)
        check_targets(1);
    return test_summary();
}
