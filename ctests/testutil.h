/*
 * testutil.h: tiny helpers for the gogc C tests (ctests/t_*.c).
 *
 *  CHECK(cond, fmt, ...)   record a failure (file:line, the condition and a message) and go on.
 *                          Thread-safe. Prints at most TU_MAX_REPORTS failures, counts all.
 *  test_summary()          print "ok (N checks)" or "FAILED: M of N checks", return the exit status.
 *  expect_fatal(fn, arg, substring, expect)
 *                          run fn(arg) in a forked child with stderr captured; pass when the child's
 *                          stderr contains `substring` and the child ended as `expect` says:
 *                            EXPECT_SIGNAL(SIGABRT)  killed by that signal (the `fatal error:` case)
 *                            EXPECT_EXIT(2)          exited with that status (the `panic:` case)
 *                          A child that outlives TU_FATAL_TIMEOUT seconds is killed and fails.
 *                          The child's stderr stays in tu_child_stderr for further checks.
 *  tu_run_self(mode, env, out, cap, &status, timeout_s)
 *                          re-run this executable (exec of /proc/self/exe, argv {prog, "--child",
 *                          mode}) with env applied, for what the library reads at load time
 *                          (GODEBUG, GOGC, GOGC_SUSPEND_SIGNAL); see its definition.
 *
 * Include this file first: it selects _GNU_SOURCE before any system header.
 */
#ifndef GOGC_TESTUTIL_H
#define GOGC_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TU_MAX_REPORTS 60
#define TU_FATAL_TIMEOUT 30
#define TU_STDERR_MAX (256 * 1024)

/* expect_fatal's last argument: values 1..255 name a signal, 0x100|code an exit status. */
#define EXPECT_SIGNAL(sig) (sig)
#define EXPECT_EXIT(code) (0x100 | ((code) & 0xff))

static unsigned long tu_checks;
static unsigned long tu_failures;
static char tu_child_stderr[TU_STDERR_MAX + 1];
/* Optional name of the current expect_fatal case, included in its failure report. */
static const char *tu_fatal_label;

#define TU_UNUSED __attribute__((unused))

