//! Raw files and `.npy` files as `mba_array` handles: the `raw://` and `npy://` forms of
//! mba_attach_ex, mba_attach_raw_fd, mba_kind and mba_byte_order. The core is in `src/raw.rs`.

use super::array::{dtype_of, give, mba_array, mba_options, read_options, MBA_READ_ONLY, MBA_SAME_OWNER};
use super::error::*;
use crate::array::{Array, Options};
use crate::error::{Error, ErrorKind, Result};
use crate::raw::{check_fixed_options, same_owner, RawOptions};
use std::ffi::{c_int, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Flag of mba_attach_ex with `raw://` and of mba_attach_raw_fd: a region whose length is not a
/// whole number of rows is rounded down to one (without it, MBA_ERR_INVALID_ARGUMENT).
pub const MBA_ROUND_DOWN: u32 = 32;

/// mba_kind of an mba array (its own header; growable).
pub const MBA_KIND_ARRAY: u32 = 1;
/// mba_kind of a raw file or a byte range of one (no header; fixed length).
pub const MBA_KIND_RAW: u32 = 2;
/// mba_kind of a `.npy` file (fixed length).
pub const MBA_KIND_NPY: u32 = 3;

/// The raw options of `*o` (flags MBA_READ_ONLY, MBA_ROUND_DOWN; dtype required; ndim, shape,
/// typecode, offset, length).
fn raw_options(o: &mba_options) -> Result<RawOptions> {
    let allowed = MBA_READ_ONLY | MBA_ROUND_DOWN | MBA_SAME_OWNER;
    if o.flags & !allowed != 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("unknown or unsupported raw attach flag bits {:#x}", o.flags & !allowed),
        ));
    }
    if o.dtype == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "a raw file needs mba_options.dtype"));
    }
    if o.capacity != 0 || o.max_capacity != 0 || o.mode != 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "capacity, max_capacity and mode are create options",
        ));
    }
    let ndim = o.ndim.max(1) as usize;
    if ndim > o.shape.len() {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("ndim {ndim} must be 1 to 8")));
    }
    Ok(RawOptions {
        dtype: dtype_of(o.dtype)?,
        shape: o.shape[1..ndim].to_vec(),
        offset: o.offset,
        length: o.length,
        read_only: o.flags & MBA_READ_ONLY != 0,
        round_down: o.flags & MBA_ROUND_DOWN != 0,
        typecode: o.typecode,
    })
}

/// mba_attach_ex of `raw://` and `npy://`: `None` for other schemes.
pub(crate) fn attach_ex(uri: &OsStr, o: *const mba_options) -> Result<Option<Array>> {
    let b = uri.as_bytes();
    let shown = || uri.to_string_lossy().into_owned();
    if let Some(path) = b.strip_prefix(b"raw://") {
        let o = read_options(o)?;
        let ro = raw_options(&o).map_err(|e| e.context(format_args!("attach {}", shown())))?;
        let a = Array::open_raw(Path::new(OsStr::from_bytes(path)), &ro)?;
        return same_owner(a, o.flags & MBA_SAME_OWNER != 0).map(Some);
    }
    if let Some(path) = b.strip_prefix(b"npy://") {
        let o = read_options(o)?;
        let check = || -> Result<bool> {
            let allowed = MBA_READ_ONLY | MBA_SAME_OWNER;
            if o.flags & !allowed != 0 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown or unsupported npy attach flag bits {:#x}", o.flags & !allowed),
                ));
            }
            if o.dtype != 0 || o.capacity != 0 || o.offset != 0 || o.length != 0 || o.ndim > 1 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a .npy file's header gives its dtype, shape and extent: leave those fields as mba_options_init set them",
                ));
            }
            check_fixed_options(&Options { max_capacity: o.max_capacity, ..Options::default() })?;
            Ok(o.flags & MBA_READ_ONLY != 0)
        };
        let read_only = check().map_err(|e| e.context(format_args!("attach {}", shown())))?;
        let a = Array::open_npy(Path::new(OsStr::from_bytes(path)), read_only)?;
        return same_owner(a, o.flags & MBA_SAME_OWNER != 0).map(Some);
    }
    Ok(None)
}

/// Maps the raw file open as `fd` (or the byte range `o->offset .. o->offset + o->length` of
/// it; length 0 means to the end of the file) as an array of `o->dtype` (required) with rows of
/// `o->shape[1 .. o->ndim]`, as `raw://PATH` does with mba_attach_ex. `o->flags`: MBA_READ_ONLY
/// (needed for a read-only descriptor), MBA_ROUND_DOWN, MBA_SAME_OWNER (refuse a file of
/// another user: MBA_ERR_PERMISSION). The handle has a fixed length: the
/// region's size in elements; mba_append, mba_extend, mba_pop, mba_truncate, mba_splice and
/// mba_reserve fail with MBA_ERR_INVALID_ARGUMENT, and mba_capacity and mba_max_capacity are
/// mba_len. mba_data points at the region's first byte, aligned to the item size (not 64).
///
/// `fd` stays the caller's to close; the handle keeps a duplicate.
/// Errors: MBA_ERR_INVALID_ARGUMENT (dtype 0 or unknown, a bad shape, a range past the end of
/// the file, a length that is not a whole number of rows without MBA_ROUND_DOWN, an offset
/// that is not a multiple of the item size, or of 8), MBA_ERR_PERMISSION (a read-only
/// descriptor without MBA_READ_ONLY), MBA_ERR_NULL_POINTER, MBA_ERR_IO. Another process that
/// shrinks the file under the handle makes accesses past its new end fault (GUARANTEES §10).
/// Ownership: on MBA_OK `*out` is a new handle for mba_free; `*o` stays the caller's.
/// Threads: any.
#[no_mangle]
pub extern "C" fn mba_attach_raw_fd(
    fd: c_int,
    o: *const mba_options,
    out: *mut *mut mba_array,
) -> mba_status {
    ffi_status!("mba_attach_raw_fd", {
        let out = non_null!(out);
        let o = read_options(o)?;
        let ro = raw_options(&o).map_err(|e| e.context(format_args!("attach raw fd {fd}")))?;
        give(out, same_owner(Array::open_raw_fd(fd, &ro)?, o.flags & MBA_SAME_OWNER != 0)?);
        Ok(())
    })
}

/// What `a` maps: MBA_KIND_ARRAY, MBA_KIND_RAW or MBA_KIND_NPY. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_kind(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_kind", {
        // SAFETY: a valid handle or NULL (documented contract).
        unsafe { a.as_ref() }.map_or(0, |a| a.inner.kind() as u32)
    })
}

/// The byte order of `a`'s elements: 0 this machine's, 1 the other (a `.npy` file written on
/// a machine of the other endianness: such a handle is read-only, and mba_get, mba_read and
/// mba_data give the bytes as stored, for the caller to swap). MBA_ERR_NULL_POINTER (negative)
/// for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_byte_order(a: *const mba_array) -> i32 {
    ffi_boundary!("mba_byte_order", {
        // SAFETY: a valid handle or NULL (documented contract).
        unsafe { a.as_ref() }.map_or(MBA_ERR_NULL_POINTER, |a| a.inner.byte_swapped() as i32)
    })
}
