/*
 * minigo.c: the runtime described in minigo.h. Include it (after testutil.h) into one test file.
 *
 * Invariants the collector relies on (see mg_host_scan_roots):
 *  - a coroutine's context (g->ctx) is complete whenever its status is G_RUNNABLE or G_WAITING
 *    and g->oncpu is 0: the scheduler sets the status, then clears oncpu, only after
 *    swapcontext returned to it; it sets oncpu before switching into the coroutine;
 *  - while oncpu is set, the whole stack is reported as a running range (gogc clips it at the
 *    stopped worker's stack pointer when that lies inside it), and the worker's scheduler
 *    frames (its OS stack from the stack pointer saved in sched_ctx) are reported as suspended,
 *    because gogc does not scan an OS stack whose thread runs elsewhere;
 *  - scan_roots takes no lock: G records are never freed (they go to a free list with their
 *    stacks) and are published in mg_allg before their status leaves G_INIT.
 */
#include "minigo.h"
#include <sched.h>
#include <sys/mman.h>

static int mg_mode_v;
static int mg_nw;
static size_t mg_stack;
static int mg_coop_naive;
/* MINIGO_DROP=bits: deliberately omit ranges from scan_roots (to show the test notices):
 * 1 suspended coroutine stacks, 2 saved contexts (ucontext_t), 4 worker scheduler stacks and
 * contexts, 8 running coroutine stacks. */
static int mg_drop;
static mg_W mg_workers[MG_MAXW];

static mg_G *mg_allg[MG_MAXG];
static int mg_nallg;
static pthread_mutex_t mg_allg_mu = PTHREAD_MUTEX_INITIALIZER;
static mg_G *mg_gfree;

static pthread_mutex_t mg_rq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mg_rq_cv = PTHREAD_COND_INITIALIZER;
static mg_G *mg_rq_head, *mg_rq_tail;
static int mg_live; /* coroutines created and not finished (under mg_rq_mu; read atomically) */

/* MG_COOP stop protocol */
static pthread_mutex_t mg_stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mg_stop_cv = PTHREAD_COND_INITIALIZER;   /* the collector waits */
static pthread_cond_t mg_resume_cv = PTHREAD_COND_INITIALIZER; /* parked workers wait */
static int mg_stop_req, mg_nparked, mg_nw_alive;

/* Coroutine-level GC semaphore (MG_COOP): 0 free, 1 taken. */
static int mg_gc_sem;

static __thread mg_W *mg_tls_w;
static __thread mg_G *mg_tls_g; /* MG_THREADS */

static mg_stats mg_st;
#define MG_STAT(f) __atomic_add_fetch(&mg_st.f, 1, __ATOMIC_RELAXED)

static TU_UNUSED int mg_mode(void) { return mg_mode_v; }

static mg_stats mg_get_stats(void)
{
    mg_stats s = mg_st;
    unsigned long sw = 0;
    for (int i = 0; i < mg_nw; i++)
        sw += mg_workers[i].switches;
    s.switches = sw;
    return s;
}

static void mg_die(const char *what)
{
    fprintf(stderr, "minigo: %s\n", what);
    fflush(stderr);
    abort();
}

/* TLS reads that the compiler must not cache across a coroutine switch (a coroutine may
 * resume on another worker). */
static __attribute__((noinline)) mg_W *mg_curw(void)
{
    mg_W *w = mg_tls_w;
    __asm__ volatile("" ::: "memory");
    return w;
}

