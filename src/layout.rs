//! The on-store layout of an mba array: a 256-byte header, then the data at `data_offset`.
//!
//! `docs/FORMAT.md` describes every byte; the compile-time assertions at the end of this
//! file keep the struct and the document in step. The struct is never referenced over
//! shared memory: the header is read into a local copy with `pread`, and the live fields
//! are accessed as atomics at their offsets.

use crate::dtype::Dtype;
use crate::error::{bail, Result};
use std::mem::{offset_of, size_of};

/// The header at offset 0 of every mba array, as laid out in memory and on disk.
///
/// All fields are little- or big-endian as the machine that created the array
/// (`endian` tells which); fixed widths only, so 32- and 64-bit processes agree.
/// `len`, `capacity`, `lock`, `lease`, `lock_seq` and `len_waiters` change while the
/// array is live and must be read and written atomically (C11 `atomic_load_explicit`
/// or `__atomic_load_n`); `len` with acquire ordering by readers. The writer slot table
/// follows the header, at offsets 256 to 4096 (see docs/FORMAT.md).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// `"MBARRAY\0"`.
    pub magic: [u8; 8],
    /// Format version: 2.
    pub version: u32,
    /// `0x01020304` written in the creator's byte order.
    pub endian: u32,
    /// Size of this header in bytes: 256.
    pub header_size: u32,
    /// Element type code (`MBA_I8` .. `MBA_C128`).
    pub dtype: u32,
    /// Bytes per element (one scalar); always the dtype's size.
    pub itemsize: u32,
    /// Number of dimensions, 1 to 8. The first axis is the one that grows.
    pub ndim: u32,
    /// Byte offset of element 0 from the start of the store; a multiple of 64, at least 4096.
    pub data_offset: u64,
    /// Reserved flags; 0.
    pub flags: u64,
    /// Process id of the creator.
    pub creator_pid: u64,
    /// Start time of the creator process, in clock ticks after boot (`/proc/PID/stat` field 22).
    pub creator_start: u64,
    /// Published length in elements (scalars; a whole number of rows). Atomic; stored with
    /// release ordering after the data it covers.
    pub len: u64,
    /// Elements the store has room for (atomic; advisory, the store's size is authoritative).
    pub capacity: u64,
    /// Append lock word (atomic): generation in bits 25..64, a contended flag in bit 24,
    /// owner slot in bits 0..24; slot 0 = free.
    pub lock: u64,
    /// Writer lease word (atomic): generation in bits 25..64, holder slot in bits 0..24; slot 0 = no lease.
    pub lease: u64,
    /// Futex word that waiters for `lock` sleep on (atomic).
    pub lock_seq: u32,
    /// Readers sleeping until `len` changes (atomic): their count in bits 0..16, an epoch in
    /// bits 16..32 (docs/FORMAT.md, "Waiting for the length"). Appenders wake the sleepers on the
    /// low 32 bits of `len` when the count is not 0.
    pub len_waiters: u32,
    /// The most elements the array may ever hold, fixed at create. Every handle reserves
    /// address space for exactly this many, so all processes agree on how far it can grow.
    pub max_capacity: u64,
    /// Inode number of the creator's pid namespace (`/proc/self/ns/pid`), 0 if unknown.
    pub pidns: u64,
    /// A binding's hint of how to present the elements (Python's array typecode as an ASCII
    /// character, say); 0 for none. The library stores it and gives it back.
    pub typecode: u32,
    /// Reserved; 0.
    pub reserved0: u32,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// The shape in C order: `shape[0]` is 0 (the growing axis; rows = len / row size),
    /// `shape[1..ndim]` the extents of the other axes, the rest 0.
    pub shape: [u64; 8],
    /// Reserved; 0.
    pub reserved: [u8; 56],
}

