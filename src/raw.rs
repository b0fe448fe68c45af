//! Raw files and `.npy` files as mba arrays of fixed length.
//!
//! A raw file (or a byte range of one) has no header at all: the caller names the dtype and
//! the shape of its rows. A `.npy` file's header (parsed by [`crate::npy`]) gives both. Either
//! way the handle maps only the region that holds the elements, from the page below its first
//! byte, and builds a private [`Header`] whose `len`, `capacity` and `max_capacity` are the
//! fixed length, so that [`Array::header_ptr`] and every binding's one-load `len` work as for
//! an mba array. No shared word is ever touched: there is no lock, lease or slot in such a
//! file, and its length cannot change (every length-changing call fails with
//! `InvalidArgument`, "a raw file's length is fixed").

use crate::array::{Array, Options};
use crate::dtype::Dtype;
use crate::error::{bail, Error, ErrorKind, Result};
use crate::layout::{check_shape, Geometry, Header, MAX_DIMS};
use crate::region::Region;
use crate::{npy, store, sys};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What a handle maps.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An mba array (its own header, growable).
    Array = 1,
    /// A raw file or a byte range of one (no header; fixed length).
    Raw = 2,
    /// A `.npy` file (fixed length).
    Npy = 3,
}

/// How to map a raw file (see [`Array::open_raw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOptions {
    /// The element type.
    pub dtype: Dtype,
    /// The extents of the axes after the first (empty: one-dimensional); at most 7.
    pub shape: Vec<u64>,
    /// Where the region starts in the file, in bytes. It need not be page-aligned, but must
    /// be a multiple of the item size (of 8 for 16-byte types): elements are accessed atomically.
    pub offset: u64,
    /// The region's size in bytes; 0 for "to the end of the file".
    pub length: u64,
    /// Map read-only (every write fails with `ReadOnly`).
    pub read_only: bool,
    /// A length that is not a whole number of rows is rounded down instead of refused.
    pub round_down: bool,
    /// A binding's typecode hint, given back by [`Array::typecode`] (0: none).
    pub typecode: u32,
}

impl RawOptions {
    /// Read-only, one-dimensional, the whole file.
    pub fn new(dtype: Dtype) -> RawOptions {
        RawOptions {
            dtype,
            shape: Vec::new(),
            offset: 0,
            length: 0,
            read_only: true,
            round_down: false,
            typecode: 0,
        }
    }
}

/// The private header of a raw or `.npy` handle: the fixed length as `len`, `capacity` and
/// `max_capacity`, the geometry, no lock and no lease.
pub(crate) fn private_header(geo: &Geometry) -> Header {
    let len = geo.max_capacity;
    let mut h = Header::new(geo.dtype, len, len, geo.ndim, geo.shape, geo.typecode, (0, 0), 0, 0);
    h.data_offset = geo.data_offset as u64;
    h.len = len;
    h
}

/// `Array::attach` of `raw://PATH` and `npy://PATH`; `None` for other schemes.
#[link_section = ".text.hot.mba"]
pub(crate) fn attach_scheme(uri: &OsStr, opts: Options) -> Option<Result<Array>> {
    let b = uri.as_bytes();
    if let Some(path) = b.strip_prefix(b"npy://") {
        let path = Path::new(OsStr::from_bytes(path));
        let r = check_fixed_options(&opts)
            .and_then(|()| Array::open_npy(path, opts.read_only))
            .and_then(|a| same_owner(a, opts.same_owner));
        return Some(r.map_err(|e| e.context(format_args!("attach {}", uri.to_string_lossy()))));
    }
    if b.starts_with(b"raw://") {
        return Some(Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "attach {}: a raw file needs a dtype: use mba_attach_ex with mba_options.dtype, or Array::open_raw",
                uri.to_string_lossy()
            ),
        )));
    }
    None
}

/// `a`, unless `check` and its file is owned by another user (`Permission`): `MBA_SAME_OWNER`.
pub(crate) fn same_owner(a: Array, check: bool) -> Result<Array> {
    if check {
        // SAFETY: the handle's descriptor is open for its life.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(a.fd()) };
        let st = sys::fstat(fd).map_err(|e| Error::os("stat", e))?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if st.uid != me {
            bail!(
                Permission,
                "{}: the file is owned by uid {}, not by this user (uid {me})",
                a.uri(),
                st.uid
            );
        }
    }
    Ok(a)
}

