//! gccgo's 67 size classes (libgo-abi.md §12), computed at compile time.
//!
//! The generator walks candidate sizes upward, re-choosing the step whenever it reaches a power
//! of two, picks for each size the fewest pages whose tail waste is at most 1/8 of the span, and
//! widens the previous class instead of adding one when both would use the same pages for the
//! same object count. The result is checked against the contract's table by unit test.
//!
//! Lookup tables (`size_to_class8` for sizes up to 1016, `size_to_class128` above) map a request
//! size to the smallest class that holds it. Each class also carries a 32-bit reciprocal so the
//! collector can turn an offset inside a span into an object index with a multiply and a shift;
//! the unit tests prove it exact for every offset of every class's span.

#![forbid(unsafe_code)]

use crate::config::{MAX_SMALL_SIZE, NUM_SIZE_CLASSES, PAGE_SHIFT, PAGE_SIZE};

pub struct SizeTables {
    pub class_to_size: [u32; NUM_SIZE_CLASSES],
    pub class_to_allocnpages: [u32; NUM_SIZE_CLASSES],
    pub class_to_nobj: [u32; NUM_SIZE_CLASSES],
    /// ceil(2^32 / size): `(off * magic) >> 32 == off / size` for every offset inside a span.
    pub class_to_divmagic: [u64; NUM_SIZE_CLASSES],
    pub size_to_class8: [u8; 1024 / 8 + 1],
    pub size_to_class128: [u8; (MAX_SMALL_SIZE - 1024) / 128 + 1],
    pub nclass: usize,
}

impl SizeTables {
    const fn compute() -> SizeTables {
        let mut t = SizeTables {
            class_to_size: [0; NUM_SIZE_CLASSES],
            class_to_allocnpages: [0; NUM_SIZE_CLASSES],
            class_to_nobj: [0; NUM_SIZE_CLASSES],
            class_to_divmagic: [0; NUM_SIZE_CLASSES],
            size_to_class8: [0; 1024 / 8 + 1],
            size_to_class128: [0; (MAX_SMALL_SIZE - 1024) / 128 + 1],
            nclass: 1,
        };
        let mut step = 8usize;
        let mut size = 8usize;
        while size <= MAX_SMALL_SIZE {
            if size & (size - 1) == 0 {
                step = if size >= 2048 {
                    256
                } else if size >= 128 {
                    size / 8
                } else if size >= 16 {
                    16
                } else {
                    step
                };
            }
            let mut span = PAGE_SIZE;
            while span % size > span / 8 {
                span += PAGE_SIZE;
            }
            let pages = (span >> PAGE_SHIFT) as u32;
            let n = t.nclass;
            let prev = n - 1;
            if n > 1
                && t.class_to_allocnpages[prev] == pages
                && span / size == span / (t.class_to_size[prev] as usize)
            {
                t.class_to_size[prev] = size as u32;
            } else {
                if n >= NUM_SIZE_CLASSES {
                    panic!("InitSizes - bad NumSizeClasses");
                }
                t.class_to_size[n] = size as u32;
                t.class_to_allocnpages[n] = pages;
                t.nclass = n + 1;
            }
            size += step;
        }
        if t.nclass != NUM_SIZE_CLASSES {
            panic!("InitSizes - bad NumSizeClasses");
        }
        let mut c = 1;
        while c < NUM_SIZE_CLASSES {
            let sz = t.class_to_size[c] as u64;
            t.class_to_nobj[c] =
                ((t.class_to_allocnpages[c] as usize * PAGE_SIZE) as u64 / sz) as u32;
            t.class_to_divmagic[c] = (1u64 << 32).div_ceil(sz);
            c += 1;
        }
        // Smallest class holding each bucket's largest size.
        let mut i = 0;
        while i < t.size_to_class8.len() {
            t.size_to_class8[i] = smallest_class(&t.class_to_size, i * 8);
            i += 1;
        }
        let mut i = 0;
        while i < t.size_to_class128.len() {
            t.size_to_class128[i] = smallest_class(&t.class_to_size, 1024 + i * 128);
            i += 1;
        }
        t
    }
}

const fn smallest_class(sizes: &[u32; NUM_SIZE_CLASSES], n: usize) -> u8 {
    let mut c = 1;
    while c < NUM_SIZE_CLASSES {
        if sizes[c] as usize >= n {
            return c as u8;
        }
        c += 1;
    }
    panic!("SizeToClass - invalid size")
}

