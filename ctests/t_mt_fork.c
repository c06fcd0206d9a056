/*
 * t_mt_fork: fork() while other threads allocate and collect (issue 4).
 *
 * Background in the parent: two allocator threads (gogc_pthread_create) allocating as fast as
 * they can (garbage plus a checksummed list rebuilt every few rounds, held in their locals),
 * and a collector thread calling runtime_gc(1) every few milliseconds; GOGC=25 makes allocation
 * trigger collections too. So most forks happen while another thread is inside mallocgc, a
 * sweep or a collection.
 *
 * NFORK_MAIN times the main thread, which holds a checksummed list (untyped blocks, some with
 * FlagNoScan payload blocks, one large) in a local, forks. The child (single-threaded now):
 *  - verifies the inherited list, allocates a new one and garbage, runs runtime_GC() and
 *    runtime_gc(1), verifies both lists;
 *  - creates a thread with gogc_pthread_create that allocates, collects and verifies its own list
 *    while the child's main thread allocates too (the child's collector must be able to stop
 *    threads created after the fork), joins it, collects and verifies again;
 *  - every 5th child forks a grandchild that does a short version of the same and is waited for;
 *  - exits 0 if every check passed (1 otherwise; a watchdog alarm kills a child that hangs).
 * The parent requires exit status 0 and verifies its own list after each child.
 * Then a thread other than main (created with gogc_pthread_create, holding its own list) forks
 * NFORK_THREAD times with the same child protocol (only that thread's list exists in the child:
 * the main thread's stack is not a root there).
 */
#include "testutil.h"
#include "mt_util.h"
#include <pthread.h>

#define NFORK_MAIN 20
#define NFORK_THREAD 8
#define CHILD_ALARM 30

typedef struct fnode {
    struct fnode *next;
    uint64_t id;
    uint64_t check;
    uint64_t *ext;
    uint64_t ext_n;
    uint64_t w[3];
} fnode;

static int stop_bg;
static uint64_t id_counter = 1;
static int in_child;

static uint64_t fnode_sum(const fnode *p)
{
    uint64_t h = mt_mix(p->id ^ p->ext_n);
    for (int i = 0; i < 3; i++)
        h = mt_mix(h ^ p->w[i]);
    for (uint64_t i = 0; i < p->ext_n; i++)
        h = mt_mix(h ^ p->ext[i]);
    return h;
}

static __attribute__((noinline)) fnode *build(long n, int big_every, int ext_every)
{
    fnode *h = NULL;
    for (long i = 0; i < n; i++) {
        uint64_t id = __atomic_fetch_add(&id_counter, 1, __ATOMIC_RELAXED);
        fnode *p = (i & 1) ? runtime_mal(sizeof(fnode)) : runtime_mallocgc(sizeof(fnode), 0, 0);
        p->id = id;
        p->next = h;
        for (int k = 0; k < 3; k++)
            p->w[k] = mt_mix(id * 3 + (uint64_t)k);
        int big = big_every && i % big_every == 0;
        if (big || (ext_every && i % ext_every == 0)) {
            p->ext_n = big ? 6000 : 1 + id % 200;
            p->ext = runtime_mallocgc(p->ext_n * 8, 0, FlagNoScan);
            for (uint64_t k = 0; k < p->ext_n; k++)
                p->ext[k] = mt_mix(id ^ (k << 24));
        }
        p->check = fnode_sum(p);
        h = p;
    }
    return h;
}

static int list_ok(const fnode *p, long n, const char *who)
{
    long i = 0;
    for (; p && i <= n; p = p->next, i++) {
        int ok = p->check == fnode_sum(p);
        for (int k = 0; ok && k < 3; k++)
            ok = p->w[k] == mt_mix(p->id * 3 + (uint64_t)k);
        for (uint64_t k = 0; ok && k < p->ext_n; k++)
            ok = p->ext[k] == mt_mix(p->id ^ (k << 24));
        if (!ok) {
            CHECK(ok, "%s%s: node %ld (%p, id %#" PRIx64 ") corrupted", in_child ? "child: " : "", who, i,
                  (const void *)p, p->id);
            return 0;
        }
    }
    CHECK(i == n, "%s%s: list has %ld nodes, expected %ld", in_child ? "child: " : "", who, i, n);
    return i == n;
}

static void garbage(uint64_t *seed, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t r = tu_rand(seed);
        uint64_t *g = runtime_mallocgc(16 + r % 3000, 0, (r >> 20) & 1 ? FlagNoScan : 0);
        g[0] = r;
    }
}

/* ---- in the child ---- */

static void *child_thread(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg | 1;
    fnode *l = build(300, 0, 4);
    for (int i = 0; i < 10; i++) {
        garbage(&seed, 200);
        if (i % 3 == 0)
            runtime_gc(1);
    }
    list_ok(l, 300, "child's thread list");
    return NULL;
}