static __attribute__((noinline)) mg_G *mg_curg(void)
{
    __asm__ volatile("" ::: "memory");
    if (mg_mode_v == MG_THREADS)
        return mg_tls_g;
    mg_W *w = mg_tls_w;
    return w ? __atomic_load_n(&w->cur, __ATOMIC_ACQUIRE) : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Host callbacks. */

static void mg_host_gc_acquire(void *ctx);
static void mg_host_gc_release(void *ctx);

static void mg_host_scan_roots(void *ctx, GogcRangeFn suspended, GogcRangeFn running, void *arg)
{
    (void)ctx;
    MG_STAT(host_scans);
    for (int i = 0; i < mg_nw; i++) {
        mg_W *w = &mg_workers[i];
        if (!w->os_hi)
            continue;
        if (__atomic_load_n(&w->cur, __ATOMIC_ACQUIRE) && !(mg_drop & 4)) {
            uintptr_t sp = (uintptr_t)w->sched_ctx.uc_mcontext.gregs[REG_RSP];
            char *lo = (sp >= (uintptr_t)w->os_lo && sp < (uintptr_t)w->os_hi) ? (char *)sp : w->os_lo;
            suspended(lo, w->os_hi, arg);
            suspended(&w->sched_ctx, &w->sched_ctx + 1, arg);
            MG_STAT(host_suspended);
        }
        if (__atomic_load_n(&w->parked, __ATOMIC_ACQUIRE)) {
            uintptr_t sp = (uintptr_t)w->park_ctx.uc_mcontext.gregs[REG_RSP];
            char *lo = (sp >= (uintptr_t)w->os_lo && sp < (uintptr_t)w->os_hi) ? (char *)sp : w->os_lo;
            suspended(lo, w->os_hi, arg);
            suspended(&w->park_ctx, &w->park_ctx + 1, arg);
            MG_STAT(host_suspended);
        }
    }
    int n = __atomic_load_n(&mg_nallg, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        mg_G *g = mg_allg[i];
        int st = __atomic_load_n(&g->status, __ATOMIC_ACQUIRE);
        if (st == G_FREE || st == G_INIT)
            continue;
        if (!(mg_drop & 2))
            suspended(&g->ctx, &g->ctx + 1, arg);
        suspended(g->roots, g->roots + MG_NROOTS, arg);
        if (__atomic_load_n(&g->oncpu, __ATOMIC_ACQUIRE)) {
            if (!(mg_drop & 8))
                running(g->stk_lo, g->stk_hi, arg);
            MG_STAT(host_running);
        } else if (!(mg_drop & 1)) {
            uintptr_t sp = (uintptr_t)g->ctx.uc_mcontext.gregs[REG_RSP];
            char *lo = (sp >= (uintptr_t)g->stk_lo && sp <= (uintptr_t)g->stk_hi) ? (char *)sp : g->stk_lo;
            suspended(lo, g->stk_hi, arg);
            MG_STAT(host_suspended);
        }
    }
}

static int32_t mg_host_start_thread(void *ctx, void *(*f)(void *), void *arg)
{
    (void)ctx;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    int r = pthread_create(&t, &attr, f, arg);
    pthread_attr_destroy(&attr);
    if (r == 0)
        MG_STAT(start_threads);
    return r;
}

static void mg_host_fatal(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "minigo: gogc fatal error: %s\n", msg);
    fflush(stderr);
    abort();
}

/* A parked worker: saves its context for the scan and waits for the world to restart. */
static void mg_checkpoint(mg_W *w)
{
    if (mg_mode_v != MG_COOP || !__atomic_load_n(&mg_stop_req, __ATOMIC_ACQUIRE))
        return;
    getcontext(&w->park_ctx);
    pthread_mutex_lock(&mg_stop_mu);
    if (mg_stop_req) {
        __atomic_store_n(&w->parked, 1, __ATOMIC_RELEASE);
        mg_nparked++;
        pthread_cond_broadcast(&mg_stop_cv);
        while (mg_stop_req)
            pthread_cond_wait(&mg_resume_cv, &mg_stop_mu);
        mg_nparked--;
        __atomic_store_n(&w->parked, 0, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&mg_stop_mu);
}

static void mg_host_stop_world(void *ctx)
{
    (void)ctx;
    mg_W *me = mg_tls_w;
    MG_STAT(coop_stops);
    pthread_mutex_lock(&mg_stop_mu);
    __atomic_store_n(&mg_stop_req, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&mg_stop_mu);
    /* Idle workers wait on the run queue: wake them so they park. */
    pthread_mutex_lock(&mg_rq_mu);
    pthread_cond_broadcast(&mg_rq_cv);
    pthread_mutex_unlock(&mg_rq_mu);
    pthread_mutex_lock(&mg_stop_mu);
    while (mg_nparked < mg_nw_alive - (me ? 1 : 0))
        pthread_cond_wait(&mg_stop_cv, &mg_stop_mu);
    pthread_mutex_unlock(&mg_stop_mu);
}

static void mg_host_start_world(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mg_stop_mu);
    __atomic_store_n(&mg_stop_req, 0, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&mg_resume_cv);
    pthread_mutex_unlock(&mg_stop_mu);
}

