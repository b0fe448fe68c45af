//! The mapping of a store: the only place with `unsafe` over shared memory.
//!
//! Another process, a forked child or a thread may change any byte of the store at any time,
//! so nothing here makes a Rust reference or slice over it. The live header words are reached
//! as atomics at their offsets, and elements are copied in and out with relaxed atomic loads
//! and stores of the element's own width, which compile to the same plain moves as a `memcpy`
//! loop but are not data races in Rust's memory model.
//!
//! The region knows how many bytes of the store lie inside the mapping and are allocated
//! (`known`); every access is checked against that, never against header fields.

use crate::error::{Error, Result};
use crate::layout::{
    Geometry, OFF_CAPACITY, OFF_LEASE, OFF_LEN, OFF_LEN_WAITERS, OFF_LOCK, OFF_LOCK_SEQ, SLOTS,
    SLOT_TABLE_OFFSET,
};
use std::fs::File;
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering::*};

/// A store's mapping: its reservation, and how much of it is known to be backed.
pub(crate) struct Region {
    map: memmap2::MmapRaw,
    /// The header the live words are read from: the mapping's base for an mba array, a private
    /// header the library built for a raw or `.npy` file (freed with the region).
    hdr: *mut u8,
    /// Whether `hdr` is the private header (a `Box<Header>` to give back on drop).
    own_hdr: bool,
    pub(crate) geo: Geometry,
    /// Bytes of the store known to exist, to be allocated, and to lie inside the mapping.
    known: AtomicU64,
    /// The same in whole elements after `data_offset`, for one-compare bounds checks.
    known_elems: AtomicU64,
    /// This handle's record of wake-ups that found no sleeper (see `wait.rs`).
    pub(crate) wakes: crate::wait::WakeRecord,
}

impl Region {
    /// Maps `file` with `reserve` bytes of address space (at least the header page), read-only
    /// or read-write. Fails, rather than reserving less, when the address space is short.
    #[link_section = ".text.hot.mba"]
    pub(crate) fn map(file: &File, reserve: u64, read_only: bool) -> Result<memmap2::MmapRaw> {
        let len = usize::try_from(reserve).map_err(|_| {
            Error::new(crate::ErrorKind::NoSpace, format!("cannot reserve {reserve} bytes of address space"))
        })?;
        let mut o = memmap2::MmapOptions::new();
        o.len(len);
        let r = if read_only { o.map_raw_read_only(file) } else { o.map_raw(file) };
        r.map_err(|e| match e.raw_os_error() {
            // With mlockall(MCL_FUTURE) every new mapping is locked, and one past RLIMIT_MEMLOCK fails.
            Some(libc::EAGAIN) => Error::new(
                crate::ErrorKind::NoSpace,
                format!(
                    "cannot map {reserve} bytes locked in memory: this process locks every new mapping \
                     (mlockall MCL_FUTURE) and the memory-lock limit (RLIMIT_MEMLOCK, ulimit -l) is {} bytes; \
                     raise it, or create the array with a smaller maximum capacity",
                    crate::sys::memlock_limit()
                ),
            ),
            Some(libc::ENOMEM) | Some(libc::EINVAL) | Some(libc::EOVERFLOW) => Error::new(
                crate::ErrorKind::NoSpace,
                format!(
                    "cannot reserve {reserve} bytes of address space for the array's maximum capacity \
                     (address space or the memory-lock limit is exhausted: {e})"
                ),
            ),
            _ => Error::os(format_args!("map {reserve} bytes"), e),
        })
    }

    /// A region over `map`, of which the first `known` bytes are backed.
    #[link_section = ".text.hot.mba"]
    pub(crate) fn new(map: memmap2::MmapRaw, geo: Geometry, known: u64) -> Region {
        let hdr = map.as_mut_ptr();
        let r = Region {
            map,
            hdr,
            own_hdr: false,
            geo,
            known: AtomicU64::new(0),
            known_elems: AtomicU64::new(0),
            wakes: Default::default(),
        };
        r.set_known(known.min(r.map.len() as u64));
        r
    }

    /// A region over `map` (a raw or `.npy` file's bytes, all `known`) whose live words are
    /// those of `header`, a private header built by the library.
    pub(crate) fn with_header(
        map: memmap2::MmapRaw,
        geo: Geometry,
        known: u64,
        header: Box<crate::layout::Header>,
    ) -> Region {
        let hdr = Box::into_raw(header).cast::<u8>();
        let r = Region {
            map,
            hdr,
            own_hdr: true,
            geo,
            known: AtomicU64::new(0),
            known_elems: AtomicU64::new(0),
            wakes: Default::default(),
        };
        r.set_known(known.min(r.map.len() as u64));
        r
    }

