/*
 * t_gc_util.h: helpers shared by the collector tests (ctests/t_gc_*.c). Include after testutil.h.
 *
 *  gc_scrub_stack()      overwrite a large area below the caller's frame, so that stale copies
 *                        of pointers left there by earlier (deeper) calls cannot retain objects
 *                        when the collector scans this thread's stack conservatively.
 *  gc_full()             scrub, then runtime_GC() (force 2: mark, then sweep everything).
 *  gc_stats(&m)          runtime_ReadMemStats (exact).
 *  gc_hide(p)/unhide(h)  keep a heap address in a form that is never a heap address, so that the
 *                        bookkeeping of a test can never keep its own objects alive.
 *  gc_large_live(p)      1 while the large object at p is allocated: its pages form an in-use
 *                        span, so runtime_mlookup finds it; once the collector frees it the span
 *                        is gone (as long as nothing was allocated since, the pages cannot have
 *                        been reused). Used to tell, per object, whether a collection freed it.
 *  gc_run_self(mode, env, out, outcap, &status)
 *                        run this same executable again (fork + exec of /proc/self/exe) with
 *                        argv[1] = "--child", argv[2] = mode, after applying env ("NAME=value" sets,
 *                        "NAME" alone unsets; NULL-terminated). Returns the child's stdout+stderr
 *                        (merged, NUL-terminated) in out; status is the waitpid status. A fresh exec
 *                        is needed because GOGC and GODEBUG are read once per process.
 */
#ifndef GOGC_T_GC_UTIL_H
#define GOGC_T_GC_UTIL_H

#include "gogc.h"

#define GC_HIDE_MASK 0xA5A5000000000000ULL /* the top bits make it a non-canonical address */

static TU_UNUSED uint64_t gc_hide(const void *p) { return (uint64_t)(uintptr_t)p ^ GC_HIDE_MASK; }
static TU_UNUSED void *gc_unhide(uint64_t h) { return (void *)(uintptr_t)(h ^ GC_HIDE_MASK); }

static TU_UNUSED __attribute__((noinline)) void gc_scrub_stack(void)
{
    volatile unsigned char buf[256 * 1024];
    memset((void *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

static TU_UNUSED __attribute__((noinline)) void gc_full(void)
{
    gc_scrub_stack();
    runtime_GC();
}

static TU_UNUSED __attribute__((noinline)) void gc_force(int force)
{
    gc_scrub_stack();
    runtime_gc(force);
}

static TU_UNUSED void gc_stats(MStats *m)
{
    memset(m, 0, sizeof *m);
    runtime_ReadMemStats(m);
}

static TU_UNUSED int gc_large_live(const void *p)
{
    uint8_t *base = NULL;
    uintptr_t size = 0;
    MSpan *s = NULL;
    return runtime_mlookup((void *)p, &base, &size, &s) == 1;
}

static TU_UNUSED int gc_run_self(const char *mode, const char *const *env, char *out, size_t outcap,
                                 int *status)
{
    int fds[2];
    out[0] = 0;
    *status = -1;
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[1]);
        for (const char *const *e = env; e && *e; e++) {
            const char *eq = strchr(*e, '=');
            if (eq) {
                char name[128];
                size_t n = (size_t)(eq - *e);
                if (n >= sizeof name)
                    n = sizeof name - 1;
                memcpy(name, *e, n);
                name[n] = 0;
                setenv(name, eq + 1, 1);
            } else {
                unsetenv(*e);
            }
        }
        char *argv[] = {(char *)"gc-child", (char *)"--child", (char *)mode, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    double deadline = tu_now() + 60;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (tu_now() > deadline) {
            kill(pid, SIGKILL);
            break;
        }
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        size_t take = (size_t)n;
        if (len + take > outcap - 1)
            take = outcap - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
        out[len] = 0;
    }
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

/* A GoType with the given kind code, size and GC program. */
static TU_UNUSED void gc_init_type(GoType *t, uint8_t code, uintptr_t size, const uintptr_t *prog)
{
    memset(t, 0, sizeof *t);
    t->__code = code;
    t->__align = 8;
    t->__field_align = 8;
    t->__size = size;
    t->__hash = (uint32_t)(size * 2654435761u) ^ code;
    t->__gc = prog;
}

#endif /* GOGC_T_GC_UTIL_H */