static TU_UNUSED void tu_report(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static TU_UNUSED void tu_report(const char *file, int line, const char *cond, const char *fmt, ...)
{
    unsigned long n = __atomic_add_fetch(&tu_failures, 1, __ATOMIC_SEQ_CST);
    if (n > TU_MAX_REPORTS) {
        if (n == TU_MAX_REPORTS + 1)
            fprintf(stderr, "(further failures are counted but not printed)\n");
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: CHECK(%s) failed: %s\n", file, line, cond, msg);
    fflush(stderr);
}

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        __atomic_add_fetch(&tu_checks, 1, __ATOMIC_RELAXED);               \
        if (!(cond))                                                       \
            tu_report(__FILE__, __LINE__, #cond, __VA_ARGS__);             \
    } while (0)

/* Failures so far (for tests that want to stop a loop after the first problem). */
static TU_UNUSED unsigned long tu_failed(void)
{
    return __atomic_load_n(&tu_failures, __ATOMIC_SEQ_CST);
}

static TU_UNUSED int test_summary(void)
{
    unsigned long c = __atomic_load_n(&tu_checks, __ATOMIC_SEQ_CST);
    unsigned long f = __atomic_load_n(&tu_failures, __ATOMIC_SEQ_CST);
    fflush(stdout);
    if (f == 0) {
        printf("ok (%lu checks)\n", c);
        fflush(stdout);
        return 0;
    }
    printf("FAILED: %lu of %lu checks failed\n", f, c);
    fflush(stdout);
    return 1;
}

static TU_UNUSED double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The exit status used by a child whose fatal function unexpectedly returned. */
#define TU_CHILD_RETURNED 111

static TU_UNUSED int expect_fatal_timeout(void (*fn)(void *), void *arg, const char *expected,
                                          int expect, int timeout_s)
{
    int fds[2];
    tu_child_stderr[0] = 0;
    __atomic_add_fetch(&tu_checks, 1, __ATOMIC_RELAXED);
    if (pipe(fds) != 0) {
        tu_report(__FILE__, __LINE__, "pipe", "pipe: %s", strerror(errno));
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        tu_report(__FILE__, __LINE__, "fork", "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore); /* an expected abort must not write a core file */
        signal(SIGABRT, SIG_DFL);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            close(devnull);
        }
        fn(arg);
        static const char m[] = "expect_fatal: the function returned normally\n";
        ssize_t wr = write(2, m, sizeof m - 1);
        (void)wr;
        _exit(TU_CHILD_RETURNED);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);

    size_t len = 0;
    int timed_out = 0, eof = 0, status = 0;
    double deadline = tu_now() + timeout_s;
    while (!eof) {
        double left = deadline - tu_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int r = poll(&pfd, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n == 0) {
            eof = 1;
        } else if (n > 0) {
            size_t take = (size_t)n;
            if (len + take > TU_STDERR_MAX) {
                /* Keep the head (first lines) and the newest output: drop from the middle. */
                size_t drop = len + take - TU_STDERR_MAX;
                size_t head = TU_STDERR_MAX / 4;
                memmove(tu_child_stderr + head, tu_child_stderr + head + drop, len - head - drop);
                len -= drop;
            }
            memcpy(tu_child_stderr + len, buf, take);
            len += take;
            tu_child_stderr[len] = 0;
        } else if (errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    /* stderr is closed (or we gave up); now reap the child, still under the deadline. */
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            tu_report(__FILE__, __LINE__, "waitpid", "waitpid: %s", strerror(errno));
            close(fds[0]);
            return 0;
        }
        if (timed_out || tu_now() > deadline) {
            timed_out = 1;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(2000);
    }
    close(fds[0]);

    int ok = 1;
    char why[512] = "";
    if (timed_out) {
        ok = 0;
        snprintf(why, sizeof why, "child did not finish within %d s (killed)", timeout_s);
    } else if (expect & 0x100) {
        int code = expect & 0xff;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
            ok = 0;
            if (WIFSIGNALED(status))
                snprintf(why, sizeof why, "expected exit status %d, child was killed by signal %d (%s)",
                         code, WTERMSIG(status), strsignal(WTERMSIG(status)));
            else
                snprintf(why, sizeof why, "expected exit status %d, child exited with %d%s", code,
                         WEXITSTATUS(status),
                         WEXITSTATUS(status) == TU_CHILD_RETURNED ? " (function returned)" : "");
        }
    } else {
        if (!WIFSIGNALED(status) || WTERMSIG(status) != expect) {
            ok = 0;
            if (WIFSIGNALED(status))
                snprintf(why, sizeof why, "expected death by signal %d (%s), got signal %d (%s)",
                         expect, strsignal(expect), WTERMSIG(status), strsignal(WTERMSIG(status)));
            else
                snprintf(why, sizeof why, "expected death by signal %d (%s), child exited with %d%s",
                         expect, strsignal(expect), WEXITSTATUS(status),
                         WEXITSTATUS(status) == TU_CHILD_RETURNED ? " (function returned)" : "");
        }
    }
    if (expected && !strstr(tu_child_stderr, expected)) {
        size_t w = strlen(why);
        snprintf(why + w, sizeof why - w, "%sstderr lacks \"%s\"", w ? "; " : "", expected);
        ok = 0;
    }
    if (!ok) {
        tu_report(__FILE__, __LINE__, "expect_fatal", "%s%s%s\n----- child stderr -----\n%s%s-----",
                  tu_fatal_label ? tu_fatal_label : "", tu_fatal_label ? ": " : "",
                  why, len > 900 ? tu_child_stderr + len - 900 : tu_child_stderr,
                  (len && tu_child_stderr[len - 1] == '\n') ? "" : "\n");
    }
    return ok;
}

static TU_UNUSED int expect_fatal(void (*fn)(void *), void *arg, const char *expected_stderr_substring,
                                  int expect_signal_or_exitcode)
{
    return expect_fatal_timeout(fn, arg, expected_stderr_substring, expect_signal_or_exitcode,
                                TU_FATAL_TIMEOUT);
}

/* ---- small shared utilities ---- */

/* xorshift64* generator; tests print their seed so a failure can be replayed. */
static TU_UNUSED uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Seed from GOGC_TEST_SEED if set, else `dflt`. */
static TU_UNUSED uint64_t tu_seed(uint64_t dflt)
{
    const char *e = getenv("GOGC_TEST_SEED");
    uint64_t s = e && *e ? strtoull(e, NULL, 0) : dflt;
    return s ? s : 0x9E3779B97F4A7C15ULL;
}

/* The value of knob `name` in this process's GODEBUG ("a=1,name=N,..."), or 0 when it is not
 * set. Tests whose expectations depend on the allocator's layout use it: under efence=1 every
 * block is a large object with pages of its own and a freed one is made inaccessible instead of
 * being reused, so per-size-class counters and page reuse say nothing there. */
static TU_UNUSED long tu_godebug(const char *name)
{
    const char *g = getenv("GODEBUG");
    size_t n = strlen(name);
    long v = 0;
    while (g && *g) {
        const char *end = strchr(g, ',');
        size_t len = end ? (size_t)(end - g) : strlen(g);
        if (len > n && strncmp(g, name, n) == 0 && g[n] == '=')
            v = strtol(g + n + 1, NULL, 10); /* the last setting wins, as in the library */
        g = end ? end + 1 : NULL;
    }
    return v;
}

/* Offset of the first non-zero byte in [p, p+n), or -1 if all are zero. */
static TU_UNUSED long tu_first_nonzero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    while (i < n && ((uintptr_t)(b + i) & 7))
        if (b[i++])
            return (long)(i - 1);
    for (; i + 8 <= n; i += 8)
        if (*(const uint64_t *)(const void *)(b + i)) {
            for (size_t j = i; j < i + 8; j++)
                if (b[j])
                    return (long)j;
        }
    for (; i < n; i++)
        if (b[i])
            return (long)i;
    return -1;
}

/* Size-class sizes, libgo-abi.md section 12 (class 0 = large). */
static TU_UNUSED const uintptr_t tu_class_size[67] = {
    0,     8,     16,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1664,  2048,  2304,  2560,  2816,  3072,  3328,  4096,  4608,  5376,  6144,  6400,
    6656,  6912,  8192,  8448,  8704,  9472,  10496, 12288, 13568, 14080, 16384, 16640,
    17664, 20480, 21248, 24576, 24832, 28416, 32768,
};

/* The class size serving a request of n bytes, 1 <= n <= 32768 (by the table, not the library). */
static TU_UNUSED uintptr_t tu_expected_class_size(uintptr_t n)
{
    for (int c = 1; c < 67; c++)
        if (tu_class_size[c] >= n)
            return tu_class_size[c];
    return 0;
}

#define TU_PAGE 8192UL
#define TU_ROUND_PAGE(n) (((n) + TU_PAGE - 1) & ~(TU_PAGE - 1))

/* Re-runs this program as `PROG --child MODE` in a fresh process (so GODEBUG and the other
 * variables in `env`, read at library load, take effect): each "NAME=value" is set and each bare
 * "NAME" unset in the child. Collects its stdout+stderr into `out` (NUL-terminated, truncated to
 * `cap`) and its wait status into `*status`; kills it after `timeout_s` seconds. Returns -1 if it
 * could not be started, 1 if it was killed for the timeout, else 0. */
static TU_UNUSED int tu_run_self(const char *mode, const char *const *env, char *out, size_t cap, int *status,
                                 int timeout_s)
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
        char *argv[] = {(char *)"child", (char *)"--child", (char *)mode, NULL};
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

#endif /* GOGC_TESTUTIL_H */
