//! Per-thread slots in initial-exec TLS (defined in csrc/helpers.c).
//!
//! Rust's `thread_local!` compiles to `__tls_get_addr` calls inside a shared library, which is
//! slower on the allocation fast path and not async-signal-safe for a dlopen'ed library. These
//! slots are read with one `%fs`-relative load. Each accessor is an `asm!` block without
//! `nomem`, so the compiler does not move ordinary memory accesses across a write: that is what
//! lets the suspend-signal handler (running on the same thread) trust what it reads.

macro_rules! tls_slot {
    ($get:ident, $set:ident, $sym:literal) => {
        #[inline(always)]
        pub fn $get() -> usize {
            let v: usize;
            // SAFETY: reads this thread's initial-exec TLS slot (an 8-byte word).
            unsafe {
                core::arch::asm!(
                    concat!("mov {0}, qword ptr [rip + ", $sym, "@GOTTPOFF]"),
                    "mov {0}, qword ptr fs:[{0}]",
                    out(reg) v,
                    options(nostack, readonly, preserves_flags)
                );
            }
            v
        }

        #[inline(always)]
        pub fn $set(v: usize) {
            // SAFETY: writes this thread's initial-exec TLS slot (an 8-byte word).
            unsafe {
                core::arch::asm!(
                    concat!("mov {t}, qword ptr [rip + ", $sym, "@GOTTPOFF]"),
                    "mov qword ptr fs:[{t}], {v}",
                    t = out(reg) _,
                    v = in(reg) v,
                    options(nostack, preserves_flags)
                );
            }
        }
    };
}

tls_slot!(cache, set_cache, "gogc_tls_cache");
tls_slot!(locks, set_locks, "gogc_tls_locks");
tls_slot!(pending, set_pending, "gogc_tls_pending");
tls_slot!(thread, set_thread, "gogc_tls_thread");

extern "C" {
    // Keep the C object that defines the slots linked in.
    #[allow(dead_code)]
    static gogc_tls_cache: *mut core::ffi::c_void;
}
