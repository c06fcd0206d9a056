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
 *  (tu_run_self, to re-run this program in a fresh child, is in testutil.h.)
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
