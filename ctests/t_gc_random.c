/*
 * t_gc_random: a seeded random mutator checked against a shadow model (single-threaded).
 *
 * A table of NSLOTS slots (a libc array registered with gogc_add_roots) holds pointers to heap
 * objects. Each object has an id, a header word with its size/kind/field count, up to 4 pointer
 * fields and a payload derived from its id. Kinds: untyped (conservative), FlagNoScan, and typed
 * ones whose GC programs place the pointer fields with GC_APTR, GC_PTR (with a 16-byte program
 * for the pointee: the tail check must rescan it by its own type), GC_ARRAY_START/NEXT,
 * GC_REGION, GC_EFACE (pointer types and unsafe.Pointer), GC_SLICE, and TypeInfo_Array blocks of
 * a 32-byte element {x, y int; p, q *T}. Sizes run from 16 bytes to 64 KiB (large objects
 * included); fields and slots hold exact or interior pointers. Steps: allocate into a slot,
 * set a field of a reachable object (reached by walking from a slot) to another reachable object
 * or nil, clear a slot, copy slots, load a field into a slot. Every walk checks each pointer it
 * follows against the model. Every K steps a collection runs with force 0, 1 or 2 at random;
 * after it, and after every automatic collection (numgc changed), everything reachable in the
 * model is verified word by word (id, header, fields, payload); objects the model cannot reach
 * any more are forgotten. After force-2 collections ReadMemStats must count at least the
 * reachable objects and bytes, and not much more (garbage is actually freed). GOGC alternates
 * between 100 and 10 every 20000 steps (setgcpercent) so that automatic collections happen too.
 *
 * GOGC_TEST_SEED=<n> replays a run; GOGC_TEST_STEPS=<n> changes the step count (200000).
 */
#include "testutil.h"
#include "t_gc_util.h"

#define NSLOTS 2000
#define MAXF 4
#define K_STEPS 1000
#define MAGIC ((uint64_t)0x7A11000000000000ULL)

enum { K_UNTYPED, K_NOSCAN, K_APTR, K_PTR, K_ARRAYOP, K_ARRTYPE, K_REGION, K_EFACE, K_SLICE, NKINDS };
static const char *kind_name[NKINDS] = {"untyped", "noscan", "GC_APTR", "GC_PTR", "GC_ARRAY", "TypeInfo_Array",
                                        "GC_REGION", "GC_EFACE", "GC_SLICE"};

typedef struct {
    uintptr_t addr;
    uint64_t id;
    uint32_t size;
    uint8_t kind, nf;
    uint8_t alive; /* in the model (not yet found unreachable) */
    uint32_t mark;
    int32_t f[MAXF];
    uint32_t off[MAXF];
} mobj;

static mobj *M;
static int nM, capM;
static int *freeM;
static int nfreeM;

static uintptr_t *slots; /* registered root range */
static int slot_m[NSLOTS];
static uint32_t slot_off[NSLOTS];

static uint64_t rng;
static uint64_t next_id = 1;
static uint32_t epoch;

/* ---------------- types ---------------- */

static uintptr_t sub16_prog[] = {16, GC_END, 0};
static GoType objT;     /* the pointee of the pointer type below */
static GoPtrType ptrT;  /* *obj */
static GoType unsafeT;  /* unsafe.Pointer */
static uintptr_t ptrword_prog[] = {8, GC_APTR, 0, GC_END, 0};
static uintptr_t elem32_prog[] = {32, GC_APTR, 16, GC_APTR, 24, GC_END, 0};
static GoType elem32T;
static uintptr_t bogus_prog[] = {8, GC_END, 0};

static uintptr_t progs[NKINDS][MAXF + 1][32];
static uintptr_t region_sub[MAXF + 1][16];
static GoType descs[NKINDS][MAXF + 1];

static int hdr_words(int kind, int nf)
{
    switch (kind) {
    case K_ARRTYPE:
        return nf <= 2 ? 4 : 8;
    case K_EFACE:
        return 2 + 2 * nf;
    case K_SLICE:
        return 2 + 3 * nf;
    default:
        return 2 + nf;
    }
}

/* Word index of field j's pointer word. */
static int field_word(int kind, int j)
{
    switch (kind) {
    case K_ARRTYPE:
        return 4 * (j / 2) + 2 + (j % 2);
    case K_EFACE:
        return 3 + 2 * j;
    case K_SLICE:
        return 2 + 3 * j;
    default:
        return 2 + j;
    }
}

