//! `#[repr(C)]` mirrors of the contract's data shapes (libgo-abi.md §7, §9, §10, §11.9), with
//! compile-time size and offset checks. Field names are gccgo's, so C code written against
//! libgo's headers reads the same in `gogc.h`.

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

use core::mem::{offset_of, size_of};

/// One registered global: `{decl, size}`; the list ends with `decl == NULL`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct root_entry {
    pub decl: *mut core::ffi::c_void,
    pub size: usize,
}

/// The compiler-emitted root list: a `next` link written by `__go_register_gc_roots`, then a
/// NULL-terminated array of entries.
#[repr(C)]
pub struct root_list {
    pub next: *mut root_list,
    pub roots: [root_entry; 0],
}

/// A gccgo func value: the code pointer, closure data following.
#[repr(C)]
pub struct FuncVal {
    pub r#fn: Option<unsafe extern "C" fn()>,
}

/// Go `string`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoString {
    pub str: *const u8,
    pub len: isize,
}

/// Go slice (`struct __go_open_array`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoSlice {
    pub __values: *mut core::ffi::c_void,
    pub __count: isize,
    pub __capacity: isize,
}

/// Empty interface (`struct __go_empty_interface`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoEface {
    pub __type_descriptor: *const GoType,
    pub __object: *mut core::ffi::c_void,
}

/// Non-empty interface (`struct __go_interface`): `__methods[0]` is the dynamic type.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GoIface {
    pub __methods: *const *const core::ffi::c_void,
    pub __object: *mut core::ffi::c_void,
}

/// `struct __go_uncommon_type`.
#[repr(C)]
pub struct GoUncommonType {
    pub __name: *const GoString,
    pub __pkg_path: *const GoString,
    pub __methods: GoSlice,
}

/// `struct __go_type_descriptor` (72 bytes).
#[repr(C)]
pub struct GoType {
    pub __code: u8,
    pub __align: u8,
    pub __field_align: u8,
    pub __size: usize,
    pub __hash: u32,
    pub __hashfn: *const FuncVal,
    pub __equalfn: *const FuncVal,
    pub __gc: *const usize,
    pub __reflection: *const GoString,
    pub __uncommon: *const GoUncommonType,
    pub __pointer_to_this: *const GoType,
}

#[repr(C)]
pub struct GoPtrType {
    pub __common: GoType,
    pub __element_type: *const GoType,
}

#[repr(C)]
pub struct GoChanType {
    pub __common: GoType,
    pub __element_type: *const GoType,
    pub __dir: usize,
}

#[repr(C)]
pub struct GoFuncType {
    pub __common: GoType,
    pub __dotdotdot: bool,
    pub __in: GoSlice,
    pub __out: GoSlice,
}

#[repr(C)]
pub struct GoInterfaceType {
    pub __common: GoType,
    pub __methods: GoSlice,
}

#[repr(C)]
pub struct GoSliceType {
    pub __common: GoType,
    pub __element_type: *const GoType,
}

#[repr(C)]
pub struct GoArrayType {
    pub __common: GoType,
    pub __element_type: *const GoType,
    pub __slice_type: *const GoType,
    pub __len: usize,
}

#[repr(C)]
pub struct GoMapType {
    pub __common: GoType,
    pub __key_type: *const GoType,
    pub __val_type: *const GoType,
}

/// Channel header (chan.h); the buffer follows it. The collector reads `dataqsiz` only.
#[repr(C)]
pub struct Hchan {
    pub qcount: usize,
    pub dataqsiz: usize,
    pub elemsize: u16,
    pub pad: u16,
    pub closed: bool,
    pub elemtype: *const GoType,
    pub sendx: usize,
    pub recvx: usize,
    pub recvq: [*mut core::ffi::c_void; 2],
    pub sendq: [*mut core::ffi::c_void; 2],
    pub lock: usize,
}

/// One `by_size` row of MStats.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MStatsBySize {
    pub size: u32,
    pub nmalloc: u64,
    pub nfree: u64,
}