/* ---------------------------------------------------------------------------------------------
 * Scheduler. */

static void mg_rq_put(mg_G *g)
{
    __atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_RELEASE);
    pthread_mutex_lock(&mg_rq_mu);
    g->schednext = NULL;
    if (mg_rq_tail)
        mg_rq_tail->schednext = g;
    else
        mg_rq_head = g;
    mg_rq_tail = g;
    pthread_cond_signal(&mg_rq_cv);
    pthread_mutex_unlock(&mg_rq_mu);
}

static mg_G *mg_rq_get(mg_W *w)
{
    pthread_mutex_lock(&mg_rq_mu);
    for (;;) {
        if (mg_rq_head) {
            mg_G *g = mg_rq_head;
            mg_rq_head = g->schednext;
            if (!mg_rq_head)
                mg_rq_tail = NULL;
            pthread_mutex_unlock(&mg_rq_mu);
            return g;
        }
        if (mg_live == 0) {
            pthread_cond_broadcast(&mg_rq_cv);
            pthread_mutex_unlock(&mg_rq_mu);
            return NULL;
        }
        if (mg_mode_v == MG_COOP && __atomic_load_n(&mg_stop_req, __ATOMIC_ACQUIRE)) {
            pthread_mutex_unlock(&mg_rq_mu);
            mg_checkpoint(w);
            pthread_mutex_lock(&mg_rq_mu);
            continue;
        }
        pthread_cond_wait(&mg_rq_cv, &mg_rq_mu);
    }
}

static void mg_lock(uintptr_t *l)
{
    int n = 0;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (++n > 50)
                sched_yield();
            else
                __builtin_ia32_pause();
        }
    }
}