/// The attach options a raw or `.npy` handle cannot honour.
pub(crate) fn check_fixed_options(opts: &Options) -> Result<()> {
    if opts.exclusive {
        bail!(InvalidArgument, "a raw or .npy file has no writer lease (its length is fixed)");
    }
    if opts.overwrite || opts.force || opts.mode.is_some() || opts.max_capacity != 0 {
        bail!(InvalidArgument, "overwrite, force, mode and max_capacity are create options");
    }
    Ok(())
}

fn path_in(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        bail!(InvalidArgument, "the path is empty");
    }
    if path.as_os_str().as_bytes().contains(&0) {
        bail!(InvalidArgument, "the path contains a NUL byte");
    }
    Ok(())
}

impl Array {
    /// Maps the raw file at `path` (or the byte range `o.offset .. o.offset + o.length` of it)
    /// as an array of `o.dtype` with rows of shape `o.shape`, of fixed length: the range's size
    /// in elements. A range that is not a whole number of rows is `InvalidArgument` unless
    /// `o.round_down`; a range past the end of the file is `InvalidArgument`.
    ///
    /// Another process that shrinks the file under a live handle makes accesses past its new
    /// end fault (SIGBUS), as for any mapped file (GUARANTEES §10).
    pub fn open_raw(path: impl AsRef<Path>, o: &RawOptions) -> Result<Array> {
        let path = path.as_ref();
        let uri = format!("raw://{}", path.display());
        let run = || {
            path_in(path)?;
            let file = store::open(path, !o.read_only, false)?;
            map_raw(file, uri.clone(), o)
        };
        run().map_err(|e| e.context(format_args!("open {uri}")))
    }

    /// [`Array::open_raw`] of the file open as `fd` (it stays the caller's; the handle keeps a
    /// duplicate). A read-only descriptor needs `o.read_only`.
    pub fn open_raw_fd(fd: RawFd, o: &RawOptions) -> Result<Array> {
        let uri = format!("raw fd {fd}");
        let run = || {
            let file = store::dup_fd(fd, !o.read_only)?;
            map_raw(file, uri.clone(), o)
        };
        run().map_err(|e| e.context(format_args!("open {uri}")))
    }

    /// Maps the `.npy` file at `path` (format 1.0, 2.0 or 3.0, C order) as an array of its
    /// dtype and shape, of fixed length. Fortran order, object, structured and other dtypes
    /// mba does not have are refused with a message naming which; data past the end of the
    /// file is `Corrupt`. A file in the other byte order opens only read-only, and its
    /// elements are given as stored ([`Array::byte_swapped`] says so).
    pub fn open_npy(path: impl AsRef<Path>, read_only: bool) -> Result<Array> {
        let path = path.as_ref();
        let uri = format!("npy://{}", path.display());
        let run = || {
            path_in(path)?;
            let file = store::open(path, !read_only, false)?;
            map_npy(file, uri.clone(), read_only)
        };
        run().map_err(|e| e.context(format_args!("open {uri}")))
    }
}

fn regular_size(file: &File) -> Result<u64> {
    let st = sys::fstat(file.as_fd()).map_err(|e| Error::os("stat", e))?;
    if !st.regular {
        bail!(InvalidArgument, "not a regular file");
    }
    Ok(st.size)
}

fn map_raw(file: File, uri: String, o: &RawOptions) -> Result<Array> {
    if o.shape.len() >= MAX_DIMS {
        bail!(
            InvalidArgument,
            "a shape of {} axes after the first is more than {MAX_DIMS} dimensions",
            o.shape.len()
        );
    }
    let size = regular_size(&file)?;
    if o.offset > size {
        bail!(InvalidArgument, "offset {} is past the end of the file ({size} bytes)", o.offset);
    }
    let length = if o.length == 0 { size - o.offset } else { o.length };
    match o.offset.checked_add(length) {
        Some(end) if end <= size => {}
        _ => bail!(
            InvalidArgument,
            "the range {}+{length} passes the end of the file ({size} bytes)",
            o.offset
        ),
    }
    let mut dims = vec![0u64];
    dims.extend_from_slice(&o.shape);
    let item = o.dtype.itemsize() as u64;
    let (shape, row) = check_shape(dims.len() as u32, &dims, o.dtype.itemsize())?;
    let row_bytes = row * item;
    let mut length = length;
    if length % row_bytes != 0 {
        if !o.round_down {
            bail!(
                InvalidArgument,
                "the range's {length} bytes are not a whole number of rows of {row_bytes} bytes \
                 (ask to round down)"
            );
        }
        length = length / row_bytes * row_bytes;
    }
    let geo = geometry(o.dtype, dims.len() as u32, shape, row, length / item, o.typecode);
    map_fixed(file, uri, Kind::Raw, false, o.read_only, geo, o.offset, length)
}

