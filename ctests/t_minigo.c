/*
 * t_minigo: gogc under a miniature gccgo-style runtime (ctests/minigo, issue 4).
 *
 * minigo runs coroutines on their own 64 KiB mmap'd stacks over a few worker threads and
 * registers itself with gogc_set_host (see minigo/minigo.h). The workload, written like
 * compiled Go code:
 *  - "compiler-emitted" type descriptors with GC programs: Leaf (no pointers), Node (GC_PTR to
 *    itself, GC_APTR), Boxed (GC_APTR, GC_STRING), Msg (GC_PTR, GC_SLICE, GC_STRING, GC_EFACE,
 *    GC_CHAN_PTR, GC_ARRAY_START/GC_ARRAY_NEXT, GC_CALL), pointer types *Leaf, *Node and *Msg,
 *    channel types chan *Msg / chan *Leaf, and a typed coroutine-argument struct;
 *  - three "packages" whose init functions register root lists (__go_register_gc_roots):
 *    pipeline (the channels), consumer (a ring of kept messages and an interface value),
 *    trees (one tree per tree worker);
 *  - a pipeline: NPROD producers build messages (payload slice, name string, an interface
 *    value of one of four dynamic types, a tree, an attachment channel holding 0-2 *Leaf, a
 *    []*Leaf slice with spare capacity, an array of *Boxed, an embedded header reached through
 *    GC_CALL, sometimes a sub-message) and send them through chan *Msg channels (buffered,
 *    unbuffered = direct hand-off between coroutine stacks, buffered) across NSTAGES stages of
 *    coroutines that hold batches in their locals, verify every message, rebuild its tree and
 *    its leaf slice and forward it; NCONS consumers verify the final state, drain the
 *    attachment channels, check each id arrives exactly once and keep some messages in a
 *    global ring;
 *  - NTREE tree workers build binary trees held in locals across many yields (and publish some
 *    in a global); NIDLE coroutines each hold a message while blocked on a channel until the
 *    pipeline is done (suspended stacks); a GC coroutine calls for collections, and the main
 *    thread does too while it waits. Every object still held is verified (ids, checksums,
 *    structure) when it is used and at the end; at least MIN_GC collections must happen.
 *
 * The parent runs the workload in fresh children (GODEBUG is read at load time):
 *   signal  + GODEBUG=gcprocs=1, signal + default gcprocs   (built-in signal stopper)
 *   coop    + GODEBUG=gcprocs=1, coop + default gcprocs     (minigo's stop_world/start_world)
 *   threads (one OS thread per coroutine, no host; control and throughput comparison)
 * A control run then repeats signal mode with MINIGO_DROP=1 (scan_roots leaves out the
 * suspended coroutine stacks) and requires it to fail: the checks do notice missing roots.
 * MINIGO_WORKERS overrides the number of worker threads (default 3); `t_minigo --child MODE`
 * runs one mode in-process (MODE = signal, coop or threads). MINIGO_COOP_NAIVE=1 with coop
 * shows the deadlock the GC semaphore avoids (see minigo.h).
 */
#include "testutil.h"
#include "mt_util.h"
#include "minigo/minigo.h"
#include "minigo/minigo.c"

#define NPROD 6
#define MSGS 400
#define NSTAGES 3
#define STAGE_G 4
#define BATCH 4
#define NCONS 4
#define NTREE 12
#define TREE_ROUNDS 6
#define TREE_DEPTH 8
#define NIDLE 100
#define KEEP 64
#define MIN_GC 50
#define STACK (64 << 10)

#define SUBBIT (1LL << 40)
#define IDLEBASE (1LL << 41)
#define VALTREE (1LL << 42)
#define TREEBASE (1LL << 43)

/* ---------------------------------------------------------------------------------------------
 * Types, as a compiler would emit them. */

typedef struct Leaf {
    int64_t id;
    uint64_t check;
} Leaf;

typedef struct Node {
    struct Node *left, *right;
    int64_t id;
    uint64_t check;
    Leaf *leaf;
} Node;

typedef struct Boxed {
    int64_t a;
    Leaf *p;
    GoString s;
} Boxed;

typedef struct Hdr {
    Leaf *l;
    int64_t x;
} Hdr;

typedef struct Msg {
    int64_t id;
    uint64_t check;
    struct Msg *next;
    GoSlice payload; /* []byte */
    GoString name;
    GoEface val; /* interface{} */
    Node *tree;
    Hchan *att;    /* chan *Leaf */
    GoSlice leaves; /* []*Leaf */
    Boxed *arr[3];
    int64_t stage;
    uint64_t tag;
    Hdr hdr;
} Msg;

typedef struct StageArg {
    int64_t idx;
    Hchan *in, *out;
} StageArg;

_Static_assert(offsetof(Msg, payload) == 24 && offsetof(Msg, name) == 48 && offsetof(Msg, val) == 64 &&
                   offsetof(Msg, tree) == 80 && offsetof(Msg, att) == 88 && offsetof(Msg, leaves) == 96 &&
                   offsetof(Msg, arr) == 120 && offsetof(Msg, hdr) == 160 && sizeof(Msg) == 176,
               "Msg layout");

