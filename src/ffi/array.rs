//! The `mba_array` handle and its exports.

use super::error::*;
use crate::array::{Array, Options};
use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result};
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

/// An open handle on an mba array. Opaque: create it with mba_create, mba_attach or
/// mba_attach_fd, and give it back with mba_free.
#[allow(non_camel_case_types)]
pub struct mba_array {
    pub(crate) inner: Array,
}

/// Element type codes, stored in every array header; never renumbered.
pub const MBA_I8: u32 = 1;
pub const MBA_U8: u32 = 2;
pub const MBA_I16: u32 = 3;
pub const MBA_U16: u32 = 4;
pub const MBA_I32: u32 = 5;
pub const MBA_U32: u32 = 6;
pub const MBA_I64: u32 = 7;
pub const MBA_U64: u32 = 8;
pub const MBA_F32: u32 = 9;
pub const MBA_F64: u32 = 10;

/// Flag of mba_attach and mba_attach_fd: map read-only; every mutator returns MBA_ERR_READ_ONLY.
pub const MBA_READ_ONLY: u32 = 1;
/// Flag of mba_create, mba_attach and mba_attach_fd: hold the writer lease for the handle's
/// life. Appends take a lock-free path; other appenders and exclusive attaches get MBA_ERR_BUSY.
pub const MBA_EXCLUSIVE: u32 = 2;
/// Flag of mba_create: replace an existing array of that name (its live handles keep the old one).
pub const MBA_OVERWRITE: u32 = 4;

/// Flag of mba_msync: wait until the data and then the header are written to the store.
pub const MBA_SYNC: u32 = 1;
/// Flag of mba_msync: schedule the writes and return.
pub const MBA_ASYNC: u32 = 2;
/// Flag of mba_msync, with MBA_SYNC or MBA_ASYNC: also invalidate other cached copies.
pub const MBA_INVALIDATE: u32 = 4;

fn flags(value: u32, allowed: u32, what: &str) -> Result<Options> {
    if value & !allowed != 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("unknown or unsupported {what} flag bits {:#x}", value & !allowed),
        ));
    }
    Ok(Options {
        read_only: value & MBA_READ_ONLY != 0,
        exclusive: value & MBA_EXCLUSIVE != 0,
        overwrite: value & MBA_OVERWRITE != 0,
        mode: None,
    })
}

fn uri_of<'a>(uri: *const c_char) -> &'a OsStr {
    if uri.is_null() {
        return OsStr::new("");
    }
    // SAFETY: the caller passes a NUL-terminated string (documented).
    OsStr::from_bytes(unsafe { CStr::from_ptr(uri) }.to_bytes())
}

fn give(out: *mut *mut mba_array, inner: Array) {
    // SAFETY: out was checked non-NULL by the caller; written only now, on success.
    unsafe { *out = Box::into_raw(Box::new(mba_array { inner })) };
}

/// Creates a new array and returns a handle to it in `*out`.
///
/// - `uri`: `"shm://NAME"` (POSIX shared memory; NAME is 1 to 200 bytes without '/'),
///   `"file://PATH"`, or NULL or `""` for an anonymous array (a memfd; share it with
///   mba_fd and mba_attach_fd). Stores are created with mode 0600 (see mba_create_mode) and
///   close-on-exec, and appear under their name only once complete. An anonymous store is
///   sealed against shrinking.
/// - `dtype`: one of MBA_I8 .. MBA_F64; anything else is MBA_ERR_INVALID_ARGUMENT.
/// - `capacity`: elements to make room for now; 0 picks 64 KiB worth.
/// - `flags`: MBA_EXCLUSIVE and/or MBA_OVERWRITE.
///
/// Errors: MBA_ERR_EXISTS if the name is taken (without MBA_OVERWRITE), MBA_ERR_NO_SPACE if
/// the store cannot be allocated, MBA_ERR_INVALID_ARGUMENT, MBA_ERR_PERMISSION, MBA_ERR_IO.
/// Ownership: on MBA_OK, `*out` is a new handle the caller owns and must pass to mba_free;
/// on failure `*out` is untouched. Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_create(
    uri: *const c_char,
    dtype: u32,
    capacity: u64,
    flags: u32,
    out: *mut *mut mba_array,
) -> mba_status {
    ffi_status!("mba_create", { create(uri, dtype, capacity, flags, None, out) })
}

