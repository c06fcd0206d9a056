/*
 * minigo: a miniature gccgo-style runtime in C, for testing gogc's host interface (issue 4).
 *
 * Coroutines ("goroutines") run on their own mmap'd stacks (MG_STACK bytes plus a guard page)
 * and switch with ucontext (makecontext/swapcontext). NWORKERS OS threads ("Ms") take runnable
 * coroutines from one global run queue. Channels use gccgo's Hchan layout (88-byte header, then
 * the buffer) and are allocated with typ = chantype | TypeInfo_Chan, so the collector scans the
 * buffer with the element type's GC program. Blocking and waking happen in the scheduler after
 * the switch ("mcall" style): a coroutine never becomes runnable before its context is saved.
 *
 * Modes (mg_init):
 *  MG_SIGNAL  gogc's built-in stopper (signals to the attached worker threads); minigo
 *             registers a host with scan_roots (coroutine stacks and contexts, worker scheduler
 *             contexts), start_thread and fatal. Allocation may trigger collections anywhere,
 *             on any coroutine stack.
 *  MG_COOP    minigo's own stop_world/start_world: workers park at scheduling points (after a
 *             coroutine switched back, or while idle). A thread blocked inside gogc cannot reach
 *             a scheduling point, so minigo also registers gc_acquire/gc_release: a
 *             coroutine-level GC semaphore that gogc takes before each collection it starts
 *             (allocation-triggered ones included); a coroutine that finds it taken yields
 *             instead of blocking its thread (like gccgo's worldsema, which parks the
 *             goroutine). MINIGO_COOP_NAIVE=1 leaves the semaphore out (experiment: a
 *             collection triggered while another one stops the world deadlocks).
 *  MG_THREADS every coroutine is an OS thread (gogc_pthread_create); no host is registered.
 *             The same workload, for a throughput comparison and as a control.
 *
 * Everything is static: include minigo.c into one test file.
 */
#ifndef MINIGO_H
#define MINIGO_H

#include "gogc.h"
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <ucontext.h>

enum { MG_SIGNAL = 0, MG_COOP = 1, MG_THREADS = 2 };

#define MG_MAXG 4096
#define MG_MAXW 8
#define MG_NROOTS 2

typedef void (*mg_fn)(void *arg);

enum { G_FREE = 0, G_INIT, G_RUNNABLE, G_RUNNING, G_WAITING };

typedef struct mg_G {
    ucontext_t ctx;             /* saved registers and stack pointer while suspended */
    void *roots[MG_NROOTS];     /* heap pointers the runtime holds for this G (its argument) */
    char *stk_lo, *stk_hi;      /* usable stack */
    char *map;                  /* mapping including the guard page */
    size_t maplen;
    int status;                 /* G_* (atomic) */
    int oncpu;                  /* a worker runs it, or is switching to/from it (atomic) */
    int id;
    mg_fn fn;
    /* channel wait state */
    void *waitelem;
    int waitok;
    struct mg_G *waitnext;
    struct mg_G *schednext;
    struct mg_G *freenext;
    /* MG_THREADS */
    sem_t sem;
} mg_G;

enum { AFTER_NONE = 0, AFTER_YIELD, AFTER_PARK, AFTER_EXIT };

typedef struct mg_W {
    int idx;
    pthread_t thr;
    char *os_lo, *os_hi;        /* the worker's own (pthread) stack */
    ucontext_t sched_ctx;       /* the scheduler's context while a coroutine runs */
    ucontext_t park_ctx;        /* MG_COOP: the context saved when parking for a collection */
    mg_G *cur;                  /* the coroutine it runs (atomic) */
    int after;                  /* AFTER_*: what the scheduler does once the switch is done */
    uintptr_t *after_lock;      /* AFTER_PARK: the channel lock to release */
    int parked;                 /* MG_COOP: parked for a collection */
    unsigned long switches;
} mg_W;

typedef struct mg_stats {
    unsigned long switches, gos, parks, host_scans, host_suspended, host_running, coop_stops,
        start_threads, gc_sem_busy, gc_acquires;
} mg_stats;

static void mg_init(int mode, int nworkers, size_t stack_size);
static void mg_go(mg_fn fn, void *arg);
static void mg_yield(void);
static void mg_run(void (*idle_hook)(void)); /* until every coroutine has finished */
static Hchan *mg_makechan(const GoChanType *t, uintptr_t cap);
static void mg_send(Hchan *c, const void *elem);
static int mg_recv(Hchan *c, void *out);    /* 0: closed and empty (out zeroed) */
static void mg_close(Hchan *c);
static void *mg_alloc(uintptr_t size, uintptr_t typ, uint32_t flag);
static void *mg_new(const GoType *t);
static int mg_mode(void);
static mg_stats mg_get_stats(void);

#endif /* MINIGO_H */