/* 1 if word w of an object of this kind/nf is part of a field (pointer or its companions). */
static int is_field_word(int kind, int nf, int w)
{
    for (int j = 0; j < nf; j++) {
        int fw = field_word(kind, j);
        if (kind == K_EFACE && (w == fw || w == fw - 1))
            return 1;
        if (kind == K_SLICE && w >= fw && w < fw + 3)
            return 1;
        if (w == fw)
            return 1;
    }
    return 0;
}

static void init_types(void)
{
    gc_init_type(&objT, GO_STRUCT, 16, sub16_prog);
    gc_init_type(&ptrT.__common, GO_PTR | GO_DIRECT_IFACE, 8, ptrword_prog);
    ptrT.__element_type = &objT;
    gc_init_type(&unsafeT, GO_UNSAFE_POINTER | GO_DIRECT_IFACE, 8, ptrword_prog);
    gc_init_type(&elem32T, GO_STRUCT, 32, elem32_prog);
    for (int nf = 1; nf <= MAXF; nf++) {
        uintptr_t *s = region_sub[nf];
        int k = 0;
        s[k++] = (uintptr_t)nf * 8;
        for (int j = 0; j < nf; j++) {
            s[k++] = GC_APTR;
            s[k++] = (uintptr_t)j * 8;
        }
        s[k++] = GC_END;
        s[k++] = 0;
    }
    for (int kind = K_APTR; kind < NKINDS; kind++) {
        if (kind == K_ARRTYPE)
            continue;
        for (int nf = 0; nf <= MAXF; nf++) {
            uintptr_t *p = progs[kind][nf];
            int k = 0;
            uintptr_t size = (uintptr_t)hdr_words(kind, nf) * 8;
            p[k++] = size;
            if (nf > 0) {
                switch (kind) {
                case K_APTR:
                    for (int j = 0; j < nf; j++) {
                        p[k++] = GC_APTR;
                        p[k++] = (uintptr_t)field_word(kind, j) * 8;
                    }
                    break;
                case K_PTR:
                    for (int j = 0; j < nf; j++) {
                        p[k++] = GC_PTR;
                        p[k++] = (uintptr_t)field_word(kind, j) * 8;
                        p[k++] = (uintptr_t)sub16_prog;
                    }
                    break;
                case K_ARRAYOP:
                    p[k++] = GC_ARRAY_START;
                    p[k++] = 16;
                    p[k++] = (uintptr_t)nf;
                    p[k++] = 8;
                    p[k++] = GC_APTR;
                    p[k++] = 0;
                    p[k++] = GC_ARRAY_NEXT;
                    break;
                case K_REGION:
                    p[k++] = GC_REGION;
                    p[k++] = 16;
                    p[k++] = (uintptr_t)nf * 8;
                    p[k++] = (uintptr_t)region_sub[nf];
                    break;
                case K_EFACE:
                    for (int j = 0; j < nf; j++) {
                        p[k++] = GC_EFACE;
                        p[k++] = (uintptr_t)(field_word(kind, j) - 1) * 8;
                    }
                    break;
                case K_SLICE:
                    for (int j = 0; j < nf; j++) {
                        p[k++] = GC_SLICE;
                        p[k++] = (uintptr_t)field_word(kind, j) * 8;
                        p[k++] = (uintptr_t)bogus_prog;
                    }
                    break;
                }
            }
            p[k++] = GC_END;
            p[k++] = 0;
            gc_init_type(&descs[kind][nf], GO_STRUCT, size, p);
        }
    }
}

/* ---------------- object contents ---------------- */

static uint64_t pay(uint64_t id, size_t w)
{
    return ((id * 0x9E3779B97F4A7C15ULL) ^ (w * 0xBF58476D1CE4E5B9ULL)) | 0xFF00000000000000ULL;
}

static uint64_t meta(const mobj *o)
{
    return (uint64_t)0xFE00000000000000ULL | ((uint64_t)o->nf << 40) | ((uint64_t)o->kind << 32) | o->size;
}

static uintptr_t target_value(int t, uint32_t off)
{
    return t < 0 ? 0 : M[t].addr + off;
}

/* Writes field j of object o (real memory) from the model. */
static void write_field(const mobj *o, int j)
{
    uintptr_t *w = (uintptr_t *)o->addr;
    int fw = field_word(o->kind, j);
    uintptr_t v = target_value(o->f[j], o->off[j]);
    switch (o->kind) {
    case K_EFACE:
        /* a nil interface, or *obj / unsafe.Pointer holding v (a typed nil when v == 0) */
        w[fw - 1] = v == 0 && (o->id + (uint64_t)j) % 2 ? 0
                    : (j % 2) ? (uintptr_t)&unsafeT
                              : (uintptr_t)&ptrT;
        w[fw] = v;
        break;
    case K_SLICE:
        w[fw] = v;
        w[fw + 1] = v ? 1 : 0;
        w[fw + 2] = v ? 1 : 0;
        break;
    default:
        w[fw] = v;
    }
}