/// gccgo's `struct MStats` (5920 bytes; the first 5776 are Go's `runtime.MemStats`).
#[repr(C)]
pub struct MStats {
    pub alloc: u64,
    pub total_alloc: u64,
    pub sys: u64,
    pub nlookup: u64,
    pub nmalloc: u64,
    pub nfree: u64,
    pub heap_alloc: u64,
    pub heap_sys: u64,
    pub heap_idle: u64,
    pub heap_inuse: u64,
    pub heap_released: u64,
    pub heap_objects: u64,
    pub stacks_inuse: u64,
    pub stacks_sys: u64,
    pub mspan_inuse: u64,
    pub mspan_sys: u64,
    pub mcache_inuse: u64,
    pub mcache_sys: u64,
    pub buckhash_sys: u64,
    pub gc_sys: u64,
    pub other_sys: u64,
    pub next_gc: u64,
    pub last_gc: u64,
    pub pause_total_ns: u64,
    pub pause_ns: [u64; 256],
    pub pause_end: [u64; 256],
    pub numgc: u32,
    pub gc_cpu_fraction: f64,
    pub enablegc: bool,
    pub debuggc: bool,
    pub by_size: [MStatsBySize; 67],
}

impl MStats {
    pub const fn zeroed() -> MStats {
        MStats {
            alloc: 0,
            total_alloc: 0,
            sys: 0,
            nlookup: 0,
            nmalloc: 0,
            nfree: 0,
            heap_alloc: 0,
            heap_sys: 0,
            heap_idle: 0,
            heap_inuse: 0,
            heap_released: 0,
            heap_objects: 0,
            stacks_inuse: 0,
            stacks_sys: 0,
            mspan_inuse: 0,
            mspan_sys: 0,
            mcache_inuse: 0,
            mcache_sys: 0,
            buckhash_sys: 0,
            gc_sys: 0,
            other_sys: 0,
            next_gc: 0,
            last_gc: 0,
            pause_total_ns: 0,
            pause_ns: [0; 256],
            pause_end: [0; 256],
            numgc: 0,
            gc_cpu_fraction: 0.0,
            enablegc: false,
            debuggc: false,
            by_size: [MStatsBySize { size: 0, nmalloc: 0, nfree: 0 }; 67],
        }
    }
}

/// Size of the Go-visible prefix of MStats (`runtime.Sizeof_C_MStats`).
pub const SIZEOF_C_MSTATS: usize = 5776;

const _: () = {
    assert!(size_of::<root_list>() == 8);
    assert!(size_of::<root_entry>() == 16);
    assert!(size_of::<GoType>() == 72);
    assert!(offset_of!(GoType, __size) == 8);
    assert!(offset_of!(GoType, __hash) == 16);
    assert!(offset_of!(GoType, __hashfn) == 24);
    assert!(offset_of!(GoType, __gc) == 40);
    assert!(offset_of!(GoType, __reflection) == 48);
    assert!(offset_of!(GoType, __pointer_to_this) == 64);
    assert!(size_of::<GoPtrType>() == 80);
    assert!(size_of::<GoChanType>() == 88);
    assert!(size_of::<GoFuncType>() == 128);
    assert!(offset_of!(GoFuncType, __dotdotdot) == 72);
    assert!(offset_of!(GoFuncType, __in) == 80);
    assert!(offset_of!(GoFuncType, __out) == 104);
    assert!(size_of::<GoInterfaceType>() == 96);
    assert!(size_of::<GoSliceType>() == 80);
    assert!(size_of::<GoArrayType>() == 96);
    assert!(offset_of!(GoArrayType, __len) == 88);
    assert!(size_of::<GoMapType>() == 88);
    assert!(size_of::<GoUncommonType>() == 40);
    assert!(size_of::<GoString>() == 16);
    assert!(size_of::<GoSlice>() == 24);
    assert!(size_of::<GoEface>() == 16);
    assert!(size_of::<GoIface>() == 16);
    assert!(size_of::<Hchan>() == 88);
    assert!(offset_of!(Hchan, dataqsiz) == 8);
    assert!(offset_of!(Hchan, elemtype) == 24);
    assert!(offset_of!(Hchan, lock) == 80);
    assert!(size_of::<MStatsBySize>() == 24);
    assert!(size_of::<MStats>() == 5920);
    assert!(offset_of!(MStats, next_gc) == 168);
    assert!(offset_of!(MStats, pause_ns) == 192);
    assert!(offset_of!(MStats, pause_end) == 2240);
    assert!(offset_of!(MStats, numgc) == 4288);
    assert!(offset_of!(MStats, gc_cpu_fraction) == 4296);
    assert!(offset_of!(MStats, enablegc) == 4304);
    assert!(offset_of!(MStats, debuggc) == 4305);
    assert!(offset_of!(MStats, by_size) == 4312);
    assert!(SIZEOF_C_MSTATS == 5920 - 6 * 24);
};
