/*
 * t_suspend_signal: GOGC_SUSPEND_SIGNAL values that are not real-time signals are ignored
 * (found by fuzz/env.c).
 *
 * README: GOGC_SUSPEND_SIGNAL is "the real-time signal used to stop threads". gogc used to take
 * any number in 1..SIGRTMAX: with 9 (SIGKILL) sigaction failed silently and the first
 * stop-the-world killed the process; with 11 it took over SIGSEGV; with 1 SIGHUP.
 *
 * For each value a child is re-executed with it; the child attaches a second thread (so that
 * every collection really sends the suspend signal), runs collections, and checks that gogc's
 * handler is on SIGRTMIN+6 (the default) and not on the classic signal the value named. A
 * value inside SIGRTMIN..SIGRTMAX (SIGRTMIN+3) is still honoured.
 */
#include "testutil.h"
#include <pthread.h>

#include "gogc.h"

static int stop_idle;

static void *idle_thread(void *arg)
{
    (void)arg;
    void *volatile keep = __go_alloc(64); /* attached, holds a heap pointer */
    while (!__atomic_load_n(&stop_idle, __ATOMIC_ACQUIRE))
        usleep(1000);
    (void)keep;
    return NULL;
}

static int handler_installed(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0)
        return 0;
    return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL
                                      : (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
}

static int child(void)
{
    const char *e = getenv("GOGC_SUSPEND_SIGNAL");
    int n = e ? atoi(e) : 0;
    int rt = n >= SIGRTMIN && n <= SIGRTMAX;
    int want = rt ? n : SIGRTMIN + 6;
    pthread_t th;
    CHECK(gogc_pthread_create(&th, NULL, idle_thread, NULL) == 0, "gogc_pthread_create failed");
    usleep(20000);
    for (int i = 0; i < 5; i++)
        runtime_gc(1);
    __atomic_store_n(&stop_idle, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    CHECK(handler_installed(want), "GOGC_SUSPEND_SIGNAL=%s: no handler on signal %d", e ? e : "(unset)", want);
    if (!rt && n > 0 && n < SIGRTMIN && n != SIGKILL && n != SIGSTOP)
        CHECK(!handler_installed(n), "GOGC_SUSPEND_SIGNAL=%s: gogc took over classic signal %d", e, n);
    return test_summary();
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "sig") == 0)
        return child();
    char rtv[16];
    snprintf(rtv, sizeof rtv, "%d", SIGRTMIN + 3);
    const char *vals[] = {"9", "1", "11", "0", "-5", "abc", "4294967305" /* 9 mod 2^32 */, rtv};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char env[64];
        snprintf(env, sizeof env, "GOGC_SUSPEND_SIGNAL=%s", vals[i]);
        const char *envv[] = {env, NULL};
        static char out[1 << 14];
        int status = 0;
        int killed = tu_run_self("sig", envv, out, sizeof out, &status, 30);
        CHECK(!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child with %s: %s %d%s; its output:\n%s", env, WIFSIGNALED(status) ? "killed by signal" : "exit status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), killed ? " (timed out)" : "", out);
    }
    printf("t_suspend_signal\n");
    return test_summary();
}