pub static TABLES: SizeTables = SizeTables::compute();

/// Size class for a small request (1..=32768). `runtime_SizeToClass`.
#[inline(always)]
pub fn size_to_class(size: usize) -> usize {
    if size <= 1024 - 8 {
        TABLES.size_to_class8[(size + 7) >> 3] as usize
    } else {
        TABLES.size_to_class128[(size - 1024 + 127) >> 7] as usize
    }
}

#[inline(always)]
pub fn class_size(cl: usize) -> usize {
    TABLES.class_to_size[cl] as usize
}

/// `runtime_roundupsize`.
pub fn roundupsize(size: usize) -> usize {
    if size < MAX_SMALL_SIZE {
        return class_size(size_to_class(size));
    }
    match size.checked_add(PAGE_SIZE) {
        Some(_) => (size + PAGE_SIZE - 1) & !(PAGE_SIZE - 1),
        None => size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (size, pages) for classes 1..=66, from libgo-abi.md §12.
    const CONTRACT: [(u32, u32); 66] = [
        (8, 1), (16, 1), (32, 1), (48, 1), (64, 1), (80, 1), (96, 1), (112, 1), (128, 1),
        (144, 1), (160, 1), (176, 1), (192, 1), (208, 1), (224, 1), (240, 1), (256, 1),
        (288, 1), (320, 1), (352, 1), (384, 1), (416, 1), (448, 1), (480, 1), (512, 1),
        (576, 1), (640, 1), (704, 1), (768, 1), (896, 1), (1024, 1), (1152, 1), (1280, 1),
        (1408, 2), (1536, 1), (1664, 2), (2048, 1), (2304, 2), (2560, 1), (2816, 3),
        (3072, 2), (3328, 3), (4096, 1), (4608, 3), (5376, 2), (6144, 3), (6400, 4),
        (6656, 5), (6912, 6), (8192, 1), (8448, 7), (8704, 6), (9472, 5), (10496, 4),
        (12288, 3), (13568, 5), (14080, 7), (16384, 2), (16640, 9), (17664, 7), (20480, 5),
        (21248, 8), (24576, 3), (24832, 10), (28416, 7), (32768, 4),
    ];

    #[test]
    fn generator_matches_contract_table() {
        assert_eq!(TABLES.nclass, 67);
        for (i, &(size, pages)) in CONTRACT.iter().enumerate() {
            let cl = i + 1;
            assert_eq!(TABLES.class_to_size[cl], size, "class {cl} size");
            assert_eq!(TABLES.class_to_allocnpages[cl], pages, "class {cl} pages");
            assert_eq!(
                TABLES.class_to_nobj[cl],
                pages * 8192 / size,
                "class {cl} objects"
            );
        }
        assert_eq!(TABLES.class_to_size[crate::config::TINY_SIZE_CLASS], 16);
        // mallocgc's inline zeroing (zero_block) covers exactly these classes up to 64 bytes.
        let small: Vec<u32> = TABLES.class_to_size[1..].iter().copied().filter(|&s| s <= 64).collect();
        assert_eq!(small, [8, 16, 32, 48, 64]);
    }

    #[test]
    fn lookup_is_smallest_fitting_class_for_every_size() {
        for n in 1..=MAX_SMALL_SIZE {
            let cl = size_to_class(n);
            assert!(class_size(cl) >= n, "size {n} class {cl}");
            assert!(cl == 1 || class_size(cl - 1) < n, "size {n} not smallest");
        }
    }

    #[test]
    fn roundupsize_examples() {
        assert_eq!(roundupsize(1025), 1152);
        assert_eq!(roundupsize(33000), 40960);
        assert_eq!(roundupsize(32768), 32768);
        assert_eq!(roundupsize(1), 8);
        assert_eq!(roundupsize(usize::MAX - 100), usize::MAX - 100);
    }

    #[test]
    fn divmagic_is_exact_over_each_span() {
        for cl in 1..NUM_SIZE_CLASSES {
            let size = class_size(cl) as u64;
            let span = TABLES.class_to_allocnpages[cl] as u64 * PAGE_SIZE as u64;
            let m = TABLES.class_to_divmagic[cl];
            for off in 0..span {
                assert_eq!((off * m) >> 32, off / size, "class {cl} off {off}");
            }
        }
    }
}
