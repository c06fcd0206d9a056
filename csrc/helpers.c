/*
 * gogc C helpers: the few things Rust cannot express on stable.
 *
 *  - gogc_with_spilled_registers: store every callee-saved register into this frame, then call
 *    back with the address of that spill area, so a conservative scan from there to the stack
 *    base sees pointers that live only in registers.
 *  - gogc_call_funcval_*: call a gccgo func value with the FuncVal pointer in the static chain
 *    register (%r10 on x86-64), as gccgo-compiled closures expect.
 *  - gogc_tls_*: per-thread slots (allocation cache, critical-section depth, pending suspend,
 *    thread record) in the initial-exec TLS model, so Rust reads them with one %fs-relative load
 *    even inside libgogc.so, and so the suspend-signal handler can read them safely.
 */
#include <stdint.h>
#include <stddef.h>

__thread void *gogc_tls_cache __attribute__((tls_model("initial-exec"))) = 0;
/* Depth of internal critical sections (locks held, allocation in progress) and a flag set by
 * the suspend-signal handler when a stop request had to wait for that depth to reach zero. */
__thread uintptr_t gogc_tls_locks __attribute__((tls_model("initial-exec"))) = 0;
__thread uintptr_t gogc_tls_pending __attribute__((tls_model("initial-exec"))) = 0;
/* This thread's record in the attached-thread registry (threads.rs). */
__thread void *gogc_tls_thread __attribute__((tls_model("initial-exec"))) = 0;

typedef void (*gogc_scan_fn)(uintptr_t sp, void *arg);

__attribute__((noinline)) void gogc_with_spilled_registers(gogc_scan_fn fn, void *arg)
{
    volatile uintptr_t regs[8];
#if defined(__x86_64__)
    __asm__ volatile(
        "movq %%rbx, 0(%0)\n\t"
        "movq %%rbp, 8(%0)\n\t"
        "movq %%r12, 16(%0)\n\t"
        "movq %%r13, 24(%0)\n\t"
        "movq %%r14, 32(%0)\n\t"
        "movq %%r15, 40(%0)\n\t"
        "movq %%rsp, 48(%0)\n\t"
        : : "r"(regs) : "memory");
#else
    __builtin_unwind_init();
#endif
    fn((uintptr_t)&regs[0], arg);
    __asm__ volatile("" : : "r"(regs) : "memory");
}

typedef struct { void (*fn)(void); } FuncVal;
typedef struct { const void *t; void *v; } gogc_pair;

#if defined(__GNUC__) && !defined(__clang__)
#define CALL_CHAIN(call, fv) __builtin_call_with_static_chain(call, (void *)(fv))
#else
#error "gogc needs GCC's __builtin_call_with_static_chain to call gccgo func values"
#endif

void gogc_call_funcval0(const FuncVal *fv)
{
    void (*f)(void) = (void (*)(void))fv->fn;
    CALL_CHAIN(f(), fv);
}

void gogc_call_funcval_ptr(const FuncVal *fv, void *p)
{
    void (*f)(void *) = (void (*)(void *))fv->fn;
    CALL_CHAIN(f(p), fv);
}

void gogc_call_funcval_pair(const FuncVal *fv, const void *t, void *v)
{
    gogc_pair a = { t, v };
    void (*f)(gogc_pair) = (void (*)(gogc_pair))fv->fn;
    CALL_CHAIN(f(a), fv);
}

/* libgo's interface conversion and type equality, when gogc is linked into a gccgo runtime.
 * Weak: a standalone program has neither, and gogc falls back to its own type comparison and
 * reports non-empty-interface finalizers as unconvertible. */
extern const void *__go_convert_interface_2(const void *lhs, const void *rhs, _Bool may_fail)
    __attribute__((weak));
extern _Bool __go_type_descriptors_equal(const void *a, const void *b) __attribute__((weak));

const void *gogc_convert_interface(const void *iface_type, const void *obj_type)
{
    if (!__go_convert_interface_2)
        return 0;
    return __go_convert_interface_2(iface_type, obj_type, 1);
}

int gogc_have_type_equal(void) { return __go_type_descriptors_equal != 0; }

_Bool gogc_type_equal(const void *a, const void *b)
{
    return __go_type_descriptors_equal(a, b);
}