static uintptr_t byte_gc[] = {1, GC_END, 0};
static uintptr_t leaf_gc[] = {sizeof(Leaf), GC_END, 0};
static uintptr_t node_gc[] = {sizeof(Node), GC_PTR, 0, 0 /* node_gc */, GC_PTR, 8, 0 /* node_gc */,
                              GC_APTR, 32, GC_END, 0};
static uintptr_t boxed_gc[] = {sizeof(Boxed), GC_APTR, 8, GC_STRING, 16, GC_END, 0};
static uintptr_t msg_gc[] = {
    sizeof(Msg),
    GC_PTR, 16, 0 /* msg_gc */,                  /* 1: next */
    GC_SLICE, 24, 0 /* byte_gc */,               /* 4: payload */
    GC_STRING, 48,                               /* 7: name */
    GC_EFACE, 64,                                /* 9: val */
    GC_PTR, 80, 0 /* node_gc */,                 /* 11: tree */
    GC_CHAN_PTR, 88, 0 /* &chanLeaf_type */,     /* 14: att */
    GC_SLICE, 96, 0 /* ptrleaf_gc */,            /* 17: leaves */
    GC_ARRAY_START, 120, 3, 8,                   /* 20: arr */
    GC_PTR, 0, 0 /* boxed_gc */,                 /* 24 */
    GC_ARRAY_NEXT,                               /* 27 */
    GC_CALL, 160, 0 /* rel */,                   /* 28: hdr */
    GC_END,                                      /* 31 */
    GC_APTR, 0, GC_END,                          /* 32: sub-program for Hdr */
    0};
enum { MSG_GC_CALL_AT = 28, MSG_GC_SUB_AT = 32 };
static uintptr_t ptrleaf_gc[] = {8, GC_APTR, 0, GC_END, 0};
static uintptr_t ptrnode_gc[] = {8, GC_PTR, 0, 0 /* node_gc */, GC_END, 0};
static uintptr_t ptrmsg_gc[] = {8, GC_PTR, 0, 0 /* msg_gc */, GC_END, 0};
static uintptr_t chanmsg_gc[] = {8, GC_CHAN_PTR, 0, 0 /* &chanMsg_type */, GC_END, 0};
static uintptr_t chanleaf_gc[] = {8, GC_CHAN_PTR, 0, 0 /* &chanLeaf_type */, GC_END, 0};
static uintptr_t stagearg_gc[] = {sizeof(StageArg), GC_CHAN_PTR, 8, 0, GC_CHAN_PTR, 16, 0, GC_END, 0};

static GoType leaf_type, node_type, boxed_type, msg_type, stagearg_type;
static GoPtrType ptrLeaf_type, ptrNode_type, ptrMsg_type;
static GoChanType chanMsg_type, chanLeaf_type;
static GoString type_names[10];

static void init_type(GoType *t, uint8_t code, uintptr_t size, const uintptr_t *gc, int name)
{
    static const char *names[10] = {"main.Leaf", "main.Node", "main.Boxed", "main.Msg", "main.stageArg",
                                    "*main.Leaf", "*main.Node", "*main.Msg", "chan *main.Msg",
                                    "chan *main.Leaf"};
    memset(t, 0, sizeof *t);
    t->__code = code;
    t->__align = 8;
    t->__field_align = 8;
    t->__size = size;
    t->__hash = (uint32_t)mt_mix((uint64_t)name + 1);
    t->__gc = gc;
    type_names[name].str = (const uint8_t *)names[name];
    type_names[name].len = (intptr_t)strlen(names[name]);
    t->__reflection = &type_names[name];
}

