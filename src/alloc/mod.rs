//! The object allocator above the page heap: central per-class span lists, per-thread caches,
//! per-object type records, and the mallocgc entry points.

pub mod malloc;
pub mod mcache;
pub mod mcentral;
pub mod specials;
pub mod sweep;
pub mod typeinfo;