/// `Header::magic`.
pub const MAGIC: [u8; 8] = *b"MBARRAY\0";
/// `Header::version` written by this library.
pub const FORMAT_VERSION: u32 = 2;
/// `Header::endian`.
pub const ENDIAN_TAG: u32 = 0x0102_0304;
/// `Header::header_size`.
pub const HEADER_SIZE: usize = 256;
/// `Header::data_offset` written by this library: one 4 KiB page, so data is page-aligned.
pub const DATA_OFFSET: usize = 4096;
/// The alignment every `data_offset` must have.
pub const DATA_ALIGN: usize = 64;
/// The most dimensions an array may have.
pub const MAX_DIMS: usize = 8;
/// Where the writer slot table starts: right after the header.
pub const SLOT_TABLE_OFFSET: usize = HEADER_SIZE;
/// Writer slots in the table: one 8-byte identity each, up to the smallest data offset.
pub const SLOTS: usize = (DATA_OFFSET - SLOT_TABLE_OFFSET) / 8;

/// Byte offsets of the live fields, for atomic access.
pub const OFF_LEN: usize = offset_of!(Header, len);
pub const OFF_CAPACITY: usize = offset_of!(Header, capacity);
pub const OFF_LOCK: usize = offset_of!(Header, lock);
pub const OFF_LEASE: usize = offset_of!(Header, lease);
pub const OFF_LOCK_SEQ: usize = offset_of!(Header, lock_seq);
pub const OFF_LEN_WAITERS: usize = offset_of!(Header, len_waiters);

const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(offset_of!(Header, version) == 8);
    assert!(offset_of!(Header, endian) == 12);
    assert!(offset_of!(Header, header_size) == 16);
    assert!(offset_of!(Header, dtype) == 20);
    assert!(offset_of!(Header, itemsize) == 24);
    assert!(offset_of!(Header, ndim) == 28);
    assert!(offset_of!(Header, data_offset) == 32);
    assert!(offset_of!(Header, flags) == 40);
    assert!(offset_of!(Header, creator_pid) == 48);
    assert!(offset_of!(Header, creator_start) == 56);
    assert!(OFF_LEN == 64);
    assert!(OFF_CAPACITY == 72);
    assert!(OFF_LOCK == 80);
    assert!(OFF_LEASE == 88);
    assert!(OFF_LOCK_SEQ == 96);
    assert!(OFF_LEN_WAITERS == 100);
    assert!(offset_of!(Header, max_capacity) == 104);
    assert!(offset_of!(Header, pidns) == 112);
    assert!(offset_of!(Header, typecode) == 120);
    assert!(offset_of!(Header, created_ns) == 128);
    assert!(offset_of!(Header, shape) == 136);
    assert!(offset_of!(Header, reserved) == 200);
    assert!(DATA_OFFSET % DATA_ALIGN == 0 && DATA_OFFSET >= HEADER_SIZE);
    assert!(SLOTS == 480);
};

/// What a handle keeps of a header after validating it: the fields that never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub dtype: Dtype,
    pub itemsize: usize,
    pub data_offset: usize,
    /// Dimensions, 1 to 8.
    pub ndim: u32,
    /// `shape[1..ndim]` are the extents of the non-growing axes; `shape[0]` is 0.
    pub shape: [u64; MAX_DIMS],
    /// Elements per row: the product of `shape[1..ndim]`, 1 for a one-dimensional array.
    pub row_size: u64,
    /// The most elements the array may hold.
    pub max_capacity: u64,
    /// The binding's typecode hint.
    pub typecode: u32,
}

impl Geometry {
    /// Byte offset of the end of the first `n` elements, if it fits in a `u64`.
    pub fn end_of(&self, n: u64) -> Option<u64> {
        n.checked_mul(self.itemsize as u64)?.checked_add(self.data_offset as u64)
    }
}