/* The "runtime type initialisation" a compiler would do statically. */
static void init_types(void)
{
    node_gc[3] = node_gc[6] = (uintptr_t)node_gc;
    msg_gc[3] = (uintptr_t)msg_gc;
    msg_gc[6] = (uintptr_t)byte_gc;
    msg_gc[13] = (uintptr_t)node_gc;
    msg_gc[16] = (uintptr_t)&chanLeaf_type;
    msg_gc[19] = (uintptr_t)ptrleaf_gc;
    msg_gc[26] = (uintptr_t)boxed_gc;
    msg_gc[MSG_GC_CALL_AT + 2] = (uintptr_t)((MSG_GC_SUB_AT - MSG_GC_CALL_AT) * 8);
    ptrnode_gc[3] = (uintptr_t)node_gc;
    ptrmsg_gc[3] = (uintptr_t)msg_gc;
    chanmsg_gc[3] = (uintptr_t)&chanMsg_type;
    chanleaf_gc[3] = (uintptr_t)&chanLeaf_type;
    stagearg_gc[3] = stagearg_gc[6] = (uintptr_t)&chanMsg_type;

    init_type(&leaf_type, GO_STRUCT | GO_NO_POINTERS, sizeof(Leaf), leaf_gc, 0);
    init_type(&node_type, GO_STRUCT, sizeof(Node), node_gc, 1);
    init_type(&boxed_type, GO_STRUCT, sizeof(Boxed), boxed_gc, 2);
    init_type(&msg_type, GO_STRUCT, sizeof(Msg), msg_gc, 3);
    init_type(&stagearg_type, GO_STRUCT, sizeof(StageArg), stagearg_gc, 4);
    init_type(&ptrLeaf_type.__common, GO_PTR, 8, ptrleaf_gc, 5);
    ptrLeaf_type.__element_type = &leaf_type;
    init_type(&ptrNode_type.__common, GO_PTR, 8, ptrnode_gc, 6);
    ptrNode_type.__element_type = &node_type;
    init_type(&ptrMsg_type.__common, GO_PTR, 8, ptrmsg_gc, 7);
    ptrMsg_type.__element_type = &msg_type;
    init_type(&chanMsg_type.__common, GO_CHAN, 8, chanmsg_gc, 8);
    chanMsg_type.__element_type = &ptrMsg_type.__common;
    chanMsg_type.__dir = 3;
    init_type(&chanLeaf_type.__common, GO_CHAN, 8, chanleaf_gc, 9);
    chanLeaf_type.__element_type = &ptrLeaf_type.__common;
    chanLeaf_type.__dir = 3;
    node_type.__pointer_to_this = &ptrNode_type.__common;
    msg_type.__pointer_to_this = &ptrMsg_type.__common;
    leaf_type.__pointer_to_this = &ptrLeaf_type.__common;
}

/* ---------------------------------------------------------------------------------------------
 * Packages: globals and their root lists, registered by init functions. */

/* package pipeline */
static Hchan *pipeline_chans[NSTAGES + 1];
static Hchan *pipeline_done; /* chan *Msg, closed when the pipeline has drained */
static struct {
    struct root_list *next;
    struct root_entry roots[3];
} pipeline_roots = {NULL, {{pipeline_chans, sizeof pipeline_chans}, {&pipeline_done, sizeof pipeline_done}, {NULL, 0}}};
static void pipeline_init(void) { __go_register_gc_roots((struct root_list *)&pipeline_roots); }

/* package consumer */
static Msg *consumer_keep[KEEP];
static GoEface consumer_last;
static int64_t consumer_last_id;
static uintptr_t consumer_last_lock; /* the two words of an interface must not tear */
static struct {
    struct root_list *next;
    struct root_entry roots[3];
} consumer_roots = {NULL, {{consumer_keep, sizeof consumer_keep}, {&consumer_last, sizeof consumer_last}, {NULL, 0}}};
static void consumer_init(void) { __go_register_gc_roots((struct root_list *)&consumer_roots); }

/* package trees */
static Node *trees_global[NTREE];
static int64_t trees_global_base[NTREE];
static struct {
    struct root_list *next;
    struct root_entry roots[2];
} trees_roots = {NULL, {{trees_global, sizeof trees_global}, {NULL, 0}}};
static void trees_init(void) { __go_register_gc_roots((struct root_list *)&trees_roots); }

/* Plain C state (ids and counters only, never heap addresses). */
static int prod_live = NPROD, stage_live[NSTAGES], cons_live = NCONS;
static int pipeline_finished;
static unsigned char seen[NPROD * MSGS + 2];
static unsigned long received, verified_msgs, tree_rounds, idle_done, gc_coroutine_calls, main_gcs;

/* ---------------------------------------------------------------------------------------------
 * Building and verifying. */

static Leaf *new_leaf(int64_t id)
{
    Leaf *l = mg_new(&leaf_type);
    l->id = id;
    l->check = mt_mix((uint64_t)id ^ 0x1eaf);
    return l;
}

static int leaf_ok(const Leaf *l, int64_t id)
{
    return l && l->id == id && l->check == mt_mix((uint64_t)id ^ 0x1eaf);
}

static GoString make_string(const char *fmt, int64_t v)
{
    char buf[48];
    int n = snprintf(buf, sizeof buf, fmt, (long long)v);
    uint8_t *p = mg_alloc((uintptr_t)n, 0, FlagNoScan);
    memcpy(p, buf, (size_t)n);
    GoString s = {p, n};
    return s;
}

static int string_ok(GoString s, const char *fmt, int64_t v)
{
    char buf[48];
    int n = snprintf(buf, sizeof buf, fmt, (long long)v);
    return s.len == n && s.str && memcmp(s.str, buf, (size_t)n) == 0;
}

static uint64_t node_check(const Node *n)
{
    return mt_mix((uint64_t)n->id ^ (n->left ? (uint64_t)n->left->id * 3 : 1) ^
                  (n->right ? (uint64_t)n->right->id * 5 : 2) ^ (n->leaf ? (uint64_t)n->leaf->id * 7 : 4));
}

