//! # gogc
//!
//! gccgo's garbage-collected memory manager (the GCC 6 libgo `mgc0.c`, `malloc.goc`, `mheap.c`,
//! `mcentral.c`, `mcache.c`, `msize.c`) rebuilt in Rust and exported through a C ABI:
//! `libgogc.so`, `libgogc.a` and the generated header `include/gogc.h`.
//!
//! ## Layers
//! Mechanism, bottom up (each depends only on those above it in this list):
//! * [`fatal`], [`sync`], [`config`], [`os`]: the fatal-error path, locks, constants and
//!   GODEBUG, anonymous mappings.
//! * [`sizeclass`]: the 67 size classes and lookup tables (computed at compile time).
//! * [`heap`]: arena reservation and layout, the spans map, span records, the page heap with
//!   coalescing, persistent/fixed-size/internal metadata allocators.
//! * [`bitmap`]: the 4-bits-per-word heap bitmap codec.
//! * [`alloc`]: central per-class span lists, per-thread caches (lock-free fast path through an
//!   initial-exec TLS slot), per-object type records, mallocgc / free / mlookup.
//!
//! Policy sits on top and reaches down only: the collector is attached to the allocator through
//! [`collector_hooks`], so the allocator never names collector modules.
//!
//! [`ffi`] holds every exported symbol (gccgo's exact names, dotted ones included) and no logic.
//!
//! ## Conventions
//! * Every `unsafe` block carries a `SAFETY:` line naming the invariant it relies on.
//! * Every shared field's comment says what protects it (a lock, the world being stopped,
//!   atomics, or single ownership by a thread).
//! * Nothing unwinds: `panic = "abort"`; protocol violations go through [`fatal::throw`], which
//!   prints `fatal error: <message>` exactly as gccgo's `runtime_throw` does.
//! * The library never calls the C `malloc`: its own metadata comes from [`heap::internal`].

#![deny(unsafe_op_in_unsafe_fn)]

#![allow(clippy::missing_safety_doc)]
// `x % n == 0` stays: `is_multiple_of` needs Rust 1.87, and the crate builds with older stable.
#![allow(clippy::manual_is_multiple_of)]

/// All Rust-side allocation inside the library (crossbeam's queues, thread-local records) uses
/// the internal metadata allocator: never the C malloc, which gogc may replace, and which a
/// thread stopped by the collector may hold locked.
#[global_allocator]
static INTERNAL_ALLOCATOR: heap::internal::InternalAllocator = heap::internal::InternalAllocator;

pub mod fatal;
pub mod sync;
pub mod tls;
pub mod config;
pub mod os;
pub mod sizeclass;
pub mod heap;
pub mod bitmap;
pub mod alloc;
pub mod stats;
pub mod collector_hooks;
pub mod gc;
pub mod threads;
pub mod host;
pub mod ffi;
#[doc(hidden)]
pub mod bench_api;