/// Checks a shape given at create: `ndim` 1 to 8 and every extent but the first at least 1,
/// with a row of at most `max_row_bytes` bytes. Returns the shape as stored and the row size.
#[link_section = ".text.hot.mba"]
pub fn check_shape(ndim: u32, dims: &[u64], itemsize: usize) -> Result<([u64; MAX_DIMS], u64)> {
    if ndim == 0 || ndim as usize > MAX_DIMS {
        bail!(InvalidArgument, "ndim {ndim} must be 1 to {MAX_DIMS}");
    }
    let mut shape = [0u64; MAX_DIMS];
    let mut row: u64 = 1;
    for (axis, slot) in shape.iter_mut().enumerate().take(ndim as usize).skip(1) {
        let d = dims.get(axis).copied().unwrap_or(0);
        if d == 0 {
            bail!(
                InvalidArgument,
                "axis {axis} of the shape has extent 0 (only the first axis may grow from 0)"
            );
        }
        row = row
            .checked_mul(d)
            .filter(|r| r.checked_mul(itemsize as u64).is_some_and(|b| b <= 1 << 40))
            .ok_or_else(|| {
                crate::error::Error::new(crate::ErrorKind::InvalidArgument, "shape's rows are too large")
            })?;
        *slot = d;
    }
    Ok((shape, row))
}

impl Header {
    /// A fresh header for a new array of `dtype`, with room for `capacity` elements now and
    /// at most `max_capacity` ever.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dtype: Dtype,
        capacity: u64,
        max_capacity: u64,
        ndim: u32,
        shape: [u64; MAX_DIMS],
        typecode: u32,
        creator: (u64, u64),
        pidns: u64,
        created_ns: u64,
    ) -> Self {
        Header {
            magic: MAGIC,
            version: FORMAT_VERSION,
            endian: ENDIAN_TAG,
            header_size: HEADER_SIZE as u32,
            dtype: dtype.code(),
            itemsize: dtype.itemsize() as u32,
            ndim,
            data_offset: DATA_OFFSET as u64,
            flags: 0,
            creator_pid: creator.0,
            creator_start: creator.1,
            len: 0,
            capacity,
            lock: 0,
            lease: 0,
            lock_seq: 0,
            len_waiters: 0,
            max_capacity,
            pidns,
            typecode,
            reserved0: 0,
            created_ns,
            shape,
            reserved: [0; 56],
        }
    }

    /// The header as the bytes to write at offset 0.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        // SAFETY: Header is repr(C), has no padding (asserted: fields sum to 256) and
        // holds only integers, so every byte is initialised.
        unsafe { std::mem::transmute::<Header, [u8; HEADER_SIZE]>(*self) }
    }

    /// Parses the bytes read from offset 0 of a store. Any bit pattern is accepted here;
    /// [`Header::validate`] decides whether it describes an array.
    #[link_section = ".text.hot.mba"]
    pub fn from_bytes(bytes: &[u8; HEADER_SIZE]) -> Self {
        // SAFETY: every bit pattern is a valid Header (integers and byte arrays only).
        unsafe { std::mem::transmute::<[u8; HEADER_SIZE], Header>(*bytes) }
    }

    /// Checks that this header describes an mba array that fits in a store of
    /// `store_size` bytes, and returns the fields a handle relies on.
    #[link_section = ".text.hot.mba"]
    pub fn validate(&self, store_size: u64) -> Result<Geometry> {
        if self.magic != MAGIC {
            bail!(Corrupt, "not an mba array (bad magic {:02x?})", self.magic);
        }
        if self.endian != ENDIAN_TAG {
            bail!(Corrupt, "array was written with another byte order (endian tag {:#010x})", self.endian);
        }
        if self.version != FORMAT_VERSION {
            bail!(
                Corrupt,
                "unsupported format version {} (this library reads version {FORMAT_VERSION}; version 1 arrays \
                 were made by mba 0.1 and must be created anew)",
                self.version
            );
        }
        if self.header_size as usize != HEADER_SIZE {
            bail!(Corrupt, "bad header size {}", self.header_size);
        }
        let Some(dtype) = Dtype::from_code(self.dtype) else {
            bail!(Corrupt, "unknown dtype code {}", self.dtype);
        };
        if self.itemsize as usize != dtype.itemsize() {
            bail!(Corrupt, "item size {} does not match dtype {}", self.itemsize, dtype.name());
        }
        if self.ndim == 0 || self.ndim as usize > MAX_DIMS {
            bail!(Corrupt, "unsupported number of dimensions {}", self.ndim);
        }
        let (shape, row_size) = check_shape(self.ndim, &self.shape, dtype.itemsize()).map_err(|e| {
            crate::error::Error::new(crate::ErrorKind::Corrupt, format!("bad shape: {}", e.message()))
        })?;
        let off = self.data_offset;
        if off < DATA_OFFSET as u64 || off % DATA_ALIGN as u64 != 0 || off > store_size {
            bail!(Corrupt, "bad data offset {off} (store is {store_size} bytes)");
        }
        let max = self.max_capacity;
        let fits = max
            .checked_mul(dtype.itemsize() as u64)
            .and_then(|b| b.checked_add(off))
            .is_some_and(|end| end <= MAX_RESERVATION);
        if max == 0 || !fits {
            bail!(Corrupt, "bad maximum capacity {max}");
        }
        Ok(Geometry {
            dtype,
            itemsize: dtype.itemsize(),
            data_offset: off as usize,
            ndim: self.ndim,
            shape,
            row_size,
            max_capacity: max,
            typecode: self.typecode,
        })
    }
}

