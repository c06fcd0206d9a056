//! Per-object type records (gccgo's MTypes, libgo-abi.md §11.6): the `typ` word given to
//! mallocgc, kept per object so the collector can scan typed blocks precisely.
//!
//! | compression | data                                                                   |
//! |-------------|------------------------------------------------------------------------|
//! | Empty       | nothing recorded                                                       |
//! | Single      | large span: the type word itself                                       |
//! | Bytes       | table of 8 type slots (slot 0 = "none") + one slot index byte per object |
//! |             | (`data` 0: no table yet, every typed object has the primary type)       |
//! | Words       | one type word per object (after an 8th distinct type appears)          |
//!
//! Objects of the span's primary type (its first type) whose allocation sets the heap bitmap's
//! `BIT_TYPED` (`settype_primary`, what mallocgc uses) keep index byte 0, so a span holding
//! only such objects never needs a table: it stays a "lazy" Bytes span (`data` 0) until a
//! second type arrives, and `gettype_in` answers from the bitmap.
//!
//! Tables come from the internal metadata allocator rather than the GC heap (gccgo used NoScan
//! heap blocks kept alive by a root): their life is exactly the span's, so they are freed when
//! the span is reset, and the collector never has to mark them.
//!
//! Protection: written by the span's owner (the allocating cache, or whoever frees an object of
//! it under the same rules as the free list); read by the collector with the world stopped.



use crate::heap::internal::{ialloc, ifree};
use crate::heap::span::{MSpan, MTYPES_BYTES, MTYPES_EMPTY, MTYPES_SINGLE, MTYPES_WORDS};

const SLOTS: usize = 8;

fn bytes_table_size(n: usize) -> usize {
    SLOTS * 8 + n
}

/// Records `typ` for the object at `v` in the span's table (`runtime_settype`), whatever the
/// heap bitmap says: for blocks whose bitmap does not record the type (FlagNoGC). Returns true
/// if `typ` is the span's primary type.
#[inline(always)]
pub fn settype(s: &mut MSpan, v: usize, typ: usize) -> bool {
    // Fast path: a small span's table already has this type in slot 1 (the primary type).
    if s.types.compression == MTYPES_BYTES && typ == s.types.primary && s.types.data != 0 {
        // SAFETY: the Bytes table has SLOTS words then one index byte per object; slot 1 holds
        // the primary type (the first type recorded in the table).
        unsafe { *((s.types.data + SLOTS * 8) as *mut u8).add(s.obj_index(v)) = 1 };
        return true;
    }
    settype_slow(s, v, typ, false)
}

/// [`settype`] for an allocation whose caller records the primary type in the heap bitmap
/// (`bitmap::BIT_TYPED`) whenever this returns true: an object of the span's primary type
/// leaves its index byte 0 (every freed object's byte is cleared), and [`gettype_in`] reads
/// the bitmap for a 0 byte. One compare instead of an index computation and a store.
#[inline(always)]
pub fn settype_primary(s: &mut MSpan, v: usize, typ: usize) -> bool {
    if is_primary(s, typ) {
        return true;
    }
    settype_slow(s, v, typ, true)
}

/// True if an allocation of `typ` from span `s` needs no type record beyond the heap bitmap's
/// (`bitmap::BIT_TYPED`): `typ` is the primary type of the span's Bytes table. Exactly the
/// case in which [`settype_primary`] records nothing.
#[inline(always)]
pub fn is_primary(s: &MSpan, typ: usize) -> bool {
    s.types.compression == MTYPES_BYTES && typ == s.types.primary
}

/// `in_bitmap`: the caller records the primary type in the heap bitmap. Then a small span
/// whose objects all have its primary type gets no table at all: it is Bytes with `data` 0
/// (a "lazy" Bytes table), created only when another type arrives.
#[cold]
#[inline(never)]
fn settype_slow(s: &mut MSpan, v: usize, typ: usize, in_bitmap: bool) -> bool {
    if s.types.primary == 0 {
        s.types.primary = typ;
    }
    if in_bitmap && typ == s.types.primary && s.sizeclass != 0 && s.types.compression == MTYPES_EMPTY {
        s.types.compression = MTYPES_BYTES;
        s.types.data = 0;
        return true;
    }
    settype_table(s, v, typ);
    typ == s.types.primary
}