/* Node ids: (base << 12) | k with k the heap index (root 1, children 2k and 2k+1). */
static Node *build_tree(int64_t base, int64_t k, int depth)
{
    if (depth == 0)
        return NULL;
    Node *n = mg_new(&node_type);
    n->id = (base << 12) | k;
    n->left = build_tree(base, 2 * k, depth - 1);
    n->right = build_tree(base, 2 * k + 1, depth - 1);
    if (k % 3 == 0)
        n->leaf = new_leaf(n->id ^ 0x5a5a);
    n->check = node_check(n);
    return n;
}

/* Number of nodes, or -1 (reported) if anything is wrong. */
static long tree_ok(const Node *n, int64_t base, int64_t k, int depth, const char *who)
{
    if (depth == 0) {
        if (n) {
            CHECK(0, "%s: tree %lld: unexpected node below the leaves", who, (long long)base);
            return -1;
        }
        return 0;
    }
    if (!n) {
        CHECK(0, "%s: tree %lld: node %lld missing", who, (long long)base, (long long)k);
        return -1;
    }
    if (n->id != ((base << 12) | k) || n->check != node_check(n) ||
        (k % 3 == 0 ? !leaf_ok(n->leaf, n->id ^ 0x5a5a) : n->leaf != NULL)) {
        CHECK(0, "%s: tree %lld: node %lld at %p corrupted (id %#llx, freed early?)", who, (long long)base,
              (long long)k, (const void *)n, (unsigned long long)n->id);
        return -1;
    }
    long a = tree_ok(n->left, base, 2 * k, depth - 1, who);
    long b = a < 0 ? -1 : tree_ok(n->right, base, 2 * k + 1, depth - 1, who);
    return b < 0 ? -1 : 1 + a + b;
}

static size_t payload_len(int64_t id) { return id % 97 == 0 ? 40000 : 16 + mt_mix((uint64_t)id) % 3000; }
static uint8_t payload_byte(int64_t id, size_t i) { return (uint8_t)(mt_mix((uint64_t)id + (i >> 3)) >> ((i & 7) * 8)); }
static int tree_depth(int64_t id) { return 2 + (int)(id % 4); }
static int nleaves(int64_t id) { return 1 + (int)(id % 6); }
static uint64_t msg_tag(int64_t id, int64_t stage) { return mt_mix((uint64_t)id * 31 + (uint64_t)stage); }
static uint64_t msg_check(const Msg *m)
{
    return mt_mix((uint64_t)m->id ^ ((uint64_t)m->stage << 50) ^ m->tag ^ (uint64_t)m->payload.__count);
}

static Boxed *new_boxed(int64_t a)
{
    Boxed *b = mg_new(&boxed_type);
    b->a = a;
    b->p = new_leaf(a * 3);
    b->s = make_string("boxed-%lld", a);
    return b;
}

static int boxed_ok(const Boxed *b, int64_t a)
{
    return b && b->a == a && leaf_ok(b->p, a * 3) && string_ok(b->s, "boxed-%lld", a);
}

static GoSlice make_leaves(int64_t id, int64_t stage)
{
    int n = nleaves(id);
    Leaf **arr = mg_alloc((uintptr_t)(n + 2) * sizeof(Leaf *), (uintptr_t)&ptrLeaf_type | TypeInfo_Array, 0);
    for (int j = 0; j < n; j++)
        arr[j] = new_leaf(id * 100 + j + stage * 1000000007LL);
    GoSlice s = {arr, n, n + 2};
    return s;
}

static Msg *make_msg(int64_t id, int sub)
{
    Msg *m = mg_new(&msg_type);
    m->id = id;
    size_t plen = payload_len(id);
    uint8_t *p = mg_alloc(plen, 0, FlagNoScan);
    for (size_t i = 0; i < plen; i++)
        p[i] = payload_byte(id, i);
    m->payload.__values = p;
    m->payload.__count = m->payload.__capacity = (intptr_t)plen;
    m->name = make_string("msg-%lld", id);
    switch (id % 4) {
    case 0:
        break;
    case 1:
        m->val.__type_descriptor = &ptrNode_type.__common;
        m->val.__object = build_tree(id ^ VALTREE, 1, 2);
        break;
    case 2:
        m->val.__type_descriptor = &boxed_type;
        m->val.__object = new_boxed(id * 11);
        break;
    default:
        m->val.__type_descriptor = &ptrLeaf_type.__common;
        m->val.__object = new_leaf(id * 19);
        break;
    }
    m->tree = build_tree(id, 1, tree_depth(id));
    Hchan *a = mg_makechan(&chanLeaf_type, 2);
    for (int j = 0; j < (int)(id % 3); j++) {
        Leaf *l = new_leaf(id * 10 + j);
        mg_send(a, &l); /* buffered, never blocks */
    }
    m->att = a;
    m->leaves = make_leaves(id, 0);
    for (int j = 0; j < 3; j++)
        if (j != (int)(id % 3))
            m->arr[j] = new_boxed(id * 7 + j);
    m->hdr.l = new_leaf(id * 13);
    m->hdr.x = id;
    m->stage = 0;
    m->tag = msg_tag(id, 0);
    if (sub > 0 && id % 5 == 0)
        m->next = make_msg(id | SUBBIT, sub - 1);
    m->check = msg_check(m);
    return m;
}