    /// The header the live words are read from (see [`Region::with_header`]).
    pub(crate) fn header(&self) -> *mut u8 {
        self.hdr
    }

    /// Maps `len` bytes of `file` from `offset` (a multiple of the page size), read-only or
    /// read-write: the mapping of a raw or `.npy` file's region.
    pub(crate) fn map_at(file: &File, offset: u64, len: u64, read_only: bool) -> Result<memmap2::MmapRaw> {
        let n = usize::try_from(len)
            .map_err(|_| Error::new(crate::ErrorKind::NoSpace, format!("cannot map {len} bytes")))?;
        let mut o = memmap2::MmapOptions::new();
        o.offset(offset).len(n);
        let r = if read_only { o.map_raw_read_only(file) } else { o.map_raw(file) };
        r.map_err(|e| Error::os(format_args!("map {len} bytes at offset {offset}"), e))
    }

    /// The reserved length of the mapping in bytes.
    pub(crate) fn reserved(&self) -> u64 {
        self.map.len() as u64
    }
    pub(crate) fn known(&self) -> u64 {
        self.known.load(Acquire)
    }
    #[inline(always)]
    pub(crate) fn known_elems(&self) -> u64 {
        self.known_elems.load(Acquire)
    }
    /// Records that `known` bytes (at most the reservation) are backed; never shrinks.
    pub(crate) fn set_known(&self, known: u64) -> u64 {
        let known = known.min(self.map.len() as u64);
        let prev = self.known.fetch_max(known, AcqRel).max(known);
        let elems = prev.saturating_sub(self.geo.data_offset as u64) / self.geo.itemsize as u64;
        self.known_elems.fetch_max(elems, AcqRel).max(elems)
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    /// Element 0; `data_offset` lies inside the store (checked at attach).
    pub(crate) fn data_ptr(&self) -> *mut u8 {
        // SAFETY: data_offset <= store size <= mapping length, checked at attach.
        unsafe { self.base().add(self.geo.data_offset) }
    }
    /// Element `index`. The caller has checked that it lies below `known_elems`.
    #[inline(always)]
    pub(crate) fn elem_ptr(&self, index: u64) -> *mut u8 {
        // SAFETY (for callers): index < known_elems, so the element lies in the mapping.
        unsafe { self.data_ptr().add(index as usize * self.geo.itemsize) }
    }

    fn word64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: the header (in the mapping, or the private box) lives as long as the region,
        // `off` is 8-aligned and the header 8-aligned; only atomic access is made through it.
        unsafe { AtomicU64::from_ptr(self.hdr.add(off).cast()) }
    }
    fn word32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: as word64; `off` is 4-aligned.
        unsafe { AtomicU32::from_ptr(self.hdr.add(off).cast()) }
    }
    #[inline(always)]
    pub(crate) fn len_word(&self) -> &AtomicU64 {
        self.word64(OFF_LEN)
    }
    pub(crate) fn capacity_word(&self) -> &AtomicU64 {
        self.word64(OFF_CAPACITY)
    }
    pub(crate) fn lock_word(&self) -> &AtomicU64 {
        self.word64(OFF_LOCK)
    }
    pub(crate) fn lease_word(&self) -> &AtomicU64 {
        self.word64(OFF_LEASE)
    }
    pub(crate) fn lock_seq(&self) -> &AtomicU32 {
        self.word32(OFF_LOCK_SEQ)
    }
    pub(crate) fn len_waiters(&self) -> &AtomicU32 {
        self.word32(OFF_LEN_WAITERS)
    }
    /// The 4 bytes of `len` holding its low 32 bits: the futex word length waiters sleep on.
    /// Only its address is used (the kernel reads it); Rust code reads `len` whole.
    pub(crate) fn len_futex(&self) -> *const u32 {
        let low = if cfg!(target_endian = "big") { 4 } else { 0 };
        // SAFETY: inside the header (the mapping's, or the private one of a raw or .npy
        // file, whose length never changes); 4-aligned.
        unsafe { self.hdr.add(OFF_LEN + low).cast::<u32>() }
    }
    /// The identity word of writer slot `slot` (1 ..= SLOTS).
    pub(crate) fn slot_word(&self, slot: u32) -> &AtomicU64 {
        let k = (slot as usize).clamp(1, SLOTS);
        self.word64(SLOT_TABLE_OFFSET + 8 * (k - 1))
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.own_hdr {
            // SAFETY: hdr came from Box::into_raw in with_header and is given back once.
            drop(unsafe { Box::from_raw(self.hdr.cast::<crate::layout::Header>()) });
        }
    }
}