/// The largest address range one handle may reserve: 64 TiB, half of a 47-bit address space.
pub const MAX_RESERVATION: u64 = 1 << 46;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn good() -> Header {
        Header::new(Dtype::U32, 16, 1 << 20, 1, [0; 8], 0, (1, 2), 5, 3)
    }

    #[test]
    fn round_trips_through_bytes() {
        let h = good();
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"MBARRAY\0");
        assert_eq!(u32::from_ne_bytes(b[20..24].try_into().unwrap()), Dtype::U32.code());
        assert_eq!(u64::from_ne_bytes(b[32..40].try_into().unwrap()), 4096);
        assert_eq!(Header::from_bytes(&b).to_bytes(), b);
    }

    #[test]
    fn validate_accepts_a_fresh_header() {
        let g = good().validate(8192).unwrap();
        assert_eq!((g.dtype, g.itemsize, g.data_offset, g.ndim, g.row_size), (Dtype::U32, 4, 4096, 1, 1));
        assert_eq!(g.max_capacity, 1 << 20);
    }

    #[test]
    fn validate_refuses_each_bad_field() {
        type Spoil = fn(&mut Header);
        let cases: Vec<(&str, Spoil)> = vec![
            ("magic", |h| h.magic[0] = b'X'),
            ("byte order", |h| h.endian = 0x0403_0201),
            ("version", |h| h.version = 1),
            ("header size", |h| h.header_size = 128),
            ("dtype", |h| h.dtype = 0),
            ("dtype", |h| h.dtype = 0xFFFF_FFFF),
            ("item size", |h| h.itemsize = 8),
            ("dimensions", |h| h.ndim = 0),
            ("data offset", |h| h.data_offset = 100),
            ("data offset", |h| h.data_offset = 64),
            ("data offset", |h| h.data_offset = 1 << 40),
            ("data offset", |h| h.data_offset = 256),
            ("dimensions", |h| h.ndim = 9),
            ("shape", |h| {
                h.ndim = 2;
                h.shape[1] = 0
            }),
            ("shape", |h| {
                h.ndim = 3;
                h.shape[1] = 1 << 30;
                h.shape[2] = 1 << 30
            }),
            ("maximum capacity", |h| h.max_capacity = 0),
            ("maximum capacity", |h| h.max_capacity = u64::MAX / 2),
        ];
        for (what, spoil) in cases {
            let mut h = good();
            spoil(&mut h);
            let e = h.validate(8192).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupt, "{what}");
            assert!(e.message().contains(what), "{what}: {e}");
        }
    }
}
