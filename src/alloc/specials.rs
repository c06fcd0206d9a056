//! Special records hanging off spans (gccgo's specials, libgo-abi.md §11.5): finalizers today,
//! profile records if a host adds them. Mechanism only: the finalizer policy lives in
//! `gc::finalizer`.
//!
//! Each in-use span keeps a singly linked list sorted by (offset, kind), at most one record per
//! (offset, kind). Offsets are 32-bit (a small span can be 80 KiB long) and may point inside an
//! object (tiny-allocator sub-objects). Records come from a FixAlloc under `SPECIALS`' lock; a
//! span's list is guarded by its `special_lock`. Before a record is added or removed the span
//! is swept, so the sweeper never races with a list edit of an unswept span.

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::alloc::sweep::ensure_swept;
use crate::heap::{self, persistent::FixAlloc, span::MSpan};
use crate::stats::Field;
use crate::sync::Locked;

pub const KIND_FINALIZER: u8 = 1;
pub const KIND_PROFILE: u8 = 2;

/// One record: the list link, where it applies, and three data words (for a finalizer:
/// FuncVal*, FuncType*, PtrType*, or for a C finalizer: function, argument, 1).
#[repr(C)]
pub struct SpecialRec {
    pub next: *mut SpecialRec,
    pub offset: u32,
    pub kind: u8,
    pub data: [usize; 3],
}

static SPECIALS: Locked<FixAlloc> =
    Locked::new(FixAlloc::new(core::mem::size_of::<SpecialRec>(), Field::GcSys));

/// Records alive in the whole heap (lets the collector skip the span walk when there are none).
pub static COUNT: AtomicUsize = AtomicUsize::new(0);

#[inline]
pub fn head(s: &MSpan) -> *mut SpecialRec {
    s.specials as *mut SpecialRec
}

/// Adds a record for `p`; false if one of this kind already exists there (or `p` is not in an
/// in-use span).
pub fn add(p: usize, kind: u8, data: [usize; 3]) -> bool {
    let s = heap::lookup_maybe(p);
    if s.is_null() {
        crate::fatal::throw("addspecial on invalid pointer");
    }
    // SAFETY: s is an in-use span containing p.
    let sp = unsafe { &mut *s };
    ensure_swept(sp);
    let offset = (p - sp.base()) as u32;
    let rec = SPECIALS.with(|f| f.alloc()) as *mut SpecialRec;
    sp.special_lock.lock();
    let mut link: *mut *mut SpecialRec = &mut sp.specials as *mut _ as *mut *mut SpecialRec;
    // SAFETY: the span's list is guarded by special_lock, held here.
    let added = unsafe {
        loop {
            let x = *link;
            if x.is_null() || (*x).offset > offset || ((*x).offset == offset && (*x).kind > kind) {
                break true;
            }
            if (*x).offset == offset && (*x).kind == kind {
                break false;
            }
            link = &mut (*x).next;
        }
    };
    if added {
        // SAFETY: rec is a fresh record; link points into the locked list.
        unsafe {
            ptr::write(rec, SpecialRec { next: *link, offset, kind, data });
            *link = rec;
        }
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
    sp.special_lock.unlock();
    if !added {
        // SAFETY: rec was never published.
        SPECIALS.with(|f| unsafe { f.free(rec as *mut u8) });
    }
    added
}

/// Removes the record of `kind` at exactly `p`, returning its data.
pub fn remove(p: usize, kind: u8) -> Option<[usize; 3]> {
    let s = heap::lookup_maybe(p);
    if s.is_null() {
        crate::fatal::throw("removespecial on invalid pointer");
    }
    // SAFETY: s is an in-use span containing p.
    let sp = unsafe { &mut *s };
    ensure_swept(sp);
    let offset = (p - sp.base()) as u32;
    sp.special_lock.lock();
    let mut link: *mut *mut SpecialRec = &mut sp.specials as *mut _ as *mut *mut SpecialRec;
    let mut found = ptr::null_mut();
    // SAFETY: list guarded by special_lock.
    unsafe {
        while !(*link).is_null() {
            let x = *link;
            if (*x).offset == offset && (*x).kind == kind {
                *link = (*x).next;
                found = x;
                break;
            }
            link = &mut (*x).next;
        }
    }
    sp.special_lock.unlock();
    if found.is_null() {
        return None;
    }
    // SAFETY: unlinked above; we own it now.
    let data = unsafe { (*found).data };
    free_rec(found);
    Some(data)
}

/// Returns an unlinked record to the FixAlloc.
pub fn free_rec(r: *mut SpecialRec) {
    COUNT.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: r is an unlinked record from SPECIALS.
    SPECIALS.with(|f| unsafe { f.free(r as *mut u8) });
}

/// Unlinks every record of the span matching `pred(record)`, handing each to `f` (which must
/// dispose of it). The caller owns the span (sweeper or world stopped) or holds nothing that
/// conflicts with `special_lock`.
pub fn drain_matching(sp: &mut MSpan, mut pred: impl FnMut(&SpecialRec) -> bool, mut f: impl FnMut(*mut SpecialRec)) {
    sp.special_lock.lock();
    let mut link: *mut *mut SpecialRec = &mut sp.specials as *mut _ as *mut *mut SpecialRec;
    let mut out: *mut SpecialRec = ptr::null_mut();
    // SAFETY: list guarded by special_lock.
    unsafe {
        while !(*link).is_null() {
            let x = *link;
            if pred(&*x) {
                *link = (*x).next;
                (*x).next = out;
                out = x;
            } else {
                link = &mut (*x).next;
            }
        }
    }
    sp.special_lock.unlock();
    while !out.is_null() {
        // SAFETY: out is a private chain of unlinked records.
        let next = unsafe { (*out).next };
        f(out);
        out = next;
    }
}

/// Visits every record of the span (world stopped).
pub fn for_each(sp: &MSpan, mut f: impl FnMut(&SpecialRec)) {
    let mut x = head(sp);
    while !x.is_null() {
        // SAFETY: with the world stopped nobody edits the list.
        unsafe {
            f(&*x);
            x = (*x).next;
        }
    }
}