fn settype_table(s: &mut MSpan, v: usize, typ: usize) {
    if s.sizeclass == 0 {
        s.types.compression = MTYPES_SINGLE;
        s.types.data = typ;
        return;
    }
    let n = s.nelems as usize;
    let i = s.obj_index(v);
    if s.types.compression == MTYPES_EMPTY || (s.types.compression == MTYPES_BYTES && s.types.data == 0) {
        // A new table (zeroed by ialloc: slot 0 and every index byte 0). A lazy Bytes table's
        // objects of the primary type are in the bitmap only, and slot 1 must name that type.
        let lazy = s.types.compression == MTYPES_BYTES;
        s.types.data = ialloc(bytes_table_size(n)) as usize;
        s.types.compression = MTYPES_BYTES;
        if lazy {
            // SAFETY: slot 1 of the table just allocated.
            unsafe { *(s.types.data as *mut usize).add(1) = s.types.primary };
        }
    }
    if s.types.compression == MTYPES_BYTES {
        let slots = s.types.data as *mut usize;
        let idx = (s.types.data + SLOTS * 8) as *mut u8;
        // SAFETY: the Bytes table has SLOTS words then n index bytes; i < n.
        unsafe {
            for j in 1..SLOTS {
                let cur = *slots.add(j);
                if cur == typ || cur == 0 {
                    *slots.add(j) = typ;
                    *idx.add(i) = j as u8;
                    return;
                }
            }
            // Eighth distinct type: convert to one word per object.
            let words = ialloc(n * 8) as *mut usize;
            for k in 0..n {
                let j = *idx.add(k) as usize;
                *words.add(k) = if j != 0 {
                    *slots.add(j)
                } else if crate::bitmap::has_primary_type(s.base() + k * s.elemsize) {
                    // Recorded in the bitmap only (settype_primary).
                    s.types.primary
                } else {
                    0
                };
            }
            ifree(s.types.data as *mut u8, bytes_table_size(n));
            s.types.data = words as usize;
            s.types.compression = MTYPES_WORDS;
        }
    }
    if s.types.compression == MTYPES_WORDS {
        // SAFETY: the Words table has n entries; i < n.
        unsafe { *(s.types.data as *mut usize).add(i) = typ };
    }
}

/// The per-object index bytes of a Bytes table (address, length), for prefetching.
pub fn index_bytes(s: &MSpan) -> Option<(usize, usize)> {
    if s.types.compression == MTYPES_BYTES && s.types.data != 0 {
        Some((s.types.data + SLOTS * 8, s.nelems as usize))
    } else {
        None
    }
}

/// Forgets the type of the object at `v` (it was freed).
pub fn cleartype(s: &mut MSpan, v: usize) {
    match s.types.compression {
        // A lazy Bytes table records nothing but the bitmap's bits (cleared by the free path).
        MTYPES_BYTES if s.types.data == 0 => {}
        MTYPES_BYTES => {
            // SAFETY: index byte i exists in the Bytes table.
            unsafe { *((s.types.data + SLOTS * 8) as *mut u8).add(s.obj_index(v)) = 0 };
        }
        MTYPES_WORDS => {
            // SAFETY: word i exists in the Words table.
            unsafe { *(s.types.data as *mut usize).add(s.obj_index(v)) = 0 };
        }
        MTYPES_SINGLE => s.types.data = 0,
        _ => {}
    }
}

/// The type word recorded for the object containing `v` in span `s` (0 if none).
pub fn gettype_in(s: &MSpan, v: usize) -> usize {
    match s.types.compression {
        MTYPES_EMPTY => 0,
        MTYPES_SINGLE => s.types.data,
        MTYPES_WORDS => {
            // SAFETY: word i exists in the Words table.
            unsafe { *(s.types.data as *const usize).add(s.obj_index(v)) }
        }
        MTYPES_BYTES if s.types.data == 0 => {
            if crate::bitmap::has_primary_type(s.obj_base(v)) {
                s.types.primary
            } else {
                0
            }
        }
        MTYPES_BYTES => {
            // SAFETY: the Bytes table layout (module comment).
            let j = unsafe { *((s.types.data + SLOTS * 8) as *const u8).add(s.obj_index(v)) };
            if j == 0 {
                // No byte: an untyped object, or one of the primary type whose allocation
                // recorded it in the bitmap only (settype_primary).
                return if crate::bitmap::has_primary_type(s.obj_base(v)) { s.types.primary } else { 0 };
            }
            // SAFETY: as above; j < SLOTS.
            unsafe { *(s.types.data as *const usize).add(j as usize) }
        }
        _ => crate::fatal::throw("runtime_gettype: invalid compression kind"),
    }
}