/* The child protocol. `inherited` (n nodes) is the forking thread's list. Never returns. */
static __attribute__((noreturn)) void child_main(const fnode *inherited, long n, int depth, int idx)
{
    in_child = 1;
    alarm(CHILD_ALARM);
    uint64_t seed = mt_mix((uint64_t)idx * 31 + (uint64_t)depth) | 1;
    list_ok(inherited, n, "inherited list");
    fnode *fresh = build(1000, 250, 5);
    garbage(&seed, 2000);
    runtime_GC();
    list_ok(inherited, n, "inherited list after runtime_GC");
    list_ok(fresh, 1000, "child's list after runtime_GC");
    runtime_gc(1);
    pthread_t t;
    int r = gogc_pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)seed);
    CHECK(r == 0, "child: gogc_pthread_create returned %d", r);
    for (int i = 0; i < 10; i++)
        garbage(&seed, 300);
    if (r == 0)
        pthread_join(t, NULL);
    runtime_GC();
    list_ok(inherited, n, "inherited list at the end");
    list_ok(fresh, 1000, "child's list at the end");
    if (depth == 0 && idx % 5 == 0) {
        fflush(stdout);
        fflush(stderr);
        pid_t g = fork();
        if (g == 0)
            child_main(fresh, 1000, 1, idx);
        CHECK(g > 0, "child: fork of a grandchild failed: %s", strerror(errno));
        if (g > 0) {
            int st = 0;
            while (waitpid(g, &st, 0) < 0 && errno == EINTR)
                ;
            char b[64];
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: grandchild ended with %s",
                  mt_status_str(st, b, sizeof b));
        }
        list_ok(fresh, 1000, "child's list after the grandchild");
    }
    fflush(stdout);
    fflush(stderr);
    _exit(tu_failed() ? 1 : 0);
}

/* Fork once, run the child protocol there, wait in the parent. Returns 1 if the child passed. */
static int fork_and_check(const fnode *mine, long n, int idx, const char *who)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        child_main(mine, n, 0, idx);
    CHECK(pid > 0, "%s: fork failed: %s", who, strerror(errno));
    if (pid < 0)
        return 0;
    int st = 0;
    double deadline = tu_now() + CHILD_ALARM + 10;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            CHECK(0, "%s: waitpid: %s", who, strerror(errno));
            return 0;
        }
        if (tu_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            CHECK(0, "%s: fork %d: child hung (killed)", who, idx);
            return 0;
        }
        mt_sleep_us(2000);
    }
    char b[64];
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(ok, "%s: fork %d: child ended with %s%s", who, idx, mt_status_str(st, b, sizeof b),
          WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (watchdog: the child hung)" : "");
    return ok;
}

/* ---- in the parent ---- */

static void *bg_alloc(void *arg)
{
    uint64_t seed = mt_mix((uint64_t)(intptr_t)arg) | 1;
    fnode *mine = build(200, 0, 3);
    unsigned long rounds = 0;
    while (!__atomic_load_n(&stop_bg, __ATOMIC_ACQUIRE)) {
        garbage(&seed, 400);
        if (++rounds % 10 == 0) {
            if (!list_ok(mine, 200, "background allocator"))
                break;
            mine = build(200, 0, 3);
        }
    }
    list_ok(mine, 200, "background allocator (end)");
    return NULL;
}

static void *bg_collect(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_bg, __ATOMIC_ACQUIRE)) {
        runtime_gc(1);
        mt_sleep_us(3000);
    }
    return NULL;
}

static unsigned long thread_forks_ok;

static void *forking_thread(void *arg)
{
    (void)arg;
    fnode *mine = build(800, 200, 6);
    uint64_t seed = 99;
    for (int i = 0; i < NFORK_THREAD && !tu_failed(); i++) {
        garbage(&seed, 500);
        if (fork_and_check(mine, 800, 100 + i, "forking thread"))
            thread_forks_ok++;
        list_ok(mine, 800, "forking thread's list");
    }
    return NULL;
}

int main(void)
{
    int old = runtime_setgcpercent(25);
    uint32_t gc0 = mt_numgc();
    double t0 = tu_now();
    fnode *keep = build(1500, 300, 4);

    pthread_t bg[3];
    CHECK(gogc_pthread_create(&bg[0], NULL, bg_alloc, (void *)1) == 0, "bg 0");
    CHECK(gogc_pthread_create(&bg[1], NULL, bg_alloc, (void *)2) == 0, "bg 1");
    CHECK(gogc_pthread_create(&bg[2], NULL, bg_collect, NULL) == 0, "bg collector");
    mt_sleep_us(20000);

    int ok_main = 0;
    for (int i = 0; i < NFORK_MAIN && !tu_failed(); i++) {
        ok_main += fork_and_check(keep, 1500, i, "main");
        list_ok(keep, 1500, "main's list");
        mt_sleep_us(1000 * (i % 4));
    }

    pthread_t ft;
    CHECK(gogc_pthread_create(&ft, NULL, forking_thread, NULL) == 0, "forking thread");
    pthread_join(ft, NULL);

    __atomic_store_n(&stop_bg, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(bg[i], NULL);
    runtime_GC();
    list_ok(keep, 1500, "main's list (end)");
    printf("t_mt_fork: %d/%d forks from main and %lu/%d from another thread passed, %u collections in the "
           "parent, %.1f s\n",
           ok_main, NFORK_MAIN, thread_forks_ok, NFORK_THREAD, mt_numgc() - gc0, tu_now() - t0);
    CHECK(ok_main == NFORK_MAIN || tu_failed(), "forks from main: %d passed", ok_main);
    runtime_setgcpercent(old);
    return test_summary();
}