/// mba_create with the permission bits of a named store: `mode` is applied exactly, whatever
/// the umask, and must include owner read and write (0600). 0660 lets the owner's group attach;
/// 0644 lets anyone attach with MBA_READ_ONLY. Ignored for anonymous arrays.
///
/// Errors: as mba_create, and MBA_ERR_INVALID_ARGUMENT for a mode with bits beyond 0777 or
/// without 0600. Ownership and threads: as mba_create.
#[no_mangle]
pub extern "C" fn mba_create_mode(
    uri: *const c_char,
    dtype: u32,
    capacity: u64,
    flags: u32,
    mode: u32,
    out: *mut *mut mba_array,
) -> mba_status {
    ffi_status!("mba_create_mode", { create(uri, dtype, capacity, flags, Some(mode), out) })
}

fn create(
    uri: *const c_char,
    dtype: u32,
    capacity: u64,
    flags: u32,
    mode: Option<u32>,
    out: *mut *mut mba_array,
) -> Result<()> {
    let out = non_null!(out);
    let opts = Options { mode, ..self::flags(flags, MBA_EXCLUSIVE | MBA_OVERWRITE, "create")? };
    let Some(dtype) = Dtype::from_code(dtype) else {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown dtype code {dtype}")));
    };
    give(out, Array::create(uri_of(uri), dtype, capacity, opts)?);
    Ok(())
}

/// Attaches a new handle to the existing array named `uri` (`"shm://NAME"` or `"file://PATH"`).
///
/// - `flags`: MBA_READ_ONLY, or MBA_EXCLUSIVE, or 0 (read-write, appends share the lock).
///
/// Errors: MBA_ERR_NOT_FOUND, MBA_ERR_PERMISSION, MBA_ERR_CORRUPT (not an mba array, or
/// truncated), MBA_ERR_BUSY (MBA_EXCLUSIVE while another handle holds the lease),
/// MBA_ERR_INVALID_ARGUMENT (bad URI or flags, both MBA_READ_ONLY and MBA_EXCLUSIVE).
/// Ownership: on MBA_OK `*out` is a new handle for mba_free. Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_attach(uri: *const c_char, flags: u32, out: *mut *mut mba_array) -> mba_status {
    ffi_status!("mba_attach", {
        let out = non_null!(out);
        let uri = non_null!(uri);
        let opts = self::flags(flags, MBA_READ_ONLY | MBA_EXCLUSIVE, "attach")?;
        give(out, Array::attach(uri_of(uri), opts)?);
        Ok(())
    })
}

/// Attaches a new handle to the array in the store open as `fd` (an anonymous array's
/// memfd received over a Unix socket, or any descriptor of a shm object or file).
///
/// `fd` stays the caller's to close; the handle opens its own description of the same
/// store. `flags` as for mba_attach. Errors as for mba_attach.
/// Ownership: on MBA_OK `*out` is a new handle for mba_free. Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_attach_fd(fd: c_int, flags: u32, out: *mut *mut mba_array) -> mba_status {
    ffi_status!("mba_attach_fd", {
        let out = non_null!(out);
        let opts = self::flags(flags, MBA_READ_ONLY | MBA_EXCLUSIVE, "attach")?;
        give(out, Array::attach_fd(fd, opts)?);
        Ok(())
    })
}

/// Appends the element at `elem` (mba_itemsize bytes), growing the store if needed.
///
/// The element is visible to every reader, in every process, once the call returns, and
/// never partly. Errors: MBA_ERR_READ_ONLY, MBA_ERR_BUSY (another handle holds the lease),
/// MBA_ERR_NO_SPACE (the store could not grow; the array keeps what it had).
/// Threads: on a handle without MBA_EXCLUSIVE, any number of threads may append at once.
/// On an MBA_EXCLUSIVE handle, mba_append, mba_extend, mba_pop and mba_reserve must not run
/// in two threads at once (they take no lock); reads may run alongside.
#[no_mangle]
pub extern "C" fn mba_append(a: *mut mba_array, elem: *const c_void) -> mba_status {
    ffi_status!("mba_append", {
        let a = handle!(a);
        let elem = non_null!(elem);
        // SAFETY: elem points at itemsize readable bytes (documented contract).
        unsafe { a.append_raw(elem.cast()) }
    })
}

/// Appends `count` elements from `elems` (count * mba_itemsize bytes) in one step: readers
/// see none of them or all. `elems` may be NULL when `count` is 0.
///
/// Errors: as mba_append, and MBA_ERR_INVALID_ARGUMENT when count * itemsize overflows.
/// Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_extend(a: *mut mba_array, elems: *const c_void, count: u64) -> mba_status {
    ffi_status!("mba_extend", {
        let a = handle!(a);
        let elems = if count == 0 { elems } else { non_null!(elems) };
        // SAFETY: elems points at count * itemsize readable bytes (documented contract).
        unsafe { a.extend_raw(elems.cast(), count) }
    })
}

