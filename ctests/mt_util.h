/*
 * mt_util.h: helpers shared by the multi-threaded collector tests (ctests/t_mt_*.c,
 * ctests/t_minigo.c). Include after testutil.h.
 *
 *  mt_mix(x)              64-bit mixer (splitmix64 finaliser): ids -> payload words, checksums.
 *  mt_scrub_stack()       overwrite a large area below the caller's frame (stale pointers left
 *                         there by deeper calls would otherwise retain garbage; harmless here,
 *                         used to keep retention from hiding bugs in the checks).
 *  mt_sleep_us(us)        nanosleep, restarted on EINTR.
 *  mt_numgc()             runtime_memStats.numgc read atomically (no stop-the-world).
 *  mt_run_self(mode, env, out, cap, &status, timeout_s)
 *                         fork + exec /proc/self/exe with argv = {prog, "--child", mode}, after
 *                         applying env ("NAME=value" sets, "NAME" alone unsets; NULL-terminated).
 *                         The child's stdout and stderr (merged) come back NUL-terminated in out
 *                         (the head is kept if it is longer); *status is the waitpid status. A
 *                         child still running after timeout_s seconds is killed with SIGKILL
 *                         (then the return value is 1; 0 otherwise, -1 if fork/pipe failed).
 *                         A fresh exec is needed for anything the library reads from the
 *                         environment at load time (GODEBUG, GOGC, GOGC_SUSPEND_SIGNAL).
 */
#ifndef GOGC_MT_UTIL_H
#define GOGC_MT_UTIL_H

#include "gogc.h"
#include <pthread.h>

static TU_UNUSED uint64_t mt_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static TU_UNUSED __attribute__((noinline)) void mt_scrub_stack(void)
{
    volatile unsigned char buf[64 * 1024];
    memset((void *)buf, 0, sizeof buf);
    __asm__ volatile("" ::"r"(buf) : "memory");
}

static TU_UNUSED void mt_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static TU_UNUSED uint32_t mt_numgc(void)
{
    return __atomic_load_n(&runtime_memStats.numgc, __ATOMIC_ACQUIRE);
}

static TU_UNUSED int mt_run_self(const char *mode, const char *const *env, char *out, size_t cap,
                                 int *status, int timeout_s)
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
        char *argv[] = {(char *)"mt-child", (char *)"--child", (char *)mode, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    size_t len = 0;
    int killed = 0;
    double deadline = tu_now() + timeout_s;
    for (;;) {
        if (!killed && tu_now() > deadline) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, 200);
        if (r < 0 && errno != EINTR)
            break;
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
        if (len + take > cap - 1)
            take = cap - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
        out[len] = 0;
    }
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return killed;
}

/* Describe a waitpid status ("exit 0", "signal 11 (Segmentation fault)"). */
static TU_UNUSED const char *mt_status_str(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "status %#x", status);
    return buf;
}

#endif /* GOGC_MT_UTIL_H */