static void mg_unlock(uintptr_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* Leave the coroutine for the scheduler, which then performs `after`. */
static void mg_switch_out(int after, uintptr_t *lock)
{
    mg_W *w = mg_curw();
    mg_G *g = w->cur;
    w->after = after;
    w->after_lock = lock;
    swapcontext(&g->ctx, &w->sched_ctx);
    /* Resumed, maybe on another worker: do not use w. */
}

static void mg_free_g(mg_G *g)
{
    g->roots[0] = g->roots[1] = NULL;
    __atomic_store_n(&g->status, G_FREE, __ATOMIC_RELEASE);
    pthread_mutex_lock(&mg_allg_mu);
    g->freenext = mg_gfree;
    mg_gfree = g;
    pthread_mutex_unlock(&mg_allg_mu);
}

static void *mg_worker_main(void *arg)
{
    mg_W *w = arg;
    mg_tls_w = w;
    if (mg_mode_v == MG_COOP)
        gogc_thread_attach();
    pthread_attr_t attr;
    void *addr;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    w->os_lo = addr;
    __atomic_store_n(&w->os_hi, (char *)addr + size, __ATOMIC_RELEASE);

    for (;;) {
        mg_G *g = mg_rq_get(w);
        if (!g)
            break;
        __atomic_store_n(&g->oncpu, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&w->cur, g, __ATOMIC_SEQ_CST);
        __atomic_store_n(&g->status, G_RUNNING, __ATOMIC_SEQ_CST);
        w->switches++;
        swapcontext(&w->sched_ctx, &g->ctx);
        int after = w->after;
        uintptr_t *lk = w->after_lock;
        w->after = AFTER_NONE;
        w->after_lock = NULL;
        if (after == AFTER_YIELD)
            __atomic_store_n(&g->status, G_RUNNABLE, __ATOMIC_SEQ_CST);
        else if (after == AFTER_PARK)
            __atomic_store_n(&g->status, G_WAITING, __ATOMIC_SEQ_CST);
        else if (after == AFTER_EXIT)
            __atomic_store_n(&g->status, G_FREE, __ATOMIC_SEQ_CST);
        else
            mg_die("coroutine switched out without a reason");
        __atomic_store_n(&w->cur, NULL, __ATOMIC_SEQ_CST);
        __atomic_store_n(&g->oncpu, 0, __ATOMIC_SEQ_CST);
        if (after == AFTER_YIELD) {
            mg_rq_put(g);
        } else if (after == AFTER_PARK) {
            MG_STAT(parks);
            mg_unlock(lk);
        } else {
            mg_free_g(g);
            pthread_mutex_lock(&mg_rq_mu);
            if (--mg_live == 0)
                pthread_cond_broadcast(&mg_rq_cv);
            pthread_mutex_unlock(&mg_rq_mu);
        }
        mg_checkpoint(w);
    }
    if (mg_mode_v == MG_COOP) {
        pthread_mutex_lock(&mg_stop_mu);
        mg_nw_alive--;
        pthread_cond_broadcast(&mg_stop_cv);
        pthread_mutex_unlock(&mg_stop_mu);
    }
    return NULL;
}

static void mg_entry(void)
{
    mg_G *g = mg_curg();
    g->fn(g->roots[0]);
    mg_switch_out(AFTER_EXIT, NULL);
    mg_die("a finished coroutine was resumed");
}

static void mg_yield(void)
{
    if (mg_mode_v == MG_THREADS)
        sched_yield();
    else
        mg_switch_out(AFTER_YIELD, NULL);
}

/* Block the current coroutine; `lock` (held) is released once it is switched out. */
static void mg_park(uintptr_t *lock)
{
    if (mg_mode_v == MG_THREADS) {
        mg_G *g = mg_tls_g;
        mg_unlock(lock);
        MG_STAT(parks);
        while (sem_wait(&g->sem) != 0 && errno == EINTR)
            ;
        return;
    }
    mg_switch_out(AFTER_PARK, lock);
}

static void mg_ready(mg_G *g)
{
    if (mg_mode_v == MG_THREADS)
        sem_post(&g->sem);
    else
        mg_rq_put(g);
}

/* MG_THREADS: each coroutine is a thread; its start record is a heap block {fn, arg, g} that
 * gogc_pthread_create keeps alive until the thread runs. */
static void *mg_thread_entry(void *p)
{
    void **rec = p;
    mg_fn fn = (mg_fn)(uintptr_t)rec[0];
    void *arg = rec[1];
    mg_G *g = rec[2];
    mg_tls_g = g;
    fn(arg);
    sem_destroy(&g->sem);
    free(g);
    pthread_mutex_lock(&mg_rq_mu);
    if (--mg_live == 0)
        pthread_cond_broadcast(&mg_rq_cv);
    pthread_mutex_unlock(&mg_rq_mu);
    return NULL;
}

static void mg_go(mg_fn fn, void *arg)
{
    MG_STAT(gos);
    if (mg_mode_v == MG_THREADS) {
        mg_G *g = calloc(1, sizeof *g);
        sem_init(&g->sem, 0, 0);
        void **rec = runtime_mal(3 * sizeof(void *));
        rec[0] = (void *)(uintptr_t)fn;
        rec[1] = arg;
        rec[2] = g;
        pthread_mutex_lock(&mg_rq_mu);
        mg_live++;
        pthread_mutex_unlock(&mg_rq_mu);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        pthread_t t;
        if (gogc_pthread_create(&t, &attr, mg_thread_entry, rec) != 0)
            mg_die("gogc_pthread_create failed");
        pthread_attr_destroy(&attr);
        return;
    }
    pthread_mutex_lock(&mg_allg_mu);
    mg_G *g = mg_gfree;
    if (g) {
        mg_gfree = g->freenext;
        __atomic_store_n(&g->status, G_INIT, __ATOMIC_RELEASE);
    } else {
        if (mg_nallg >= MG_MAXG)
            mg_die("too many coroutines");
        g = calloc(1, sizeof *g);
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        g->maplen = mg_stack + page;
        g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (g->map == MAP_FAILED)
            mg_die("mmap of a coroutine stack failed");
        mprotect(g->map, page, PROT_NONE); /* guard page */
        g->stk_lo = g->map + page;
        g->stk_hi = g->map + g->maplen;
        g->id = mg_nallg;
        g->status = G_INIT;
        mg_allg[mg_nallg] = g;
        __atomic_store_n(&mg_nallg, mg_nallg + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&mg_allg_mu);
    getcontext(&g->ctx);
    g->ctx.uc_stack.ss_sp = g->stk_lo;
    g->ctx.uc_stack.ss_size = (size_t)(g->stk_hi - g->stk_lo);
    g->ctx.uc_link = NULL;
    makecontext(&g->ctx, mg_entry, 0);
    g->fn = fn;
    g->roots[0] = arg;
    g->waitelem = NULL;
    g->waitnext = NULL;
    g->oncpu = 0;
    pthread_mutex_lock(&mg_rq_mu);
    mg_live++;
    pthread_mutex_unlock(&mg_rq_mu);
    mg_rq_put(g); /* publishes G_RUNNABLE */
}

static void mg_init(int mode, int nworkers, size_t stack_size)
{
    mg_mode_v = mode;
    mg_nw = nworkers < 1 ? 1 : nworkers > MG_MAXW ? MG_MAXW : nworkers;
    mg_stack = stack_size;
    const char *e = getenv("MINIGO_COOP_NAIVE");
    mg_coop_naive = e && *e == '1';
    e = getenv("MINIGO_DROP");
    mg_drop = e ? atoi(e) : 0;
    for (int i = 0; i < mg_nw; i++)
        mg_workers[i].idx = i;
    if (mode == MG_THREADS)
        return;
    GogcHost h;
    memset(&h, 0, sizeof h);
    h.size = sizeof h;
    h.ctx = &mg_st;
    h.scan_roots = mg_host_scan_roots;
    h.start_thread = mg_host_start_thread;
    h.fatal = mg_host_fatal;
    if (mode == MG_COOP) {
        h.stop_world = mg_host_stop_world;
        h.start_world = mg_host_start_world;
        if (!mg_coop_naive) {
            h.gc_acquire = mg_host_gc_acquire;
            h.gc_release = mg_host_gc_release;
        }
    }
    if (gogc_set_host(&h) != 0)
        mg_die("gogc_set_host failed");
}

static void mg_run(void (*idle_hook)(void))
{
    if (mg_mode_v != MG_THREADS) {
        mg_nw_alive = mg_nw;
        for (int i = 0; i < mg_nw; i++) {
            int r = mg_mode_v == MG_SIGNAL
                        ? gogc_pthread_create(&mg_workers[i].thr, NULL, mg_worker_main, &mg_workers[i])
                        : pthread_create(&mg_workers[i].thr, NULL, mg_worker_main, &mg_workers[i]);
            if (r != 0)
                mg_die("cannot create a worker");
        }
    }
    for (;;) {
        pthread_mutex_lock(&mg_rq_mu);
        int live = mg_live;
        pthread_mutex_unlock(&mg_rq_mu);
        if (live == 0)
            break;
        if (idle_hook)
            idle_hook();
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (mg_mode_v != MG_THREADS)
        for (int i = 0; i < mg_nw; i++)
            pthread_join(mg_workers[i].thr, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation and collections. */

/* The host's gc_acquire (MG_COOP): gogc calls it before every collection it starts, from
 * allocation too, holding nothing. A coroutine that finds the semaphore taken yields, so its
 * worker thread reaches a scheduling point and a concurrent stop_world can finish; any other
 * thread (main, the finalizer thread) sleeps briefly. The coroutine may resume on another
 * worker: gogc allows that. */
static void mg_host_gc_acquire(void *ctx)
{
    (void)ctx;
    MG_STAT(gc_acquires);
    for (;;) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&mg_gc_sem, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        MG_STAT(gc_sem_busy);
        if (mg_curg()) {
            mg_yield();
        } else {
            struct timespec ts = {0, 100 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void mg_host_gc_release(void *ctx)
{
    (void)ctx;
    __atomic_store_n(&mg_gc_sem, 0, __ATOMIC_RELEASE);
}

static void *mg_alloc(uintptr_t size, uintptr_t typ, uint32_t flag)
{
    return runtime_mallocgc(size, typ, flag);
}

/* The compiler's entry point for `new(T)`. */
static void *mg_new(const GoType *t) { return runtime_new(t); }

/* ---------------------------------------------------------------------------------------------
 * Channels (Hchan layout; the wait queues hold mg_G pointers, outside the GC heap). */

#define MG_CHBUF(c, i) ((char *)(c) + HCHAN_SIZE + (size_t)(i) * (c)->elemsize)

static void mg_enqueue(void **q, mg_G *g)
{
    g->waitnext = NULL;
    if (q[1])
        ((mg_G *)q[1])->waitnext = g;
    else
        q[0] = g;
    q[1] = g;
}

static mg_G *mg_dequeue(void **q)
{
    mg_G *g = q[0];
    if (g) {
        q[0] = g->waitnext;
        if (!q[0])
            q[1] = NULL;
        g->waitnext = NULL;
    }
    return g;
}

static Hchan *mg_makechan(const GoChanType *t, uintptr_t cap)
{
    const GoType *et = t->__element_type;
    Hchan *c = mg_alloc(HCHAN_SIZE + cap * et->__size, (uintptr_t)t | TypeInfo_Chan, 0);
    c->dataqsiz = cap;
    c->elemsize = (uint16_t)et->__size;
    c->elemtype = et;
    return c;
}

static void mg_send(Hchan *c, const void *elem)
{
    mg_lock(&c->lock);
    if (c->closed)
        mg_die("send on closed channel");
    mg_G *r = mg_dequeue(c->recvq);
    if (r) {
        memcpy(r->waitelem, elem, c->elemsize);
        r->waitok = 1;
        mg_unlock(&c->lock);
        mg_ready(r);
        return;
    }
    if (c->qcount < c->dataqsiz) {
        memcpy(MG_CHBUF(c, c->sendx), elem, c->elemsize);
        if (++c->sendx == c->dataqsiz)
            c->sendx = 0;
        c->qcount++;
        mg_unlock(&c->lock);
        return;
    }
    mg_G *g = mg_curg();
    g->waitelem = (void *)elem;
    g->waitok = 0;
    mg_enqueue(c->sendq, g);
    mg_park(&c->lock);
}

static int mg_recv(Hchan *c, void *out)
{
    mg_lock(&c->lock);
    if (c->qcount > 0) {
        memcpy(out, MG_CHBUF(c, c->recvx), c->elemsize);
        memset(MG_CHBUF(c, c->recvx), 0, c->elemsize);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->qcount--;
        mg_G *s = mg_dequeue(c->sendq);
        if (s) {
            memcpy(MG_CHBUF(c, c->sendx), s->waitelem, c->elemsize);
            if (++c->sendx == c->dataqsiz)
                c->sendx = 0;
            c->qcount++;
            mg_unlock(&c->lock);
            mg_ready(s);
            return 1;
        }
        mg_unlock(&c->lock);
        return 1;
    }
    mg_G *s = mg_dequeue(c->sendq);
    if (s) {
        memcpy(out, s->waitelem, c->elemsize);
        mg_unlock(&c->lock);
        mg_ready(s);
        return 1;
    }
    if (c->closed) {
        memset(out, 0, c->elemsize);
        mg_unlock(&c->lock);
        return 0;
    }
    mg_G *g = mg_curg();
    g->waitelem = out;
    g->waitok = 0;
    mg_enqueue(c->recvq, g);
    mg_park(&c->lock);
    return g->waitok;
}

static void mg_close(Hchan *c)
{
    mg_G *wake = NULL, *r;
    mg_lock(&c->lock);
    if (c->closed)
        mg_die("close of closed channel");
    c->closed = 1;
    while ((r = mg_dequeue(c->recvq)) != NULL) {
        memset(r->waitelem, 0, c->elemsize);
        r->waitok = 0;
        r->waitnext = wake;
        wake = r;
    }
    if (c->sendq[0])
        mg_die("close with blocked senders");
    mg_unlock(&c->lock);
    while (wake) {
        r = wake;
        wake = r->waitnext; /* read before r can run again */
        mg_ready(r);
    }
}