/// Drops the span's table (the span is being freed to, or allocated from, the page heap).
pub fn reset(s: &mut MSpan) {
    let n = s.nelems as usize;
    match s.types.compression {
        MTYPES_BYTES if s.types.data == 0 => {}
        // SAFETY: the table was allocated with exactly this size for this span.
        MTYPES_BYTES => unsafe { ifree(s.types.data as *mut u8, bytes_table_size(n)) },
        // SAFETY: as above.
        MTYPES_WORDS => unsafe { ifree(s.types.data as *mut u8, n * 8) },
        _ => {}
    }
    s.types.compression = MTYPES_EMPTY;
    s.types.data = 0;
    s.types.primary = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The span's primary type is its first recorded type; settype says which objects have it,
    /// through every compression, and reset forgets it.
    #[test]
    fn primary_type_tracks_the_first_type() {
        crate::heap::ensure_init();
        let v = crate::alloc::malloc::mallocgc(48, 0, crate::config::FLAG_NO_SCAN) as usize;
        let s = crate::heap::arena::span_of(v);
        // SAFETY: a private copy of the span record (tables are our own allocations).
        let mut sp = unsafe { core::ptr::read(s) };
        sp.types = crate::heap::span::MTypes { compression: MTYPES_EMPTY, data: 0, primary: 0 };
        let base = sp.base();
        let es = sp.elemsize;
        let at = |i: usize| base + i * es;
        assert!(settype(&mut sp, at(0), 0x1001));
        assert!(!settype(&mut sp, at(1), 0x2001));
        assert!(settype(&mut sp, at(2), 0x1001));
        assert_eq!(sp.types.primary, 0x1001);
        // Seven more types: the table becomes one word per object; the primary stays.
        for k in 0..7 {
            assert!(!settype(&mut sp, at(3 + k), 0x3001 + k * 0x100));
        }
        assert_eq!(sp.types.compression, MTYPES_WORDS);
        assert!(settype(&mut sp, at(10), 0x1001));
        assert_eq!(gettype_in(&sp, at(0)), 0x1001);
        assert_eq!(gettype_in(&sp, at(1)), 0x2001);
        reset(&mut sp);
        assert_eq!(sp.types.primary, 0);
        assert!(settype(&mut sp, at(0), 0x2001), "a fresh span takes a new primary");
        reset(&mut sp);
        // Through settype_primary, objects of the primary type need no table...
        assert!(settype_primary(&mut sp, at(0), 0x1001));
        assert!(settype_primary(&mut sp, at(1), 0x1001));
        assert_eq!((sp.types.compression, sp.types.data, sp.types.primary), (MTYPES_BYTES, 0, 0x1001));
        assert!(index_bytes(&sp).is_none());
        cleartype(&mut sp, at(1));
        // ...until another type arrives: then the table names the primary in slot 1.
        assert!(!settype_primary(&mut sp, at(2), 0x2001));
        assert_ne!(sp.types.data, 0);
        // SAFETY: slots of the Bytes table just created.
        let slot = |j: usize| unsafe { *(sp.types.data as *const usize).add(j) };
        assert_eq!((slot(0), slot(1), slot(2)), (0, 0x1001, 0x2001));
        assert_eq!(gettype_in(&sp, at(2)), 0x2001);
        assert!(settype_primary(&mut sp, at(3), 0x1001));
        // A FlagNoGC allocation (no bitmap record) of the primary type gets its byte.
        reset(&mut sp);
        assert!(settype_primary(&mut sp, at(0), 0x1001));
        assert!(settype(&mut sp, at(1), 0x1001));
        assert_ne!(sp.types.data, 0, "settype makes the table");
        assert_eq!(gettype_in(&sp, at(1)), 0x1001);
        reset(&mut sp);
    }
}