/* Checks object i fully; returns 0 if ok, else reports and returns 1. */
static int verify_obj(int i, int full)
{
    const mobj *o = &M[i];
    const uint64_t *w = (const uint64_t *)o->addr;
    if (w[0] != (o->id ^ MAGIC) || w[1] != meta(o)) {
        CHECK(0, "object id %" PRIu64 " (%s, %u bytes, %d fields) at %p: header %#" PRIx64 " %#" PRIx64
              ", expected %#" PRIx64 " %#" PRIx64 " (freed and reused?)",
              o->id, kind_name[o->kind], o->size, o->nf, (void *)o->addr, w[0], w[1], o->id ^ MAGIC, meta(o));
        return 1;
    }
    for (int j = 0; j < o->nf; j++) {
        uintptr_t want = target_value(o->f[j], o->off[j]);
        uintptr_t got = w[field_word(o->kind, j)];
        if (got != want) {
            CHECK(0, "object id %" PRIu64 " (%s): field %d is %#" PRIxPTR ", expected %#" PRIxPTR, o->id,
                  kind_name[o->kind], j, got, want);
            return 1;
        }
    }
    if (!full)
        return 0;
    int hw = hdr_words(o->kind, o->nf);
    for (int k = 2; k < (int)(o->size / 8); k++) {
        if (k < hw && is_field_word(o->kind, o->nf, k))
            continue;
        if (w[k] != pay(o->id, (size_t)k)) {
            CHECK(0, "object id %" PRIu64 " (%s, %u bytes) at %p: payload word %d is %#" PRIx64 ", expected %#" PRIx64,
                  o->id, kind_name[o->kind], o->size, (void *)o->addr, k, w[k], pay(o->id, (size_t)k));
            return 1;
        }
    }
    return 0;
}

/* ---------------- model ---------------- */

static int new_model_entry(void)
{
    if (nfreeM > 0)
        return freeM[--nfreeM];
    if (nM == capM) {
        capM = capM ? capM * 2 : 4096;
        M = realloc(M, (size_t)capM * sizeof *M);
        freeM = realloc(freeM, (size_t)capM * sizeof *freeM);
    }
    return nM++;
}

static uint32_t rand_size(int kind, int nf)
{
    uint64_t r = tu_rand(&rng) % 100;
    uint32_t s;
    if (r < 60)
        s = 16 + (uint32_t)(tu_rand(&rng) % 241);
    else if (r < 85)
        s = 256 + (uint32_t)(tu_rand(&rng) % 3841);
    else if (r < 95)
        s = 4096 + (uint32_t)(tu_rand(&rng) % 28673);
    else
        s = 32769 + (uint32_t)(tu_rand(&rng) % 32768);
    s &= ~7u;
    uint32_t min = (uint32_t)hdr_words(kind, nf) * 8;
    return s < min ? min : s;
}

/* A random offset into object t for a pointer to it: usually 0, sometimes interior. */
static uint32_t rand_off(int t)
{
    if (t < 0)
        return 0;
    uint64_t r = tu_rand(&rng) % 100;
    if (r < 70)
        return 0;
    uint32_t size = M[t].size;
    uint32_t off = (uint32_t)(tu_rand(&rng) % size) & ~7u;
    if (r >= 95 && off + 3 < size)
        off += 3; /* misaligned */
    return off;
}

/* Walk from a random slot through up to `depth` random fields; returns the model index or -1.
 * Every pointer followed is checked against the model. */
static int walk(int depth)
{
    int s = -1;
    for (int tries = 0; tries < 8; tries++) {
        int c = (int)(tu_rand(&rng) % NSLOTS);
        if (slot_m[c] >= 0) {
            s = c;
            break;
        }
    }
    if (s < 0)
        return -1;
    int i = slot_m[s];
    if (slots[s] != M[i].addr + slot_off[s]) {
        CHECK(0, "slot %d holds %#" PRIxPTR ", expected %#" PRIxPTR, s, slots[s], M[i].addr + slot_off[s]);
        return -1;
    }
    if (verify_obj(i, 0))
        return -1;
    for (int d = 0; d < depth && M[i].nf > 0; d++) {
        int j = (int)(tu_rand(&rng) % M[i].nf);
        int t = M[i].f[j];
        if (t < 0)
            break;
        if (verify_obj(t, 0))
            return -1;
        i = t;
    }
    return i;
}