/// Loads one element of `size` bytes from shared memory at `src` (aligned to its size, or to 8
/// for 16-byte elements) into private memory at `dst` (any alignment).
///
/// # Safety
/// `src` must lie in a live mapping, `dst` be writable for `size` bytes.
#[inline(always)]
pub(crate) unsafe fn load_elem(src: *const u8, dst: *mut u8, size: usize) {
    // Three sizes and a default, so that the common sizes cost a compare each, as in a
    // hand-written copy (four or more cases become a jump table). 8 and 16 bytes go by halves.
    match size {
        1 => *dst = AtomicU8::from_ptr(src as *mut u8).load(Relaxed),
        2 => dst.cast::<u16>().write_unaligned(AtomicU16::from_ptr(src as *mut u16).load(Relaxed)),
        4 => dst.cast::<u32>().write_unaligned(AtomicU32::from_ptr(src as *mut u32).load(Relaxed)),
        _ => {
            for half in 0..size / 8 {
                let v = AtomicU64::from_ptr((src as *mut u64).add(half)).load(Relaxed);
                dst.cast::<u64>().add(half).write_unaligned(v);
            }
        }
    }
}

/// Stores one element of `size` bytes from private memory at `src` (any alignment) into shared
/// memory at `dst` (aligned as for [`load_elem`]).
///
/// # Safety
/// `dst` must lie in a live writable mapping, `src` be readable for `size` bytes.
#[inline(always)]
pub(crate) unsafe fn store_elem(src: *const u8, dst: *mut u8, size: usize) {
    match size {
        1 => AtomicU8::from_ptr(dst).store(*src, Relaxed),
        2 => AtomicU16::from_ptr(dst.cast()).store(src.cast::<u16>().read_unaligned(), Relaxed),
        4 => AtomicU32::from_ptr(dst.cast()).store(src.cast::<u32>().read_unaligned(), Relaxed),
        _ => {
            for half in 0..size / 8 {
                let v = src.cast::<u64>().add(half).read_unaligned();
                AtomicU64::from_ptr(dst.cast::<u64>().add(half)).store(v, Relaxed);
            }
        }
    }
}

/// Copies `count` elements of `size` bytes out of shared memory.
///
/// # Safety
/// As [`load_elem`], for every element.
#[inline]
pub(crate) unsafe fn load_elems(src: *const u8, dst: *mut u8, count: usize, size: usize) {
    match size {
        1 => (0..count).for_each(|i| load_elem(src.add(i), dst.add(i), 1)),
        2 => (0..count).for_each(|i| load_elem(src.add(2 * i), dst.add(2 * i), 2)),
        4 => (0..count).for_each(|i| load_elem(src.add(4 * i), dst.add(4 * i), 4)),
        8 => (0..count).for_each(|i| load_elem(src.add(8 * i), dst.add(8 * i), 8)),
        _ => (0..count).for_each(|i| load_elem(src.add(size * i), dst.add(size * i), size)),
    }
}

/// Copies `count` elements of `size` bytes into shared memory.
///
/// # Safety
/// As [`store_elem`], for every element.
#[inline]
pub(crate) unsafe fn store_elems(src: *const u8, dst: *mut u8, count: usize, size: usize) {
    match size {
        1 => (0..count).for_each(|i| store_elem(src.add(i), dst.add(i), 1)),
        2 => (0..count).for_each(|i| store_elem(src.add(2 * i), dst.add(2 * i), 2)),
        4 => (0..count).for_each(|i| store_elem(src.add(4 * i), dst.add(4 * i), 4)),
        8 => (0..count).for_each(|i| store_elem(src.add(8 * i), dst.add(8 * i), 8)),
        _ => (0..count).for_each(|i| store_elem(src.add(size * i), dst.add(size * i), size)),
    }
}

/// Moves `count` elements within shared memory from `src` to `dst`, which may overlap.
///
/// # Safety
/// Both ranges must lie in a live writable mapping, aligned as for [`load_elem`].
pub(crate) unsafe fn move_elems(src: *const u8, dst: *mut u8, count: usize, size: usize) {
    let mut tmp = [0u8; 16];
    let one = |i: usize| {
        load_elem(src.add(size * i), tmp.as_mut_ptr(), size);
        store_elem(tmp.as_ptr(), dst.add(size * i), size);
    };
    let mut one = one;
    if (dst as usize) < (src as usize) {
        (0..count).for_each(&mut one);
    } else {
        (0..count).rev().for_each(&mut one);
    }
}
