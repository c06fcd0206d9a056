//! The one fatal-error path, and allocation-free printing.
//!
//! gccgo's `runtime_throw("X")` prints `fatal error: X` and never returns. Everything in gogc
//! that Go treats as fatal goes through [`throw`]: it writes the line straight to file
//! descriptor 2 (no buffering, no allocation: the heap may be the thing that is broken) and
//! aborts the process with SIGABRT. Messages that gccgo prints *before* throwing (for example
//! `free 0x...: not an allocated block`) are written with [`rprint!`], which formats into a
//! fixed stack buffer.
//!
//! Recoverable Go panics (`runtime_panicstring`) have no unwinding target in a C program, so
//! [`go_panic`] prints Go's unrecovered-panic line `panic: runtime error: X` and exits with
//! status 2, as an unrecovered Go panic does.

use core::fmt::{self, Write};

/// Writes raw bytes to stderr, retrying on short writes. Never allocates.
pub fn write_stderr(mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: b is a valid readable slice for its whole length.
        let n = unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

/// A fixed-size formatting buffer; output past its capacity is truncated, never allocated.
pub struct StackBuf {
    buf: [u8; 512],
    len: usize,
}

impl StackBuf {
    pub const fn new() -> Self {
        StackBuf { buf: [0; 512], len: 0 }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for StackBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Formats `args` into a stack buffer and writes it to stderr in one `write`.
pub fn print_fmt(args: fmt::Arguments<'_>) {
    let mut b = StackBuf::new();
    let _ = b.write_fmt(args);
    write_stderr(b.as_bytes());
}

/// `print!` to stderr without allocating (runtime_printf's role).
#[macro_export]
macro_rules! rprint {
    ($($t:tt)*) => { $crate::fatal::print_fmt(format_args!($($t)*)) };
}

/// Prints `fatal error: <msg>` and aborts. The single exit for everything Go calls a throw.
#[cold]
#[inline(never)]
pub fn throw(msg: &str) -> ! {
    let mut b = StackBuf::new();
    let _ = b.write_str("fatal error: ");
    let _ = b.write_str(msg);
    let _ = b.write_str("\n");
    write_stderr(b.as_bytes());
    crate::host::on_fatal(msg);
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}

/// An unrecovered Go runtime-error panic: prints `panic: runtime error: <msg>` and exits 2.
#[cold]
#[inline(never)]
pub fn go_panic(msg: &str) -> ! {
    let mut b = StackBuf::new();
    let _ = writeln!(b, "panic: runtime error: {}", msg);
    write_stderr(b.as_bytes());
    // SAFETY: _exit has no preconditions; it skips atexit handlers as a crashing Go program does.
    unsafe { libc::_exit(2) }
}
