//! `.npy` files that grow: `mba_npy_writer` creates or reopens a `.npy` file with room in its
//! header for the first axis, appends whole rows, and after a sync rewrites the shape, so that
//! `numpy.load(path, mmap_mode='r')` sees every row appended before the sync. Read such files
//! (while they grow, too) with the windowed reader, kind MBA_WINDOW_NPY.

use super::array::MBA_OVERWRITE;
use super::error::*;
use crate::error::bail;
use crate::npy::NpyWriter;
use std::ffi::{c_char, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A `.npy` file being appended to. Opaque: make it with mba_npy_create or mba_npy_open,
/// give it back with mba_npy_close.
#[allow(non_camel_case_types)]
pub struct mba_npy_writer {
    pub(crate) inner: NpyWriter,
}

fn path_of<'a>(p: *const c_char) -> &'a Path {
    // SAFETY: a NUL-terminated string (documented), checked non-NULL by the caller.
    Path::new(OsStr::from_bytes(unsafe { CStr::from_ptr(p) }.to_bytes()))
}

macro_rules! writer_mut {
    ($p:ident) => {{
        let p = non_null!($p);
        // SAFETY: a pointer from mba_npy_create/mba_npy_open not yet closed, used by one
        // thread at a time (documented contract).
        unsafe { &mut (*p).inner }
    }};
}

/// Creates the `.npy` file `path` holding zero rows: a vector when `ndim` is 1 (or 0), else
/// rows of `trailing[0] x ... x trailing[ndim - 2]` elements of `dtype` (MBA_I8 .. MBA_C128),
/// in this machine's byte order, C order. `flags`: 0, or MBA_OVERWRITE to replace an existing
/// file. The header has room for the row count to reach any uint64_t.
///
/// Errors: MBA_ERR_EXISTS, MBA_ERR_INVALID_ARGUMENT (dtype, ndim over 8, an extent of 0, flags),
/// MBA_ERR_PERMISSION, MBA_ERR_IO. Ownership: close `*out` with mba_npy_close. Threads: any;
/// one writer per file.
#[no_mangle]
pub extern "C" fn mba_npy_create(
    path: *const c_char,
    dtype: u32,
    ndim: u32,
    trailing: *const u64,
    flags: u32,
    out: *mut *mut mba_npy_writer,
) -> mba_status {
    ffi_status!("mba_npy_create", {
        let out = non_null!(out);
        let path = path_of(non_null!(path));
        if flags & !MBA_OVERWRITE != 0 {
            bail!(InvalidArgument, "unknown flag bits {:#x} (only MBA_OVERWRITE)", flags & !MBA_OVERWRITE);
        }
        if ndim > 8 {
            bail!(InvalidArgument, "ndim {ndim} is over 8");
        }
        let extents = if ndim > 1 {
            let t = non_null!(trailing);
            // SAFETY: ndim - 1 readable extents (documented).
            unsafe { std::slice::from_raw_parts(t, ndim as usize - 1) }.to_vec()
        } else {
            Vec::new()
        };
        let w = NpyWriter::create(path, dtype, &extents, flags & MBA_OVERWRITE != 0)?;
        super::macros::give_box(out, mba_npy_writer { inner: w });
        Ok(())
    })
}

/// Reopens the `.npy` file `path` to append rows to it. It must be in this machine's byte
/// order and C order, with at least one dimension. Bytes past the rows its header describes
/// (appended, never synced) are cut off. Ownership and threads as mba_npy_create.
#[no_mangle]
pub extern "C" fn mba_npy_open(path: *const c_char, out: *mut *mut mba_npy_writer) -> mba_status {
    ffi_status!("mba_npy_open", {
        let out = non_null!(out);
        let w = NpyWriter::open(path_of(non_null!(path)))?;
        super::macros::give_box(out, mba_npy_writer { inner: w });
        Ok(())
    })
}

/// Appends `nrows` rows from `rows` (nrows times the row's bytes). They are on file at once
/// and described by the header after the next mba_npy_sync.
#[no_mangle]
pub extern "C" fn mba_npy_append(w: *mut mba_npy_writer, rows: *const c_void, nrows: u64) -> mba_status {
    ffi_status!("mba_npy_append", {
        let w = writer_mut!(w);
        if nrows == 0 {
            return Ok(());
        }
        let rows = non_null!(rows);
        let Some(bytes) = nrows.checked_mul(w.row_bytes()).and_then(|b| usize::try_from(b).ok()) else {
            bail!(InvalidArgument, "{nrows} rows overflow");
        };
        // SAFETY: nrows rows readable at `rows` (documented).
        w.append(unsafe { std::slice::from_raw_parts(rows.cast::<u8>(), bytes) })
    })
}

/// Makes every appended row durable (fdatasync), then rewrites the header's shape to describe
/// them, durably too. After it returns, numpy.load of the file sees every row appended so far.
#[no_mangle]
pub extern "C" fn mba_npy_sync(w: *mut mba_npy_writer) -> mba_status {
    ffi_status!("mba_npy_sync", { writer_mut!(w).sync() })
}

/// Rows appended so far (`*appended`) and rows the header describes (`*synced`); either
/// pointer may be NULL.
#[no_mangle]
pub extern "C" fn mba_npy_rows(w: *const mba_npy_writer, appended: *mut u64, synced: *mut u64) -> mba_status {
    ffi_status!("mba_npy_rows", {
        let (a, s) = handle!(w).rows();
        // SAFETY: non-NULL output pointers (documented).
        unsafe {
            if !appended.is_null() {
                *appended = a;
            }
            if !synced.is_null() {
                *synced = s;
            }
        }
        Ok(())
    })
}

/// Bytes per row; 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_npy_row_bytes(w: *const mba_npy_writer) -> u64 {
    ffi_boundary!("mba_npy_row_bytes", {
        if w.is_null() {
            0
        } else {
            // SAFETY: a live writer (documented).
            unsafe { (*w).inner.row_bytes() }
        }
    })
}

/// Syncs (as mba_npy_sync) and frees the writer; it is freed even when the sync fails (the
/// status says so). NULL is allowed.
#[no_mangle]
pub extern "C" fn mba_npy_close(w: *mut mba_npy_writer) -> mba_status {
    ffi_status!("mba_npy_close", {
        if w.is_null() {
            return Ok(());
        }
        // SAFETY: w came from mba_npy_create/open and is closed once (documented).
        let mut b = unsafe { Box::from_raw(w) };
        b.inner.sync()
    })
}