static __attribute__((noinline)) int alloc_obj(void)
{
    int kind = (int)(tu_rand(&rng) % NKINDS);
    int nf = kind == K_NOSCAN ? 0 : (int)(tu_rand(&rng) % (MAXF + 1));
    uint32_t size = rand_size(kind, nf);
    int targets[MAXF];
    uint32_t offs[MAXF];
    for (int j = 0; j < nf; j++) {
        targets[j] = tu_rand(&rng) % 4 ? walk((int)(tu_rand(&rng) % 4)) : -1;
        offs[j] = rand_off(targets[j]);
    }
    uintptr_t typ = 0;
    uint32_t flag = 0;
    switch (kind) {
    case K_UNTYPED:
        break;
    case K_NOSCAN:
        flag = FlagNoScan;
        break;
    case K_ARRTYPE:
        typ = (uintptr_t)&elem32T | TypeInfo_Array;
        break;
    default:
        typ = (uintptr_t)&descs[kind][nf] | TypeInfo_SingleObject;
    }
    uint64_t *p = runtime_mallocgc(size, typ, flag);
    int i = new_model_entry();
    mobj *o = &M[i];
    memset(o, 0, sizeof *o);
    o->addr = (uintptr_t)p;
    o->id = next_id++;
    o->size = size;
    o->kind = (uint8_t)kind;
    o->nf = (uint8_t)nf;
    o->alive = 1;
    o->mark = epoch;
    for (int j = 0; j < MAXF; j++)
        o->f[j] = -1;
    for (int k = 0; k < (int)(size / 8); k++)
        p[k] = pay(o->id, (size_t)k);
    int hw = hdr_words(kind, nf);
    for (int k = 2; k < hw; k++)
        if (is_field_word(kind, nf, k))
            p[k] = 0;
    p[0] = o->id ^ MAGIC;
    p[1] = meta(o);
    for (int j = 0; j < nf; j++) {
        o->f[j] = targets[j];
        o->off[j] = offs[j];
        write_field(o, j);
    }
    return i;
}

static void set_slot(int s, int i, uint32_t off)
{
    slot_m[s] = i;
    slot_off[s] = i < 0 ? 0 : off;
    slots[s] = i < 0 ? 0 : M[i].addr + off;
}

/* ---------------- verification ---------------- */

static int *stack_;
static int stack_cap;
static uint64_t reach_bytes;
static unsigned long n_verified;

/* Verifies everything reachable from the slots; forgets the rest. Returns the reachable count. */
static int verify_all(const char *why)
{
    epoch++;
    int n = 0, sp = 0;
    reach_bytes = 0;
    if (stack_cap < nM + NSLOTS) {
        stack_cap = nM + NSLOTS + 1024;
        stack_ = realloc(stack_, (size_t)stack_cap * sizeof *stack_);
    }
    for (int s = 0; s < NSLOTS; s++) {
        int i = slot_m[s];
        if (i < 0)
            continue;
        CHECK(slots[s] == M[i].addr + slot_off[s], "%s: slot %d holds %#" PRIxPTR ", expected %#" PRIxPTR, why, s,
              slots[s], M[i].addr + slot_off[s]);
        if (M[i].mark != epoch) {
            M[i].mark = epoch;
            stack_[sp++] = i;
        }
    }
    int bad = 0;
    while (sp > 0) {
        int i = stack_[--sp];
        if (!M[i].alive) {
            CHECK(0, "%s: model object %d was forgotten but is reachable", why, i);
            continue;
        }
        n++;
        reach_bytes += M[i].size;
        if (verify_obj(i, 1)) {
            if (++bad > 10)
                break;
            continue;
        }
        for (int j = 0; j < M[i].nf; j++) {
            int t = M[i].f[j];
            if (t >= 0 && M[t].mark != epoch) {
                if (sp >= stack_cap) {
                    stack_cap *= 2;
                    stack_ = realloc(stack_, (size_t)stack_cap * sizeof *stack_);
                }
                M[t].mark = epoch;
                stack_[sp++] = t;
            }
        }
    }
    n_verified += (unsigned long)n;
    for (int i = 0; i < nM; i++)
        if (M[i].alive && M[i].mark != epoch) {
            M[i].alive = 0;
            freeM[nfreeM++] = i;
        }
    return n;
}

