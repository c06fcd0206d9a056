//! The operating-system layer: anonymous mappings and their accounting (gccgo's mem.c role,
//! libgo-abi.md §4.3).
//!
//! Every function takes an optional `stat` counter (a `u64` inside MStats, or a caller's own
//! counter) and adjusts it atomically, because callers outside the memory manager pass their own
//! counters and may run concurrently. Arena memory is reserved PROT_NONE up front and committed
//! with `mprotect` as the heap grows ([`sys_map`]), so a large reservation costs no commit charge
//! even under strict overcommit accounting.

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::fatal::throw;

/// Adds `n` to `*stat` atomically; `stat` may be null.
// The pointer comes from gccgo's API (runtime_SysAlloc's contract makes it a valid counter).
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[inline]
pub fn stat_add(stat: *mut u64, n: u64) {
    if !stat.is_null() {
        // SAFETY: callers pass a valid, 8-byte-aligned u64 that lives as long as the process
        // (an MStats field or a caller-owned counter, per runtime_SysAlloc's contract).
        unsafe { AtomicU64::from_ptr(stat) }.fetch_add(n, Ordering::Relaxed);
    }
}

// As for stat_add.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[inline]
pub fn stat_sub(stat: *mut u64, n: u64) {
    if !stat.is_null() {
        // SAFETY: as in stat_add.
        unsafe { AtomicU64::from_ptr(stat) }.fetch_sub(n, Ordering::Relaxed);
    }
}

fn errno() -> i32 {
    // SAFETY: __errno_location always returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// `runtime_SysAlloc`: a fresh zeroed read-write mapping, or null. EACCES and EAGAIN print
/// gccgo's explanations and exit(2).
pub fn sys_alloc(n: usize, stat: *mut u64) -> *mut u8 {
    // SAFETY: anonymous private mapping with no address hint; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            n,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_ANON | libc::MAP_PRIVATE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        match errno() {
            libc::EACCES => {
                crate::rprint!("runtime: mmap: access denied\n");
                crate::rprint!("if you're running SELinux, enable execmem for this process.\n");
                // SAFETY: exit has no preconditions.
                unsafe { libc::exit(2) }
            }
            libc::EAGAIN => {
                crate::rprint!("runtime: mmap: too much locked memory (check 'ulimit -l').\n");
                // SAFETY: exit has no preconditions.
                unsafe { libc::exit(2) }
            }
            _ => return ptr::null_mut(),
        }
    }
    stat_add(stat, n as u64);
    p.cast()
}

/// `runtime_SysFree`.
pub fn sys_free(v: *mut u8, n: usize, stat: *mut u64) {
    stat_sub(stat, n as u64);
    // SAFETY: the caller hands back a mapping it obtained from sys_alloc with this length.
    unsafe { libc::munmap(v.cast(), n) };
}

/// `runtime_SysUnused`: tell the kernel the pages' contents are no longer needed.
pub fn sys_unused(v: *mut u8, n: usize) {
    // SAFETY: the range lies inside a mapping we own; MADV_DONTNEED only drops contents.
    unsafe { libc::madvise(v.cast(), n, libc::MADV_DONTNEED) };
}

/// `runtime_SysUsed`: nothing to do on Linux (pages come back zeroed on first touch).
pub fn sys_used(_v: *mut u8, _n: usize) {}

/// `runtime_SysFault`: make the range inaccessible (efence).
pub fn sys_fault(v: *mut u8, n: usize) {
    // SAFETY: the range lies inside the arena reservation, which we own.
    unsafe { libc::mprotect(v.cast(), n, libc::PROT_NONE) };
    sys_unused(v, n);
}

/// Reserves `n` bytes of address space (PROT_NONE, no commit charge), preferring `hint`.
pub fn sys_reserve(hint: usize, n: usize) -> *mut u8 {
    // SAFETY: a PROT_NONE anonymous mapping; with a hint but without MAP_FIXED, existing
    // mappings are never replaced.
    let p = unsafe {
        libc::mmap(
            hint as *mut libc::c_void,
            n,
            libc::PROT_NONE,
            libc::MAP_ANON | libc::MAP_PRIVATE | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// `runtime_SysMap`: commit part of a reservation read-write.
pub fn sys_map(v: *mut u8, n: usize, stat: *mut u64) {
    stat_add(stat, n as u64);
    // SAFETY: the range lies inside a reservation made by sys_reserve.
    let r = unsafe { libc::mprotect(v.cast(), n, libc::PROT_READ | libc::PROT_WRITE) };
    if r != 0 {
        if errno() == libc::ENOMEM {
            throw("runtime: out of memory");
        }
        throw("runtime: cannot map pages in arena address space");
    }
}

pub fn os_page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Monotonic clock in nanoseconds (runtime_nanotime).
pub fn nanotime() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Wall clock in Unix nanoseconds (runtime_unixnanotime).
pub fn unixnanotime() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

pub fn ncpu() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as usize
    }
}