/* Verify everything reachable from m. drained: the attachment channel was emptied. */
static int msg_ok(const Msg *m, int64_t want_id, int64_t want_stage, int drained, const char *who)
{
#define MSG_FAIL(...)                                                                              \
    do {                                                                                           \
        char _b[256];                                                                              \
        snprintf(_b, sizeof _b, __VA_ARGS__);                                                      \
        CHECK(0, "%s: message %lld (%p): %s", who, (long long)(m ? m->id : -1), (const void *)m, _b); \
        return 0;                                                                                  \
    } while (0)
    if (!m)
        MSG_FAIL("nil");
    int64_t id = m->id;
    if (want_id >= 0 && id != want_id)
        MSG_FAIL("id %#llx, expected %#llx (freed early?)", (unsigned long long)id, (unsigned long long)want_id);
    if (m->stage != want_stage || m->tag != msg_tag(id, m->stage) || m->check != msg_check(m))
        MSG_FAIL("stage %lld (expected %lld) / tag / checksum wrong", (long long)m->stage, (long long)want_stage);
    size_t plen = payload_len(id);
    if ((size_t)m->payload.__count != plen || (size_t)m->payload.__capacity != plen || !m->payload.__values)
        MSG_FAIL("payload slice header wrong");
    const uint8_t *p = m->payload.__values;
    for (size_t i = 0; i < plen; i++)
        if (p[i] != payload_byte(id, i))
            MSG_FAIL("payload byte %zu wrong", i);
    if (!string_ok(m->name, "msg-%lld", id))
        MSG_FAIL("name string wrong");
    switch (id % 4) {
    case 0:
        if (m->val.__type_descriptor || m->val.__object)
            MSG_FAIL("interface should be nil");
        break;
    case 1:
        if (m->val.__type_descriptor != &ptrNode_type.__common ||
            tree_ok(m->val.__object, id ^ VALTREE, 1, 2, who) != 3)
            MSG_FAIL("interface holding *Node wrong");
        break;
    case 2:
        if (m->val.__type_descriptor != &boxed_type || !boxed_ok(m->val.__object, id * 11))
            MSG_FAIL("interface holding Boxed wrong");
        break;
    default:
        if (m->val.__type_descriptor != &ptrLeaf_type.__common || !leaf_ok(m->val.__object, id * 19))
            MSG_FAIL("interface holding *Leaf wrong");
        break;
    }
    int d = tree_depth(id);
    if (tree_ok(m->tree, id, 1, d, who) != (1L << d) - 1)
        MSG_FAIL("tree wrong");
    const Hchan *a = m->att;
    if (!a || a->dataqsiz != 2 || a->elemsize != 8 || a->elemtype != &ptrLeaf_type.__common)
        MSG_FAIL("attachment channel header wrong");
    int want_q = drained ? 0 : (int)(id % 3);
    if ((int)a->qcount != want_q)
        MSG_FAIL("attachment channel holds %d, expected %d", (int)a->qcount, want_q);
    for (int j = 0; j < want_q; j++) {
        Leaf *l = *(Leaf **)MG_CHBUF(a, (a->recvx + (uintptr_t)j) % a->dataqsiz);
        if (!leaf_ok(l, id * 10 + j))
            MSG_FAIL("attachment %d wrong", j);
    }
    int n = nleaves(id);
    if (m->leaves.__count != n || m->leaves.__capacity != n + 2)
        MSG_FAIL("leaves slice header wrong");
    Leaf **arr = m->leaves.__values;
    for (int j = 0; j < n; j++)
        if (!leaf_ok(arr[j], id * 100 + j + m->stage * 1000000007LL))
            MSG_FAIL("leaves[%d] wrong", j);
    if (arr[n] || arr[n + 1])
        MSG_FAIL("leaves spare capacity not zero");
    for (int j = 0; j < 3; j++) {
        if (j == (int)(id % 3) ? m->arr[j] != NULL : !boxed_ok(m->arr[j], id * 7 + j))
            MSG_FAIL("arr[%d] wrong", j);
    }
    if (m->hdr.x != id || !leaf_ok(m->hdr.l, id * 13))
        MSG_FAIL("embedded header wrong");
    if (!(id & SUBBIT) && id % 5 == 0 && !(id & IDLEBASE)) {
        if (!msg_ok(m->next, id | SUBBIT, 0, 0, who))
            return 0;
    } else if (m->next) {
        MSG_FAIL("unexpected sub-message");
    }
    __atomic_add_fetch(&verified_msgs, 1, __ATOMIC_RELAXED);
    return 1;
#undef MSG_FAIL
}