int main(void)
{
    uint64_t seed = tu_seed((uint64_t)0x5eed2024);
    const char *se = getenv("GOGC_TEST_STEPS");
    long steps = se && *se ? atol(se) : 200000;
    printf("seed %#" PRIx64 " (replay with GOGC_TEST_SEED=%#" PRIx64 "), %ld steps\n", seed, seed, steps);
    rng = seed;
    init_types();

    slots = calloc(NSLOTS, sizeof *slots);
    gogc_add_roots(slots, slots + NSLOTS);
    for (int s = 0; s < NSLOTS; s++)
        slot_m[s] = -1;

    double t0 = tu_now();
    unsigned forced = 0, autos = 0, checks_after_gc = 0;
    unsigned last_numgc = runtime_memStats.numgc;
    int max_reach = 0;
    unsigned long stat_checks = 0;
    for (long step = 1; step <= steps && tu_failed() == 0; step++) {
        if (step % 20000 == 1) /* alternate GOGC 100 / 10: more automatic collections */
            runtime_setgcpercent((step / 20000) % 2 ? 10 : 100);
        uint64_t r = tu_rand(&rng) % 100;
        if (r < 35) {
            int s = (int)(tu_rand(&rng) % NSLOTS);
            int i = alloc_obj();
            set_slot(s, i, tu_rand(&rng) % 8 == 0 ? rand_off(i) : 0);
        } else if (r < 65) {
            int i = walk((int)(tu_rand(&rng) % 4));
            if (i >= 0 && M[i].nf > 0) {
                int j = (int)(tu_rand(&rng) % M[i].nf);
                int t = tu_rand(&rng) % 5 ? walk((int)(tu_rand(&rng) % 3)) : -1;
                M[i].f[j] = t;
                M[i].off[j] = rand_off(t);
                write_field(&M[i], j);
            }
        } else if (r < 75) {
            set_slot((int)(tu_rand(&rng) % NSLOTS), -1, 0);
        } else if (r < 85) {
            int a = (int)(tu_rand(&rng) % NSLOTS), b = (int)(tu_rand(&rng) % NSLOTS);
            int i = slot_m[b];
            set_slot(a, i, rand_off(i));
        } else if (r < 92) {
            int i = walk((int)(tu_rand(&rng) % 3));
            if (i >= 0 && M[i].nf > 0) {
                int j = (int)(tu_rand(&rng) % M[i].nf);
                set_slot((int)(tu_rand(&rng) % NSLOTS), M[i].f[j], M[i].off[j]);
            }
        } else {
            walk(6);
        }

        if (runtime_memStats.numgc != last_numgc) {
            autos += runtime_memStats.numgc - last_numgc;
            last_numgc = runtime_memStats.numgc;
            verify_all("after an automatic collection");
            checks_after_gc++;
        }
        if (step % K_STEPS == 0) {
            int force = (int)(tu_rand(&rng) % 3);
            gc_force(force);
            if (runtime_memStats.numgc != last_numgc) {
                forced += force ? 1 : 0;
                autos += force ? 0 : 1;
                last_numgc = runtime_memStats.numgc;
            }
            int n = verify_all(force == 2 ? "after runtime_gc(2)" : force == 1 ? "after runtime_gc(1)"
                                                                               : "after runtime_gc(0)");
            checks_after_gc++;
            if (n > max_reach)
                max_reach = n;
            if (force == 2 && step % (K_STEPS * 10) == 0) {
                MStats m;
                gc_stats(&m);
                last_numgc = m.numgc;
                stat_checks++;
                CHECK(m.heap_objects >= (uint64_t)n, "step %ld: HeapObjects %" PRIu64 " < %d reachable", step,
                      m.heap_objects, n);
                CHECK(m.heap_alloc >= reach_bytes, "step %ld: HeapAlloc %" PRIu64 " < %" PRIu64 " reachable bytes",
                      step, m.heap_alloc, reach_bytes);
                CHECK(m.heap_objects <= (uint64_t)n + (uint64_t)n / 10 + 200,
                      "step %ld: HeapObjects %" PRIu64 " after runtime_gc(2), but only %d objects are reachable", step,
                      m.heap_objects, n);
            }
        }
    }
    double t1 = tu_now();
    unsigned total = runtime_memStats.numgc;
    printf("%u collections (%u forced with force 1/2, %u automatic or force 0), %u full verifications, %lu objects "
           "verified, max %d reachable, %lu stats checks, %.2f s\n",
           total, forced, autos, checks_after_gc, n_verified, max_reach, stat_checks, t1 - t0);
    if (tu_failed() == 0 && steps >= 200000)
        CHECK(total >= 100, "only %u collections", total);
    if (tu_failed())
        printf("replay with GOGC_TEST_SEED=%#" PRIx64 "\n", seed);
    return test_summary();
}