/// Copies element `index` to `out` (mba_itemsize bytes).
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS when `index >= mba_len(a)`; MBA_ERR_CORRUPT if a peer
/// claims a length the store does not hold. Threads: any number at once, alongside any call.
#[no_mangle]
pub extern "C" fn mba_get(a: *const mba_array, index: u64, out: *mut c_void) -> mba_status {
    ffi_status!("mba_get", {
        let a = handle!(a);
        let out = non_null!(out);
        // SAFETY: out points at itemsize writable bytes (documented contract).
        unsafe { a.get_raw(index, out.cast()) }
    })
}

/// Overwrites element `index` with the element at `elem`.
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS, MBA_ERR_READ_ONLY. Threads: any; two writers of the same
/// element at once leave one of the two values (each is written whole when aligned).
#[no_mangle]
pub extern "C" fn mba_set(a: *mut mba_array, index: u64, elem: *const c_void) -> mba_status {
    ffi_status!("mba_set", {
        let a = handle!(a);
        let elem = non_null!(elem);
        // SAFETY: elem points at itemsize readable bytes.
        unsafe { a.set_raw(index, elem.cast()) }
    })
}

/// Copies elements `start .. start + count` to `out` (count * mba_itemsize bytes).
/// `out` may be NULL when `count` is 0.
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS when the range passes mba_len (or start + count overflows),
/// MBA_ERR_INVALID_ARGUMENT when count * itemsize overflows. Threads: any.
#[no_mangle]
pub extern "C" fn mba_read(a: *const mba_array, start: u64, count: u64, out: *mut c_void) -> mba_status {
    ffi_status!("mba_read", {
        let a = handle!(a);
        let out = if count == 0 { out } else { non_null!(out) };
        // SAFETY: out points at count * itemsize writable bytes.
        unsafe { a.read_raw(start, count, out.cast()) }
    })
}

/// Overwrites elements `start .. start + count` with those at `elems`.
/// `elems` may be NULL when `count` is 0.
///
/// Errors: as mba_read, and MBA_ERR_READ_ONLY. Threads: any.
#[no_mangle]
pub extern "C" fn mba_write(a: *mut mba_array, start: u64, count: u64, elems: *const c_void) -> mba_status {
    ffi_status!("mba_write", {
        let a = handle!(a);
        let elems = if count == 0 { elems } else { non_null!(elems) };
        // SAFETY: elems points at count * itemsize readable bytes.
        unsafe { a.write_raw(start, count, elems.cast()) }
    })
}

/// Removes the last element and copies it to `out`.
///
/// Errors: MBA_ERR_EMPTY, MBA_ERR_READ_ONLY, MBA_ERR_BUSY. Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_pop(a: *mut mba_array, out: *mut c_void) -> mba_status {
    ffi_status!("mba_pop", {
        let a = handle!(a);
        let out = non_null!(out);
        // SAFETY: out points at itemsize writable bytes.
        unsafe { a.pop_raw(out.cast()) }
    })
}

/// Shortens the array to `len` elements (the removed ones become unpublished, as with mba_pop).
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS if `len` exceeds mba_len (it never grows the array),
/// MBA_ERR_READ_ONLY, MBA_ERR_BUSY. Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_truncate(a: *mut mba_array, len: u64) -> mba_status {
    ffi_status!("mba_truncate", {
        let a = handle!(a);
        a.truncate(len)
    })
}

/// Grows the store so it holds at least `capacity` elements without further growth,
/// allocating the storage now. Never shrinks.
///
/// Errors: MBA_ERR_NO_SPACE, MBA_ERR_READ_ONLY, MBA_ERR_BUSY. Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_reserve(a: *mut mba_array, capacity: u64) -> mba_status {
    ffi_status!("mba_reserve", {
        let a = handle!(a);
        a.reserve(capacity)
    })
}