fn geometry(dtype: Dtype, ndim: u32, shape: [u64; MAX_DIMS], row: u64, len: u64, typecode: u32) -> Geometry {
    Geometry {
        dtype,
        itemsize: dtype.itemsize(),
        data_offset: 0,
        ndim,
        shape,
        row_size: row,
        max_capacity: len,
        typecode,
    }
}

fn map_npy(file: File, uri: String, read_only: bool) -> Result<Array> {
    let size = regular_size(&file)?;
    let mut prefix = [0u8; npy::PREFIX_LEN];
    let n = (size as usize).min(prefix.len());
    sys::pread_exact(file.as_fd(), &mut prefix[..n], 0).map_err(|e| Error::os("read npy header", e))?;
    let (_, total) = npy::header_len(&prefix[..n])?;
    if total as u64 > size {
        bail!(Corrupt, "the npy header ({total} bytes) passes the end of the file ({size} bytes)");
    }
    let mut raw = vec![0u8; total];
    sys::pread_exact(file.as_fd(), &mut raw, 0).map_err(|e| Error::os("read npy header", e))?;
    let h = npy::parse(&raw)?;
    if h.fortran_order && h.shape.len() > 1 {
        bail!(InvalidArgument, "the npy array is in Fortran order; mba maps C order only");
    }
    let swapped = h.needs_swap();
    if swapped && !read_only {
        bail!(
            InvalidArgument,
            "the npy data is in the other byte order ({}): it can be opened read-only only",
            if h.big_endian { "big-endian" } else { "little-endian" }
        );
    }
    let data_len = h.data_len()?;
    match h.data_offset.checked_add(data_len) {
        Some(end) if end <= size => {}
        _ => bail!(
            Corrupt,
            "the npy header describes {data_len} bytes of data at offset {}, past the end of the file ({size} bytes)",
            h.data_offset
        ),
    }
    let Some(dtype) = Dtype::from_code(h.dtype) else {
        bail!(InvalidArgument, "npy dtype code {} is not an mba dtype", h.dtype);
    };
    // A 0-dimensional array is one element.
    let dims = if h.shape.is_empty() { vec![1] } else { h.shape.clone() };
    if dims.iter().skip(1).any(|&d| d == 0) {
        bail!(InvalidArgument, "the npy shape {:?} has an empty axis after the first", h.shape);
    }
    let (shape, row) = check_shape(dims.len() as u32, &dims, dtype.itemsize())?;
    let geo = geometry(dtype, dims.len() as u32, shape, row, data_len / dtype.itemsize() as u64, 0);
    map_fixed(file, uri, Kind::Npy, swapped, read_only, geo, h.data_offset, data_len)
}

/// Maps `length` bytes of `file` from byte `offset` (checked to lie in the file) as `geo`.
#[allow(clippy::too_many_arguments)]
fn map_fixed(
    file: File,
    uri: String,
    kind: Kind,
    swapped: bool,
    read_only: bool,
    mut geo: Geometry,
    offset: u64,
    length: u64,
) -> Result<Array> {
    let page = sys::page_size() as u64;
    let floor = offset / page * page;
    let skip = offset - floor;
    let align = geo.itemsize.min(8) as u64;
    if skip % align != 0 {
        bail!(
            InvalidArgument,
            "the data starts at byte {offset}, which is not a multiple of {align}: elements of {} bytes \
             must be aligned to be accessed atomically",
            geo.itemsize
        );
    }
    geo.data_offset = skip as usize;
    let total = skip + length;
    // mmap refuses an empty mapping: map one byte then (none is ever accessed: known is 0).
    let map = Region::map_at(&file, floor, total.max(1), read_only)?;
    Ok(Array::from_fixed(file, uri, read_only, kind, swapped, map, geo, total))
}
