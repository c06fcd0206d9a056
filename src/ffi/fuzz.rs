//! Entry points for the libFuzzer harnesses (`fuzz/`), built only with the `fuzzing` feature
//! and kept out of `include/gogc.h` (the harnesses declare them). Each runs the library's own
//! parser on the given bytes, without reading or changing the environment or global state.

use crate::config::{self, GODEBUG_KNOBS};

/// The bytes `[p, p+n)` (an empty slice for NULL or 0).
///
/// # Safety
/// `p` must point to `n` readable bytes when it is non-null.
unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if p.is_null() || n == 0 {
        return &[];
    }
    // SAFETY: the caller passes n readable bytes at p.
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// GOGC value for the environment string `[p, p+n)`, or for an unset GOGC when `present` is 0.
#[no_mangle]
pub unsafe extern "C" fn gogc_fuzz_parse_gogc(p: *const u8, n: usize, present: i32) -> i64 {
    // SAFETY: forwarded obligation.
    let v = unsafe { bytes(p, n) };
    crate::gc::parse_gogc(if present != 0 { Some(v) } else { None })
}

/// gccgo's `runtime_atoi` on `[p, p+n)`.
#[no_mangle]
pub unsafe extern "C" fn gogc_fuzz_atoi(p: *const u8, n: usize) -> i64 {
    // SAFETY: forwarded obligation.
    config::atoi(unsafe { bytes(p, n) })
}

/// Parses the GODEBUG string `[p, p+n)` into `out` (`nout` values, in the order of
/// `config::GODEBUG_NAMES`; entries the string does not set keep what the caller put there).
/// Returns the number of knobs; writes nothing when `nout` is smaller.
#[no_mangle]
pub unsafe extern "C" fn gogc_fuzz_parse_godebug(p: *const u8, n: usize, out: *mut i64, nout: usize) -> usize {
    if out.is_null() || nout < GODEBUG_KNOBS {
        return GODEBUG_KNOBS;
    }
    // SAFETY: the caller passes nout >= GODEBUG_KNOBS writable values at out.
    let vals = unsafe { &mut *(out as *mut [i64; GODEBUG_KNOBS]) };
    // SAFETY: forwarded obligation.
    config::parse_godebug_values(unsafe { bytes(p, n) }, vals);
    GODEBUG_KNOBS
}

/// Name of GODEBUG knob `i` (NUL-terminated), or NULL past the last one.
#[no_mangle]
pub extern "C" fn gogc_fuzz_godebug_name(i: usize) -> *const u8 {
    const NAMES: [&[u8]; GODEBUG_KNOBS] =
        [b"gctrace\0", b"efence\0", b"allocfreetrace\0", b"checkmark\0", b"clobberfree\0", b"stress\0", b"gcprocs\0"];
    match NAMES.get(i) {
        Some(n) => {
            debug_assert_eq!(&n[..n.len() - 1], config::GODEBUG_NAMES[i].as_bytes());
            n.as_ptr()
        }
        None => core::ptr::null(),
    }
}

/// Suspend signal chosen for the `GOGC_SUSPEND_SIGNAL` string `[p, p+n)` (unset when `present`
/// is 0).
#[no_mangle]
pub unsafe extern "C" fn gogc_fuzz_parse_suspend_signal(p: *const u8, n: usize, present: i32) -> i32 {
    // SAFETY: forwarded obligation.
    let v = unsafe { bytes(p, n) };
    crate::threads::parse_suspend_signal(if present != 0 { Some(v) } else { None })
}
