/*
 * fuzz/env.c: libFuzzer harness for gogc's environment parsing (GOGC, GODEBUG,
 * GOGC_SUSPEND_SIGNAL). The environment is read once at initialisation, so the library built
 * with `--features fuzzing` exports gogc_fuzz_* entry points that run the very parsers the
 * initialisation uses on given bytes (declared here: they are not part of gogc.h).
 *
 * Arbitrary bytes must never crash a parser, and each result is checked against this file's
 * own reading of the semantics README.md documents (a differential check):
 *   GOGC                 unset or empty -> 100; exactly "off" -> -1; anything else -> its
 *                        leading decimal digits (no sign: "-1", "abc" -> 0). Digits past what
 *                        an int64 holds wrap (gccgo's runtime_atoi does no overflow check).
 *   GODEBUG              comma-separated name=value items; the name is what precedes the
 *                        item's first '=', the value (read like GOGC's digits) what follows;
 *                        unknown names and items without '=' are ignored; a later item wins;
 *                        "gccheckmark" is an alias of "checkmark".
 *   GOGC_SUSPEND_SIGNAL  "the real-time signal used to stop threads": the leading digits when
 *                        they name a real-time signal (SIGRTMIN..SIGRTMAX), else the default
 *                        SIGRTMIN+6.
 *
 * Input: byte 0 picks the variable (bits 0-1: 0 GOGC, 1 GODEBUG, 2 GOGC_SUSPEND_SIGNAL,
 * 3 all three on the same bytes; bit 2: the variable is unset), the rest is the value.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gogc.h"

/* Fuzzing-only exports of libgogc (src/ffi/fuzz.rs). */
int64_t gogc_fuzz_parse_gogc(const uint8_t *p, size_t n, int32_t present);
int64_t gogc_fuzz_atoi(const uint8_t *p, size_t n);
size_t gogc_fuzz_parse_godebug(const uint8_t *p, size_t n, int64_t *out, size_t nout);
const char *gogc_fuzz_godebug_name(size_t i);
int32_t gogc_fuzz_parse_suspend_signal(const uint8_t *p, size_t n, int32_t present);

#define NKNOBS 7
static const char *const knob_names[NKNOBS] = {"gctrace",     "efence", "allocfreetrace", "checkmark",
                                               "clobberfree", "stress", "gcprocs"};

static void fail(const char *what, const uint8_t *p, size_t n, long long got, long long want)
{
    fprintf(stderr, "env fuzz: %s: got %lld, expected %lld for %zu bytes:", what, got, want, n);
    for (size_t i = 0; i < n && i < 200; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "\n");
    abort();
}

/* Leading decimal digits, wrapping modulo 2^64 like an int64 that overflows. */
static int64_t model_atoi(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    return (int64_t)v;
}

static int64_t model_gogc(const uint8_t *p, size_t n, int present)
{
    if (!present || n == 0)
        return 100;
    if (n == 3 && memcmp(p, "off", 3) == 0)
        return -1;
    return model_atoi(p, n);
}

static void model_godebug(const uint8_t *p, size_t n, int64_t *vals)
{
    size_t start = 0;
    while (start <= n) {
        size_t end = start;
        while (end < n && p[end] != ',')
            end++;
        const uint8_t *item = p + start;
        size_t len = end - start;
        const uint8_t *eq = len ? memchr(item, '=', len) : NULL;
        if (eq) {
            size_t klen = (size_t)(eq - item), vlen = len - klen - 1;
            const char *key = (const char *)item;
            if (klen == 11 && memcmp(key, "gccheckmark", 11) == 0) {
                key = "checkmark";
                klen = 9;
            }
            for (int k = 0; k < NKNOBS; k++)
                if (strlen(knob_names[k]) == klen && memcmp(key, knob_names[k], klen) == 0)
                    vals[k] = model_atoi(eq + 1, vlen);
        }
        start = end + 1;
    }
}

static int32_t model_suspend(const uint8_t *p, size_t n, int present)
{
    int32_t def = SIGRTMIN + 6;
    if (!present)
        return def;
    int32_t s = (int32_t)model_atoi(p, n);
    return s >= SIGRTMIN && s <= SIGRTMAX ? s : def;
}

static void check_gogc(const uint8_t *p, size_t n, int present)
{
    int64_t got = gogc_fuzz_parse_gogc(p, n, present), want = model_gogc(p, n, present);
    if (got != want)
        fail("GOGC", p, n, got, want);
    int64_t a = gogc_fuzz_atoi(p, n), wa = model_atoi(p, n);
    if (a != wa)
        fail("atoi", p, n, a, wa);
}

static void check_godebug(const uint8_t *p, size_t n, int present)
{
    /* Start from distinct values so "left alone" is told apart from "set to 0". */
    int64_t got[NKNOBS + 1], want[NKNOBS];
    for (int k = 0; k < NKNOBS; k++)
        got[k] = want[k] = 1000003 * (k + 1);
    got[NKNOBS] = 0x5a5a;
    if (gogc_fuzz_parse_godebug(p, n, got, 2) != NKNOBS) /* too small: must write nothing */
        fail("GODEBUG knob count", p, n, -1, NKNOBS);
    for (int k = 0; k < NKNOBS; k++)
        if (got[k] != want[k])
            fail("GODEBUG wrote into a too-small array", p, n, got[k], want[k]);
    if (present) {
        gogc_fuzz_parse_godebug(p, n, got, NKNOBS);
        model_godebug(p, n, want);
    }
    if (got[NKNOBS] != 0x5a5a)
        fail("GODEBUG wrote past the array", p, n, got[NKNOBS], 0x5a5a);
    for (int k = 0; k < NKNOBS; k++)
        if (got[k] != want[k]) {
            fprintf(stderr, "GODEBUG knob %s:\n", knob_names[k]);
            fail("GODEBUG", p, n, got[k], want[k]);
        }
}

static void check_suspend(const uint8_t *p, size_t n, int present)
{
    int32_t got = gogc_fuzz_parse_suspend_signal(p, n, present), want = model_suspend(p, n, present);
    if (got != want)
        fail("GOGC_SUSPEND_SIGNAL", p, n, got, want);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < NKNOBS; i++) {
        const char *n = gogc_fuzz_godebug_name(i);
        if (!n || strcmp(n, knob_names[i]) != 0) {
            fprintf(stderr, "env fuzz: knob %zu is %s, expected %s\n", i, n ? n : "(null)", knob_names[i]);
            abort();
        }
    }
    if (gogc_fuzz_godebug_name(NKNOBS) != NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int which = data[0] & 3, present = !(data[0] & 4);
    /* A private copy of exactly the value bytes, so ASan sees any read past its end. */
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, data + 1, n);
    if (which == 0 || which == 3)
        check_gogc(p, n, present);
    if (which == 1 || which == 3)
        check_godebug(p, n, present);
    if (which == 2 || which == 3)
        check_suspend(p, n, present);
    free(p);
    return 0;
}