/// Writes the array back to its store: the data first, then the header with the length
/// that covers it. `flags`: MBA_SYNC (wait) or MBA_ASYNC (schedule), optionally | MBA_INVALIDATE.
/// For a file array, MBA_SYNC makes everything appended before the call durable.
///
/// Errors: MBA_ERR_INVALID_ARGUMENT (neither or both of MBA_SYNC and MBA_ASYNC, unknown
/// bits), MBA_ERR_IO. Threads: any.
#[no_mangle]
pub extern "C" fn mba_msync(a: *mut mba_array, flags: u32) -> mba_status {
    ffi_status!("mba_msync", {
        let a = handle!(a);
        let (sync, async_) = (flags & MBA_SYNC != 0, flags & MBA_ASYNC != 0);
        if flags & !(MBA_SYNC | MBA_ASYNC | MBA_INVALIDATE) != 0 || sync == async_ {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("msync flags {flags:#x}: need exactly one of MBA_SYNC and MBA_ASYNC, optionally MBA_INVALIDATE"),
            ));
        }
        a.msync(sync, flags & MBA_INVALIDATE != 0)
    })
}

/// Closes a handle: unmaps the array, gives back the writer lease if it held it, and frees
/// the handle. The array itself stays (see mba_delete). NULL is a no-op returning MBA_OK.
///
/// Ownership: `a` is invalid afterwards, and so is every pointer mba_data returned for it.
/// Threads: no other call may be using `a`.
#[no_mangle]
pub extern "C" fn mba_free(a: *mut mba_array) -> mba_status {
    ffi_status!("mba_free", {
        if !a.is_null() {
            // SAFETY: a came from Box::into_raw in give() and is freed once (documented).
            drop(unsafe { Box::from_raw(a) });
        }
        Ok(())
    })
}

/// Removes the name `uri` (`"shm://NAME"` or `"file://PATH"`). Handles already attached keep
/// working; the storage is freed when the last one is closed.
///
/// Errors: MBA_ERR_NOT_FOUND, MBA_ERR_PERMISSION, MBA_ERR_INVALID_ARGUMENT. Threads: any.
#[no_mangle]
pub extern "C" fn mba_delete(uri: *const c_char) -> mba_status {
    ffi_status!("mba_delete", {
        let uri = non_null!(uri);
        crate::array::delete(uri_of(uri))
    })
}

/// The handle behind `a`, or None for NULL (for the getters, which answer 0 or NULL).
fn opt<'a>(a: *const mba_array) -> Option<&'a Array> {
    // SAFETY: a valid handle or NULL (the documented contract of every export).
    unsafe { a.as_ref() }.map(|h| &h.inner)
}

/// The published length: elements below it are fully written. 0 for NULL.
/// Threads: any; the value may grow at any time as other processes append.
#[no_mangle]
pub extern "C" fn mba_len(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_len", { opt(a).map_or(0, Array::len) })
}

/// Elements the store holds room for before it grows again, as the header says. 0 for NULL.
/// Threads: any.
#[no_mangle]
pub extern "C" fn mba_capacity(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_capacity", { opt(a).map_or(0, Array::capacity) })
}

/// The most elements this handle can address: its address-space reservation (1 TiB on
/// 64-bit systems, less under `ulimit -v`) less the header. Growth past it returns
/// MBA_ERR_NO_SPACE; attach a new handle to go further. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_max_capacity(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_max_capacity", { opt(a).map_or(0, Array::max_capacity) })
}

/// The element type code (MBA_I8 .. MBA_F64). 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_dtype(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_dtype", { opt(a).map_or(0, |a| a.dtype().code()) })
}

/// Bytes per element. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_itemsize(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_itemsize", { opt(a).map_or(0, |a| a.itemsize() as u32) })
}

/// A pointer to element 0, 64-byte aligned. It never moves while the handle lives,
/// however much the array grows. Elements `0 .. mba_len()` may be read through it (and
/// written, unless the handle is read-only: its pages are mapped read-only). NULL for NULL.
///
/// Ownership: the memory belongs to the handle; the pointer dies with mba_free.
/// Threads: any. Other processes may write the elements at any time.
#[no_mangle]
pub extern "C" fn mba_data(a: *const mba_array) -> *mut c_void {
    ffi_boundary!("mba_data", { opt(a).map_or(std::ptr::null_mut(), |a| a.data_ptr().cast()) })
}

/// The handle's descriptor of the store (close-on-exec), for passing an anonymous array to
/// another process (send it over a Unix socket; the receiver calls mba_attach_fd).
/// -1 for NULL.
///
/// Ownership: the descriptor belongs to the handle; do not close it; it dies with mba_free.
/// Threads: any.
#[no_mangle]
pub extern "C" fn mba_fd(a: *const mba_array) -> c_int {
    ffi_boundary!("mba_fd", { opt(a).map_or(-1, Array::fd) })
}

/// The library's version, such as `"0.1.0"`; compare with MBA_VERSION from the header.
/// Ownership: a static string. Threads: any.
#[no_mangle]
pub extern "C" fn mba_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
