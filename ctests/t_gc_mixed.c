/*
 * t_gc_mixed: blocks of different types, and untyped blocks, sharing spans, and their slots
 * reused with other types (the collector's per-span "primary type" shortcut, bitmap bit 48).
 *
 * Holders are 32-byte blocks of one size class, allocated interleaved as three kinds:
 *   A: typed, GC_APTR at word 0        target in word 0 (kept), decoy in word 1 (not kept)
 *   B: typed, GC_APTR at word 1        target in word 1 (kept), decoy in word 0 (not kept)
 *   U: untyped (typ 0, scanned conservatively)  target in word 0, decoy in word 2 (both kept)
 * so whichever type a span saw first, the others in the same span must still be scanned with
 * their own program (or conservatively). Targets and decoys are large blocks (their own span):
 * runtime_mlookup says whether each was freed. The test's own copies of their addresses are
 * XOR-masked. Holders are reached from a gogc_add_roots range only.
 *
 * ROUNDS rounds; in round r holder i gets kind (i + r) % 3. After each round's checks every
 * holder is dropped and collected, so the next round's holders reuse the freed slots with a
 * different kind: a stale "typed" bit would scan a U block as A or B (its decoy freed) or a B
 * block as A (its target freed).
 */
#include "testutil.h"
#include "t_gc_util.h"

#define NH 240
#define ROUNDS 4
#define BIG 40000

typedef struct Holder {
    uint64_t w[4];
} Holder;

static uintptr_t prog_A[] = {32, GC_APTR, 0, GC_END, 0};
static uintptr_t prog_B[] = {32, GC_APTR, 8, GC_END, 0};
static GoType type_A, type_B;

static Holder *holders[NH];
/* Every 5th holder of each round stays alive (here) for the rest of the test, so spans stay in
 * use and later rounds reuse single freed slots next to live blocks of other kinds. */
static Holder *keepers[ROUNDS][NH / 5];
static uint64_t target_h[NH], decoy_h[NH];
static int kind[NH];

static __attribute__((noinline)) void *big(uint64_t tag)
{
    uint64_t *p = runtime_mallocgc(BIG, 0, FlagNoScan);
    p[0] = tag;
    p[BIG / 8 - 1] = ~tag;
    return p;
}

static __attribute__((noinline)) void build_round(int r)
{
    for (int i = 0; i < NH; i++) {
        int k = (i + r) % 3;
        kind[i] = k;
        void *t = big(0x7a00000000ULL + (uint64_t)i);
        void *d = big(0xdec0000000ULL + (uint64_t)i);
        Holder *h;
        if (k == 0) {
            h = runtime_mallocgc(sizeof(Holder), (uintptr_t)&type_A, 0);
            h->w[0] = (uint64_t)(uintptr_t)t;
            h->w[1] = (uint64_t)(uintptr_t)d;
        } else if (k == 1) {
            h = runtime_mallocgc(sizeof(Holder), (uintptr_t)&type_B, 0);
            h->w[1] = (uint64_t)(uintptr_t)t;
            h->w[0] = (uint64_t)(uintptr_t)d;
        } else {
            h = runtime_mallocgc(sizeof(Holder), 0, 0);
            h->w[0] = (uint64_t)(uintptr_t)t;
            h->w[2] = (uint64_t)(uintptr_t)d;
        }
        h->w[3] = 0x401de7 + (uint64_t)i;
        holders[i] = h;
        target_h[i] = gc_hide(t);
        decoy_h[i] = gc_hide(d);
    }
}

/* Still allocated and still the block we made: a freed block's pages may already hold a later
 * big block (the collections triggered while building free early decoys), so the tag decides. */
static int alive(uint64_t hidden, uint64_t tag)
{
    uint8_t *base = NULL;
    uintptr_t size = 0;
    MSpan *s = NULL;
    uint64_t *p = gc_unhide(hidden);
    return runtime_mlookup(p, &base, &size, &s) != 0 && base == (uint8_t *)p && p[0] == tag &&
           p[BIG / 8 - 1] == ~tag;
}

static void check_round(int r)
{
    int lost = 0, kept = 0, lost_u = 0, bad = 0, kept_k[2] = {0, 0};
    for (int i = 0; i < NH; i++) {
        uint64_t *t = gc_unhide(target_h[i]);
        if (!alive(target_h[i], 0x7a00000000ULL + (uint64_t)i)) {
            lost++;
            continue;
        }
        (void)t;
        if (holders[i]->w[3] != 0x401de7 + (uint64_t)i)
            bad++;
        int d = alive(decoy_h[i], 0xdec0000000ULL + (uint64_t)i);
        if (kind[i] == 2 && !d)
            lost_u++;
        if (kind[i] != 2 && d) {
            kept++;
            kept_k[kind[i]]++;
        }
    }
    CHECK(lost == 0, "round %d: %d targets freed while their holder declares them", r, lost);
    CHECK(bad == 0, "round %d: %d holders corrupted", r, bad);
    CHECK(lost_u == 0, "round %d: %d decoys of untyped holders freed (not scanned conservatively)", r, lost_u);
    /* Decoys of typed holders sit in undeclared words: nothing keeps them but a stray stack
     * word, so allow a few. */
    CHECK(kept <= NH / 3 / 10, "round %d: %d of %d decoys in undeclared words kept alive", r, kept, 2 * NH / 3);
    if (kept)
        fprintf(stderr, "  decoys kept: %d of A holders, %d of B holders\n", kept_k[0], kept_k[1]);
}

static __attribute__((noinline)) void drop_all(int r)
{
    for (int i = 0; i < NH; i++) {
        if (i % 5 == 0)
            keepers[r][i / 5] = holders[i];
        holders[i] = NULL;
    }
}

int main(void)
{
    gc_init_type(&type_A, GO_STRUCT, 32, prog_A);
    gc_init_type(&type_B, GO_STRUCT, 32, prog_B);

    gogc_add_roots(holders, holders + NH);
    gogc_add_roots(keepers, (char *)keepers + sizeof keepers);
    for (int r = 0; r < ROUNDS; r++) {
        build_round(r);
        gc_scrub_stack();
        gc_force(2);
        gc_force(2);
        check_round(r);
        drop_all(r);
        gc_force(2);
        int left = 0, kept_lost = 0;
        for (int i = 0; i < NH; i++) {
            int a = alive(target_h[i], 0x7a00000000ULL + (uint64_t)i);
            if (i % 5 != 0)
                left += a;
            else
                kept_lost += !a;
        }
        CHECK(left <= NH / 20, "round %d: %d of %d targets survive after their holders were dropped", r, left,
              NH * 4 / 5);
        CHECK(kept_lost == 0, "round %d: %d targets of kept holders freed", r, kept_lost);
    }
    for (int r = 0; r < ROUNDS; r++)
        for (int j = 0; j < NH / 5; j++)
            CHECK(keepers[r][j]->w[3] == 0x401de7 + (uint64_t)(j * 5), "kept holder %d/%d corrupted", r, j);
    gogc_remove_roots(holders, holders + NH);
    gogc_remove_roots(keepers, (char *)keepers + sizeof keepers);
    return test_summary();
}