/* A stage's work on a message: new tree, new leaf slice, next stage. */
static void advance(Msg *m)
{
    m->tree = build_tree(m->id, 1, tree_depth(m->id));
    m->stage++;
    m->leaves = make_leaves(m->id, m->stage);
    m->tag = msg_tag(m->id, m->stage);
    m->check = msg_check(m);
}

static void garbage(uint64_t *seed, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(seed);
        uint64_t *g = mg_alloc(16 + r % 1500, 0, (r >> 17) & 1 ? FlagNoScan : 0);
        g[0] = r;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Coroutines. */

static void producer(void *argp)
{
    StageArg *arg = argp;
    int p = (int)arg->idx;
    uint64_t seed = mt_mix((uint64_t)p + 100) | 1;
    for (int s = 0; s < MSGS && !tu_failed(); s++) {
        int64_t id = 1 + p * MSGS + s;
        Msg *m = make_msg(id, 1);
        if (s % 3 == 0)
            mg_yield();
        garbage(&seed, 4);
        msg_ok(m, id, 0, 0, "producer");
        mg_send(arg->out, &m);
    }
    if (__atomic_sub_fetch(&prod_live, 1, __ATOMIC_SEQ_CST) == 0)
        mg_close(arg->out);
}

static void stage(void *argp)
{
    StageArg *arg = argp;
    int st = (int)(arg->idx / STAGE_G);
    Msg *batch[BATCH];
    int n = 0, open = 1;
    while (open && !tu_failed()) {
        Msg *m = NULL;
        open = mg_recv(arg->in, &m);
        if (open) {
            batch[n++] = m;
            mg_yield();
        }
        if (n == BATCH || (!open && n > 0)) {
            for (int i = 0; i < n; i++) {
                msg_ok(batch[i], -1, st, 0, "stage (batch)");
                mg_yield();
            }
            for (int i = n - 1; i >= 0; i--) {
                advance(batch[i]);
                mg_send(arg->out, &batch[i]);
                batch[i] = NULL;
            }
            n = 0;
        }
    }
    if (__atomic_sub_fetch(&stage_live[st], 1, __ATOMIC_SEQ_CST) == 0)
        mg_close(arg->out);
}

static void consumer(void *argp)
{
    StageArg *arg = argp;
    int c = (int)arg->idx;
    for (unsigned k = 0;; k++) {
        Msg *m = NULL;
        if (!mg_recv(arg->in, &m))
            break;
        if (!msg_ok(m, -1, NSTAGES, 0, "consumer"))
            break;
        int64_t id = m->id;
        for (int j = 0; j < (int)(id % 3); j++) {
            Leaf *l = NULL;
            CHECK(mg_recv(m->att, &l) == 1 && leaf_ok(l, id * 10 + j), "consumer: attachment %d of %lld", j,
                  (long long)id);
        }
        CHECK(id >= 1 && id <= NPROD * MSGS, "consumer: bad id %lld", (long long)id);
        if (id >= 1 && id <= NPROD * MSGS) {
            unsigned char before = __atomic_fetch_add(&seen[id], 1, __ATOMIC_SEQ_CST);
            CHECK(before == 0, "consumer: message %lld received twice", (long long)id);
        }
        __atomic_add_fetch(&received, 1, __ATOMIC_SEQ_CST);
        if (k % 7 == (unsigned)c) {
            int slot = (int)(id % KEEP);
            /* The ring slot is shared by the consumers: swap atomically, verify the old one. */
            Msg *old = __atomic_exchange_n(&consumer_keep[slot], m, __ATOMIC_SEQ_CST);
            if (old)
                msg_ok(old, -1, NSTAGES, 1, "consumer (kept message)");
        }
        if (id % 11 == 0) {
            /* The interface value alone keeps its dynamic value alive. */
            mg_lock(&consumer_last_lock);
            consumer_last = m->val;
            consumer_last_id = id;
            mg_unlock(&consumer_last_lock);
        }
        mg_yield();
    }
    if (__atomic_sub_fetch(&cons_live, 1, __ATOMIC_SEQ_CST) == 0) {
        __atomic_store_n(&pipeline_finished, 1, __ATOMIC_SEQ_CST);
        mg_close(pipeline_done);
    }
}

static void tree_worker(void *argp)
{
    StageArg *arg = argp;
    int w = (int)arg->idx;
    uint64_t seed = mt_mix((uint64_t)w + 7) | 1;
    for (int r = 0; r < TREE_ROUNDS && !tu_failed(); r++) {
        int64_t base = TREEBASE / 4096 + w * 1000 + r;
        Node *t = build_tree(base, 1, TREE_DEPTH);
        for (int k = 0; k < 12; k++) {
            mg_yield();
            garbage(&seed, 30);
            if (k % 4 == 3 && tree_ok(t, base, 1, TREE_DEPTH, "tree worker") != (1L << TREE_DEPTH) - 1)
                break;
        }
        if (r % 2 == 0) {
            if (trees_global[w])
                tree_ok(trees_global[w], trees_global_base[w], 1, TREE_DEPTH, "tree worker (global)");
            trees_global_base[w] = base;
            trees_global[w] = t;
        }
        __atomic_add_fetch(&tree_rounds, 1, __ATOMIC_RELAXED);
    }
}

static void idle_holder(void *argp)
{
    StageArg *arg = argp;
    int64_t id = IDLEBASE + arg->idx;
    Msg *m = make_msg(id, 0);
    Node *t = build_tree(id, 1, 4);
    Msg *dummy = NULL;
    /* Blocked (suspended) until the pipeline is done, holding m and t only on this stack. */
    int ok = mg_recv(pipeline_done, &dummy);
    CHECK(!ok && dummy == NULL, "idle: done channel delivered a value");
    msg_ok(m, id, 0, 0, "idle holder");
    tree_ok(t, id, 1, 4, "idle holder");
    __atomic_add_fetch(&idle_done, 1, __ATOMIC_RELAXED);
}

static uint32_t gc_at_start;

/* Collects every few yields while the pipeline runs, and afterwards until MIN_GC + 10
 * collections happened in all (so the count does not depend on how fast the machine is). */
static void gc_coroutine(void *argp)
{
    (void)argp;
    while (!__atomic_load_n(&pipeline_finished, __ATOMIC_SEQ_CST) || mt_numgc() - gc_at_start < MIN_GC + 10) {
        runtime_gc(1);
        __atomic_add_fetch(&gc_coroutine_calls, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < 20 && !__atomic_load_n(&pipeline_finished, __ATOMIC_SEQ_CST); i++)
            mg_yield();
    }
}

static StageArg *new_arg(int64_t idx, Hchan *in, Hchan *out)
{
    StageArg *a = (StageArg *)runtime_new(&stagearg_type);
    a->idx = idx;
    a->in = in;
    a->out = out;
    return a;
}

static unsigned idle_calls;
static void main_idle(void)
{
    /* The main thread collects too (a non-worker collector). */
    idle_calls++;
    runtime_gc(1);
    main_gcs++;
}

/* ---------------------------------------------------------------------------------------------
 * One mode, in this process. */

static __attribute__((noinline)) void start_all(void)
{
    pipeline_chans[0] = mg_makechan(&chanMsg_type, 16);
    pipeline_chans[1] = mg_makechan(&chanMsg_type, 0); /* unbuffered: hand-off between stacks */
    pipeline_chans[2] = mg_makechan(&chanMsg_type, 4);
    pipeline_chans[3] = mg_makechan(&chanMsg_type, 32);
    pipeline_done = mg_makechan(&chanMsg_type, 0);
    for (int i = 0; i < NIDLE; i++)
        mg_go(idle_holder, new_arg(i, NULL, NULL));
    for (int i = 0; i < NPROD; i++)
        mg_go(producer, new_arg(i, NULL, pipeline_chans[0]));
    for (int s = 0; s < NSTAGES; s++) {
        stage_live[s] = STAGE_G;
        for (int i = 0; i < STAGE_G; i++)
            mg_go(stage, new_arg(s * STAGE_G + i, pipeline_chans[s], pipeline_chans[s + 1]));
    }
    for (int i = 0; i < NCONS; i++)
        mg_go(consumer, new_arg(i, pipeline_chans[NSTAGES], NULL));
    for (int i = 0; i < NTREE; i++)
        mg_go(tree_worker, new_arg(i, NULL, NULL));
    mg_go(gc_coroutine, new_arg(0, NULL, NULL));
}

static int run_mode(const char *mode_name)
{
    int mode = strcmp(mode_name, "coop") == 0 ? MG_COOP : strcmp(mode_name, "threads") == 0 ? MG_THREADS : MG_SIGNAL;
    int nw = getenv("MINIGO_WORKERS") ? atoi(getenv("MINIGO_WORKERS")) : 3;
    mg_init(mode, nw, STACK);
    init_types();
    pipeline_init();
    consumer_init();
    trees_init();

    uint32_t gc0 = mt_numgc();
    gc_at_start = gc0;
    double t0 = tu_now();
    start_all();
    mt_scrub_stack();
    mg_run(main_idle);
    double secs = tu_now() - t0;
    uint32_t ngc = mt_numgc() - gc0;

    /* Everything the globals still hold. */
    runtime_GC();
    int kept = 0;
    for (int i = 0; i < KEEP; i++)
        if (consumer_keep[i]) {
            kept++;
            msg_ok(consumer_keep[i], -1, NSTAGES, 1, "kept message (end)");
        }
    for (int w = 0; w < NTREE; w++)
        if (trees_global[w])
            tree_ok(trees_global[w], trees_global_base[w], 1, TREE_DEPTH, "global tree (end)");
    if (consumer_last_id > 0) {
        int64_t id = consumer_last_id;
        const GoEface v = consumer_last;
        switch (id % 4) {
        case 0:
            CHECK(!v.__type_descriptor, "last interface should be nil");
            break;
        case 1:
            CHECK(v.__type_descriptor == &ptrNode_type.__common && tree_ok(v.__object, id ^ VALTREE, 1, 2, "last") == 3,
                  "last interface (*Node)");
            break;
        case 2:
            CHECK(v.__type_descriptor == &boxed_type && boxed_ok(v.__object, id * 11), "last interface (Boxed)");
            break;
        default:
            CHECK(v.__type_descriptor == &ptrLeaf_type.__common && leaf_ok(v.__object, id * 19), "last interface (*Leaf)");
        }
    }
    unsigned long missing = 0;
    for (int id = 1; id <= NPROD * MSGS; id++)
        missing += seen[id] == 0;
    mg_stats st = mg_get_stats();
    const char *gd = getenv("GODEBUG");
    printf("minigo %-7s GODEBUG=%-10s workers=%d: %lu msgs in %.2f s (%.0f msgs/s), %u collections (%lu from "
           "the gc coroutine, %lu from main), %lu switches, %lu parks, %lu tree rounds, %lu idle, %lu messages "
           "verified, %d kept; host: %lu scans (%lu suspended, %lu running ranges), %lu coop stops, %lu "
           "helper threads, %lu gc acquires, %lu gc-semaphore waits\n",
           mode_name, gd ? gd : "", mode == MG_THREADS ? 0 : nw, received, secs, received / secs, ngc,
           gc_coroutine_calls, main_gcs, st.switches, st.parks, tree_rounds, idle_done, verified_msgs, kept,
           st.host_scans, st.host_suspended, st.host_running, st.coop_stops, st.start_threads, st.gc_acquires,
           st.gc_sem_busy);
    CHECK(received == NPROD * MSGS, "received %lu messages, expected %d", received, NPROD * MSGS);
    CHECK(missing == 0, "%lu messages never arrived", missing);
    CHECK(idle_done == NIDLE, "%lu of %d idle coroutines finished", idle_done, NIDLE);
    CHECK(tree_rounds == NTREE * TREE_ROUNDS, "%lu tree rounds, expected %d", tree_rounds, NTREE * TREE_ROUNDS);
    CHECK(ngc >= MIN_GC, "only %u collections (need %d)", ngc, MIN_GC);
    if (mode != MG_THREADS) {
        CHECK(st.host_scans > 0 && st.host_scans >= ngc / 2, "scan_roots called %lu times for %u collections",
              st.host_scans, ngc);
        CHECK(st.start_threads >= 1, "the host's start_thread was never used for gogc's helper threads");
    }
    if (mode == MG_SIGNAL)
        CHECK(st.host_running > 0, "no running ranges reported (no collection ran on a coroutine stack?)");
    if (mode == MG_COOP)
        CHECK(st.coop_stops >= ngc, "%lu cooperative stops for %u collections", st.coop_stops, ngc);
    return test_summary();
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--child") == 0)
        return run_mode(argv[2]);

    static const struct {
        const char *mode, *godebug;
    } runs[] = {
        {"signal", "gcprocs=1"}, {"signal", NULL}, {"coop", "gcprocs=1"}, {"coop", NULL}, {"threads", NULL},
    };
    static char out[1 << 17];
    /* A GODEBUG given to the test (ctests/run_knobs.sh: checkmark=1, stress=N) is kept. */
    const char *base = getenv("GODEBUG");
    if (base && !*base)
        base = NULL;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char gd[256];
        const char *env[3] = {NULL, NULL, NULL};
        if (runs[i].godebug || base) {
            snprintf(gd, sizeof gd, "GODEBUG=%s%s%s", base ? base : "", base && runs[i].godebug ? "," : "",
                     runs[i].godebug ? runs[i].godebug : "");
            env[0] = gd;
        } else {
            env[0] = "GODEBUG";
        }
        int status = 0;
        int killed = tu_run_self(runs[i].mode, env, out, sizeof out, &status, 60);
        char b[64];
        int ok = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        CHECK(ok, "mode %s (%s) ended with %s%s; output:\n%s", runs[i].mode, env[0],
              mt_status_str(status, b, sizeof b), killed ? " (killed after 60 s: hung?)" : "", out);
        if (ok)
            fputs(out, stdout);
        fflush(stdout);
    }
    /* Control: without the suspended coroutine stacks as roots the workload must fail. */
    const char *env[] = {"MINIGO_DROP=1", NULL};
    int status = 0;
    int killed = tu_run_self("signal", env, out, sizeof out, &status, 20);
    char b[64];
    int failed = killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    printf("control (MINIGO_DROP=1: suspended stacks not reported): %s, %s\n",
           failed ? "failed as it must" : "PASSED (the checks missed the lost roots)",
           killed ? "killed after 20 s" : mt_status_str(status, b, sizeof b));
    CHECK(failed, "the control run without coroutine stacks as roots passed; output:\n%.2000s", out);
    return test_summary();
}
