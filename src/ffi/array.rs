//! The `mba_array` handle and its exports.

use super::error::*;
use crate::array::{Array, Options};
use crate::dtype::Dtype;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Header;
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
/// One byte, 0 false, 1 true (numpy `bool`).
pub const MBA_BOOL: u32 = 11;
/// IEEE 754 binary16 (numpy `float16`), passed as its 16 bits.
pub const MBA_F16: u32 = 12;
/// Two binary32, real then imaginary (numpy `complex64`, C `float _Complex`).
pub const MBA_C64: u32 = 13;
/// Two binary64, real then imaginary (numpy `complex128`, C `double _Complex`).
pub const MBA_C128: u32 = 14;

/// Flag of mba_attach and mba_attach_fd: map read-only; every mutator returns MBA_ERR_READ_ONLY.
pub const MBA_READ_ONLY: u32 = 1;
/// Flag of mba_create, mba_attach and mba_attach_fd: hold the writer lease for the handle's
/// life. Appends take a lock-free path; other appenders and exclusive attaches get MBA_ERR_BUSY.
pub const MBA_EXCLUSIVE: u32 = 2;
/// Flag of mba_create: replace an existing array of that name (its live handles keep the old one).
/// A file that is not an mba array is refused with MBA_ERR_CORRUPT unless MBA_FORCE is given too.
pub const MBA_OVERWRITE: u32 = 4;
/// Flag of mba_create (with MBA_OVERWRITE) and mba_delete_ex: replace or remove the file even if
/// it is not an mba array.
pub const MBA_FORCE: u32 = 8;
/// Flag of mba_attach and mba_attach_fd: refuse a store owned by another user
/// (MBA_ERR_PERMISSION), so a name planted by someone else is never used.
pub const MBA_SAME_OWNER: u32 = 16;
/// The most dimensions an array may have.
pub const MBA_MAX_DIMS: u32 = 8;
/// The bound of lock waits of a handle whose options name none, in milliseconds.
pub const MBA_DEFAULT_TIMEOUT_MS: u64 = crate::lock::DEFAULT_TIMEOUT_MS;

/// Flag of mba_msync: wait until the data and then the header are written to the store.
pub const MBA_SYNC: u32 = 1;
/// Flag of mba_msync: schedule the writes and return.
pub const MBA_ASYNC: u32 = 2;
/// Flag of mba_msync, with MBA_SYNC or MBA_ASYNC: also invalidate other cached copies.
pub const MBA_INVALIDATE: u32 = 4;

#[link_section = ".text.hot.mba"]
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
        force: value & MBA_FORCE != 0,
        same_owner: value & MBA_SAME_OWNER != 0,
        ..Options::default()
    })
}

/// Everything mba_create_ex and mba_attach_ex can be told. Fill it with mba_options_init, then
/// set the fields you need: the fields a call does not use must stay as mba_options_init left
/// them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct mba_options {
    /// `sizeof(mba_options)`, set by mba_options_init; lets later versions grow the struct.
    pub struct_size: u32,
    /// MBA_READ_ONLY, MBA_EXCLUSIVE, MBA_OVERWRITE, MBA_FORCE, MBA_SAME_OWNER, as the call allows.
    pub flags: u32,
    /// Create: the element type (MBA_I8 .. MBA_C128).
    pub dtype: u32,
    /// Create: permission bits of a named store; 0 for 0600. Must include 0600.
    pub mode: u32,
    /// Create: elements to make room for now; 0 for 64 KiB worth.
    pub capacity: u64,
    /// Create: the most elements the array may ever hold; 0 for the default (4 GiB worth, or
    /// the file system's size if smaller). Every handle reserves address space for this many.
    pub max_capacity: u64,
    /// Create: dimensions, 1 to MBA_MAX_DIMS (0 means 1).
    pub ndim: u32,
    /// Create: a binding's typecode hint, stored in the header and given back by mba_typecode.
    pub typecode: u32,
    /// Create: `shape[1 .. ndim]` are the extents of the axes after the first (C order); the
    /// first axis is the one that grows, and `shape[0]` is ignored.
    pub shape: [u64; 8],
    /// The bound of every lock wait of the handle, in milliseconds; 0 for MBA_DEFAULT_TIMEOUT_MS.
    pub timeout_ms: u64,
    /// Attach of `raw://PATH` and mba_attach_raw_fd: where the region starts in the file, in
    /// bytes (a multiple of the item size, of 8 for 16-byte types). 0 otherwise.
    pub offset: u64,
    /// Attach of `raw://PATH` and mba_attach_raw_fd: the region's size in bytes, 0 for "to the
    /// end of the file". 0 otherwise.
    pub length: u64,
}

/// The size of mba_options before `offset` and `length` were added: callers built against
/// that header pass it in struct_size, and get those two fields as 0.
const OPTIONS_V1_SIZE: usize = std::mem::offset_of!(mba_options, offset);

impl Default for mba_options {
    fn default() -> Self {
        mba_options {
            struct_size: std::mem::size_of::<mba_options>() as u32,
            flags: 0,
            dtype: 0,
            mode: 0,
            capacity: 0,
            max_capacity: 0,
            ndim: 1,
            typecode: 0,
            shape: [0; 8],
            timeout_ms: 0,
            offset: 0,
            length: 0,
        }
    }
}

/// Fills `*o` with the defaults: no flags, dtype 0 (set one to create), mode 0600, default
/// capacity and maximum capacity, one dimension, no typecode, the default timeout, offset and
/// length 0. NULL is a no-op.
/// Threads: any.
#[no_mangle]
pub extern "C" fn mba_options_init(o: *mut mba_options) {
    ffi_boundary!("mba_options_init", {
        // SAFETY: o is NULL or points at a writable mba_options (documented contract).
        if let Some(o) = unsafe { o.as_mut() } {
            *o = mba_options::default();
        }
    })
}

/// The core options of `o`, with its flags checked against `allowed`.
fn options_of(o: *const mba_options, allowed: u32, what: &str) -> Result<(Options, u32, u64)> {
    let o = read_options(o)?;
    if o.offset != 0 || o.length != 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "offset and length are options of raw:// only"));
    }
    let mode = match o.mode {
        0 => None,
        m => Some(m),
    };
    let opts = Options {
        mode,
        max_capacity: o.max_capacity,
        ndim: o.ndim,
        shape: o.shape,
        typecode: o.typecode,
        timeout_ms: o.timeout_ms,
        ..flags(o.flags, allowed, what)?
    };
    Ok((opts, o.dtype, o.capacity))
}

/// A copy of the caller's `*o`: the first `struct_size` bytes of it (at least the size of the
/// struct before `offset` and `length` were added, whose callers get 0 there).
pub(crate) fn read_options(o: *const mba_options) -> Result<mba_options> {
    let o = non_null!(o);
    // SAFETY: o points at a readable mba_options of at least its struct_size (documented).
    let size = unsafe { std::ptr::addr_of!((*o).struct_size).read() } as usize;
    if size < OPTIONS_V1_SIZE {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("mba_options.struct_size is {size}: fill the struct with mba_options_init"),
        ));
    }
    let mut out = mba_options::default();
    let n = size.min(std::mem::size_of::<mba_options>());
    // SAFETY: o is readable for `size >= n` bytes, out writable for its own size >= n; a
    // struct of integers, so any bytes are a valid value.
    unsafe { std::ptr::copy_nonoverlapping(o.cast::<u8>(), (&mut out as *mut mba_options).cast::<u8>(), n) };
    out.struct_size = std::mem::size_of::<mba_options>() as u32;
    Ok(out)
}

pub(crate) fn dtype_of(code: u32) -> Result<Dtype> {
    Dtype::from_code(code)
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("unknown dtype code {code}")))
}

/// Creates a new array as `*o` says (dtype, capacity, maximum capacity, shape, mode, typecode,
/// timeout and flags MBA_EXCLUSIVE, MBA_OVERWRITE, MBA_FORCE) and returns a handle in `*out`.
/// `uri` as for mba_create.
///
/// Errors: as mba_create; MBA_ERR_INVALID_ARGUMENT for an unfilled struct, a bad shape, a
/// capacity above the maximum; MBA_ERR_NO_SPACE when the maximum capacity is more than the
/// file system (or, for an anonymous array, the machine's memory) can hold, or its address
/// space cannot be reserved; MBA_ERR_CORRUPT when MBA_OVERWRITE would replace a file that is
/// not an mba array (add MBA_FORCE). Ownership: on MBA_OK `*out` is a new handle for mba_free;
/// `*o` stays the caller's. Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_create_ex(
    uri: *const c_char,
    o: *const mba_options,
    out: *mut *mut mba_array,
) -> mba_status {
    ffi_status!("mba_create_ex", {
        let out = non_null!(out);
        let (opts, dtype, capacity) = options_of(o, MBA_EXCLUSIVE | MBA_OVERWRITE | MBA_FORCE, "create")?;
        give(out, Array::create(uri_of(uri), dtype_of(dtype)?, capacity, opts)?);
        Ok(())
    })
}

/// Attaches to the array named `uri` as `*o` says (flags MBA_READ_ONLY, MBA_EXCLUSIVE,
/// MBA_SAME_OWNER, and timeout_ms; the create fields must stay as mba_options_init left them).
///
/// `raw://PATH` maps a headerless file (or the byte range `offset .. offset + length` of it) as
/// an array of `dtype` (required) with rows of `shape[1 .. ndim]`, and `npy://PATH` a `.npy`
/// file; both have a fixed length (see mba_attach_raw_fd and docs/FORMAT.md).
///
/// Errors: as mba_attach, and MBA_ERR_PERMISSION for a store of another user with
/// MBA_SAME_OWNER. Ownership: on MBA_OK `*out` is a new handle for mba_free. Threads: any.
#[no_mangle]
pub extern "C" fn mba_attach_ex(
    uri: *const c_char,
    o: *const mba_options,
    out: *mut *mut mba_array,
) -> mba_status {
    ffi_status!("mba_attach_ex", {
        let out = non_null!(out);
        let uri = non_null!(uri);
        if let Some(a) = super::raw::attach_ex(uri_of(uri), o)? {
            give(out, a); // raw:// and npy:// (see ffi/raw.rs)
            return Ok(());
        }
        let (opts, dtype, capacity) =
            options_of(o, MBA_READ_ONLY | MBA_EXCLUSIVE | MBA_SAME_OWNER, "attach")?;
        check_no_create_fields(dtype, capacity)?;
        give(out, Array::attach(uri_of(uri), opts)?);
        Ok(())
    })
}

/// mba_attach_fd as `*o` says (see mba_attach_ex).
///
/// Errors, ownership and threads: as mba_attach_fd and mba_attach_ex.
#[no_mangle]
pub extern "C" fn mba_attach_fd_ex(fd: c_int, o: *const mba_options, out: *mut *mut mba_array) -> mba_status {
    ffi_status!("mba_attach_fd_ex", {
        let out = non_null!(out);
        let (opts, dtype, capacity) =
            options_of(o, MBA_READ_ONLY | MBA_EXCLUSIVE | MBA_SAME_OWNER, "attach")?;
        check_no_create_fields(dtype, capacity)?;
        give(out, Array::attach_fd(fd, opts)?);
        Ok(())
    })
}

fn check_no_create_fields(dtype: u32, capacity: u64) -> Result<()> {
    if dtype != 0 || capacity != 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "dtype and capacity are create options"));
    }
    Ok(())
}

#[link_section = ".text.hot.mba"]
pub(crate) fn uri_of<'a>(uri: *const c_char) -> &'a OsStr {
    if uri.is_null() {
        return OsStr::new("");
    }
    // SAFETY: the caller passes a NUL-terminated string (documented).
    OsStr::from_bytes(unsafe { CStr::from_ptr(uri) }.to_bytes())
}

#[link_section = ".text.hot.mba"]
pub(crate) fn give(out: *mut *mut mba_array, inner: Array) {
    super::macros::give_box(out, mba_array { inner });
}

/// Creates a new array and returns a handle to it in `*out`.
///
/// - `uri`: `"shm://NAME"` (POSIX shared memory; NAME is 1 to 200 bytes without '/'),
///   `"file://PATH"`, or NULL or `""` for an anonymous array (a memfd; share it with
///   mba_fd and mba_attach_fd). Stores are created with mode 0600 (see mba_create_mode) and
///   close-on-exec, and appear under their name only once complete. An anonymous store is
///   sealed against shrinking.
/// - `dtype`: one of MBA_I8 .. MBA_C128; anything else is MBA_ERR_INVALID_ARGUMENT.
/// - `capacity`: elements to make room for now; 0 picks 64 KiB worth.
/// - `flags`: any of MBA_EXCLUSIVE, MBA_OVERWRITE and MBA_FORCE (with MBA_OVERWRITE).
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
    let opts = Options { mode, ..self::flags(flags, MBA_EXCLUSIVE | MBA_OVERWRITE | MBA_FORCE, "create")? };
    give(out, Array::create(uri_of(uri), dtype_of(dtype)?, capacity, opts)?);
    Ok(())
}

/// Attaches a new handle to the existing array named `uri` (`"shm://NAME"` or `"file://PATH"`),
/// or maps the `.npy` file `"npy://PATH"` (fixed length; see mba_attach_ex, which also maps raw
/// files with `"raw://PATH"`).
///
/// - `flags`: MBA_READ_ONLY, or MBA_EXCLUSIVE, or 0 (read-write, appends share the lock).
///
/// Errors: MBA_ERR_NOT_FOUND, MBA_ERR_PERMISSION, MBA_ERR_CORRUPT (not an mba array, or
/// truncated), MBA_ERR_BUSY (MBA_EXCLUSIVE while another handle holds the lease),
/// MBA_ERR_INVALID_ARGUMENT (bad URI or flags, both MBA_READ_ONLY and MBA_EXCLUSIVE).
/// Ownership: on MBA_OK `*out` is a new handle for mba_free. Threads: any thread.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_attach(uri: *const c_char, flags: u32, out: *mut *mut mba_array) -> mba_status {
    ffi_status!("mba_attach", {
        let out = non_null!(out);
        let uri = non_null!(uri);
        let opts = self::flags(flags, MBA_READ_ONLY | MBA_EXCLUSIVE | MBA_SAME_OWNER, "attach")?;
        give(out, Array::attach(uri_of(uri), opts)?);
        Ok(())
    })
}

/// Attaches a new handle to the array in the store open as `fd` (an anonymous array's
/// memfd received over a Unix socket, or any descriptor of a shm object or file).
///
/// The descriptor is a capability: the handle works with the access it carries (an O_RDWR
/// descriptor allows writing even where the path's permissions would not), no path is looked
/// up, and nothing of the handle's coordination state is tied to the descriptor, so neither the
/// sender nor anyone else holding it can affect the new handle. `fd` stays the caller's to
/// close; the handle keeps a duplicate. `flags` as for mba_attach.
///
/// Errors: as for mba_attach; MBA_ERR_PERMISSION when a read-only descriptor is attached
/// without MBA_READ_ONLY. Ownership: on MBA_OK `*out` is a new handle for mba_free.
/// Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_attach_fd(fd: c_int, flags: u32, out: *mut *mut mba_array) -> mba_status {
    ffi_status!("mba_attach_fd", {
        let out = non_null!(out);
        let opts = self::flags(flags, MBA_READ_ONLY | MBA_EXCLUSIVE | MBA_SAME_OWNER, "attach")?;
        give(out, Array::attach_fd(fd, opts)?);
        Ok(())
    })
}

/// Appends the element at `elem` (mba_itemsize bytes), growing the store if needed.
///
/// The element is visible to every reader, in every process, once the call returns, and
/// never partly. Errors: MBA_ERR_READ_ONLY, MBA_ERR_BUSY (another handle holds the lease, or
/// the append lock was not released within the handle's timeout), MBA_ERR_NO_SPACE (the
/// store could not grow, or the array is at its maximum capacity; the array keeps what it
/// had), MBA_ERR_INVALID_ARGUMENT (the array has rows of more than one element: use
/// mba_extend), MBA_ERR_WRONG_PROCESS (the handle was inherited through fork()).
/// Threads: on a handle without MBA_EXCLUSIVE, any number of threads may append at once.
/// On an MBA_EXCLUSIVE handle, mba_append, mba_extend, mba_pop, mba_truncate, mba_splice and
/// mba_reserve must not run in two threads at once (they take no lock); reads may run alongside.
#[no_mangle]
#[link_section = ".text.hot.mba.fast"]
pub extern "C" fn mba_append(a: *mut mba_array, elem: *const c_void) -> mba_status {
    ffi_status!("mba_append", {
        let a = handle!(a);
        let elem = non_null!(elem);
        // SAFETY: elem points at itemsize readable bytes, and the caller serialises the
        // length-changing calls of an exclusive handle (documented contract).
        unsafe { a.append_raw_unsync(elem.cast()) }
    })
}

/// Appends `count` elements from `elems` (count * mba_itemsize bytes) in one step: readers
/// see none of them or all. `elems` may be NULL when `count` is 0. For an array with a shape,
/// `count` must be a whole number of rows (mba_row_size elements each).
///
/// Errors: as mba_append, and MBA_ERR_INVALID_ARGUMENT when count * itemsize overflows or
/// `count` is not a whole number of rows.
/// Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_extend(a: *mut mba_array, elems: *const c_void, count: u64) -> mba_status {
    ffi_status!("mba_extend", {
        let a = handle!(a);
        let elems = if count == 0 { elems } else { non_null!(elems) };
        // SAFETY: elems points at count * itemsize readable bytes; the caller serialises
        // exclusive handles (documented contract).
        unsafe { a.extend_raw_unsync(elems.cast(), count) }
    })
}

/// Copies element `index` to `out` (mba_itemsize bytes).
///
/// Errors: MBA_ERR_OUT_OF_BOUNDS when `index >= mba_len(a)`; MBA_ERR_CORRUPT if a peer
/// claims a length the store does not hold. Threads: any number at once, alongside any call.
#[no_mangle]
#[link_section = ".text.hot.mba.fast"]
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
#[link_section = ".text.hot.mba.fast"]
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

/// Removes the last element (the last row, mba_row_size elements, for an array with a shape)
/// and copies it to `out`.
///
/// Errors: MBA_ERR_EMPTY, MBA_ERR_READ_ONLY, MBA_ERR_BUSY, MBA_ERR_WRONG_PROCESS.
/// Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_pop(a: *mut mba_array, out: *mut c_void) -> mba_status {
    ffi_status!("mba_pop", {
        let a = handle!(a);
        let out = non_null!(out);
        // SAFETY: out points at one row of writable bytes; exclusive handles serialised by the caller.
        unsafe { a.pop_raw_unsync(out.cast()) }
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
        // SAFETY: the caller serialises the length-changing calls of an exclusive handle.
        unsafe { a.truncate_unsync(len) }
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
        // SAFETY: the caller serialises the length-changing calls of an exclusive handle.
        unsafe { a.reserve_unsync(capacity) }
    })
}

/// Replaces the `delete_count` elements at `index` with the `insert_count` elements at `elems`,
/// in one step under the append lock (or the lease): the removed elements are copied to
/// `removed` (if it is not NULL; delete_count * mba_itemsize bytes), the tail moves, the new
/// elements are written, and the new length is published once. The room is made before anything
/// moves, so a failure leaves the array as it was and writes nothing to `removed`. Insert is
/// `delete_count` 0, delete is `insert_count` 0, and `pop(i)` is a delete of one with `removed`.
/// Counts and `index` are whole rows for an array with a shape. `elems` may be NULL when
/// `insert_count` is 0; no buffer may point into this array.
///
/// `expected` makes it a compare-and-splice: if it is not NULL, the call changes nothing and
/// returns MBA_ERR_CHANGED unless the `delete_count` elements at `index` are, byte for byte,
/// those at `expected` (delete_count * mba_itemsize bytes). `remove(x)` in a binding finds x,
/// then splices with the element it found as `expected`, and searches again on MBA_ERR_CHANGED.
///
/// Readers see the length change once; elements from `index` on change in place during the
/// call. Errors: MBA_ERR_OUT_OF_BOUNDS (`index + delete_count` past mba_len), MBA_ERR_CHANGED,
/// MBA_ERR_INVALID_ARGUMENT, MBA_ERR_NO_SPACE, MBA_ERR_READ_ONLY, MBA_ERR_BUSY,
/// MBA_ERR_WRONG_PROCESS. Threads: as mba_append.
#[no_mangle]
pub extern "C" fn mba_splice(
    a: *mut mba_array,
    index: u64,
    delete_count: u64,
    expected: *const c_void,
    removed: *mut c_void,
    elems: *const c_void,
    insert_count: u64,
) -> mba_status {
    ffi_status!("mba_splice", {
        let a = handle!(a);
        let elems = if insert_count == 0 { elems } else { non_null!(elems) };
        // SAFETY: elems points at insert_count * itemsize readable bytes and removed (if not
        // NULL) at delete_count * itemsize writable bytes, outside the array; the caller
        // serialises the length-changing calls of an exclusive handle.
        unsafe {
            a.splice_raw_unsync(
                index,
                delete_count,
                expected.cast(),
                removed.cast(),
                elems.cast(),
                insert_count,
            )
        }
    })
}

/// Sets the bound of every lock wait of handle `a`, in milliseconds (0: MBA_DEFAULT_TIMEOUT_MS).
/// A call that waits longer for the append lock fails with MBA_ERR_BUSY naming the holder; a
/// real-time caller can choose a short bound to fail fast.
///
/// Errors: MBA_ERR_NULL_POINTER. Threads: any.
#[no_mangle]
pub extern "C" fn mba_set_timeout(a: *mut mba_array, timeout_ms: u64) -> mba_status {
    ffi_status!("mba_set_timeout", {
        handle!(a).set_timeout(timeout_ms);
        Ok(())
    })
}

/// Writes the array back to its store: the data up to the published length first, then the
/// header holding that length. `flags`: MBA_SYNC (wait) or MBA_ASYNC (schedule), optionally
/// | MBA_INVALIDATE. A writable handle without MBA_EXCLUSIVE holds the append lock meanwhile, so
/// no other shared appender publishes a length whose data is not written first. For a file
/// array, MBA_SYNC makes everything appended before the call durable.
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
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_free(a: *mut mba_array) -> mba_status {
    ffi_status!("mba_free", {
        super::macros::free_box(a);
        Ok(())
    })
}

/// Removes the name `uri` (`"shm://NAME"` or `"file://PATH"`). Handles already attached keep
/// working; the storage is freed when the last one is closed. A file that is not an mba array
/// (or a symbolic link) is not removed: use mba_delete_ex with MBA_FORCE.
///
/// Errors: MBA_ERR_NOT_FOUND, MBA_ERR_PERMISSION, MBA_ERR_INVALID_ARGUMENT, MBA_ERR_CORRUPT
/// (not an mba array). Threads: any.
#[no_mangle]
pub extern "C" fn mba_delete(uri: *const c_char) -> mba_status {
    ffi_status!("mba_delete", {
        let uri = non_null!(uri);
        crate::array::delete(uri_of(uri))
    })
}

/// mba_delete with `flags`: 0, or MBA_FORCE to remove the name even if it is not an mba array.
///
/// Errors: as mba_delete, and MBA_ERR_INVALID_ARGUMENT for unknown flag bits. Threads: any.
#[no_mangle]
pub extern "C" fn mba_delete_ex(uri: *const c_char, flags: u32) -> mba_status {
    ffi_status!("mba_delete_ex", {
        let uri = non_null!(uri);
        let opts = self::flags(flags, MBA_FORCE, "delete")?;
        crate::array::delete_with(uri_of(uri), opts.force)
    })
}

/// The handle behind `a`, or None for NULL (for the getters, which answer 0 or NULL).
fn opt<'a>(a: *const mba_array) -> Option<&'a Array> {
    // SAFETY: a valid handle or NULL (the documented contract of every export).
    unsafe { a.as_ref() }.map(|h| &h.inner)
}

/// The published length: elements below it are fully written, and all of them can be read
/// through mba_data(). When the header claims more than the store backs (a peer wrote it),
/// the handle re-checks the store and returns what it can read; the checked calls (mba_get,
/// mba_read) report such a claim as MBA_ERR_CORRUPT. 0 for NULL.
/// Threads: any; the value may grow at any time as other processes append.
#[no_mangle]
#[link_section = ".text.hot.mba.fast"]
pub extern "C" fn mba_len(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_len", { opt(a).map_or(0, Array::len) })
}

/// Elements the store holds room for before it grows again, as the header says. 0 for NULL.
/// Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_capacity(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_capacity", { opt(a).map_or(0, Array::capacity) })
}

/// The most elements the array may ever hold, fixed at create (mba_options.max_capacity) and
/// the same in every process; each handle reserves address space for exactly this many.
/// Growth past it returns MBA_ERR_NO_SPACE. 0 for NULL. Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_max_capacity(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_max_capacity", { opt(a).map_or(0, Array::max_capacity) })
}

/// The element type code (MBA_I8 .. MBA_C128). 0 for NULL. Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_dtype(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_dtype", { opt(a).map_or(0, |a| a.dtype().code()) })
}

/// Bytes per element. 0 for NULL. Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_itemsize(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_itemsize", { opt(a).map_or(0, |a| a.itemsize() as u32) })
}

/// Number of dimensions, 1 to MBA_MAX_DIMS. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_ndim(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_ndim", { opt(a).map_or(0, Array::ndim) })
}

/// Elements per row: the product of the extents of the axes after the first (1 for a
/// one-dimensional array). Appends, pops and splices move whole rows. 0 for NULL. Threads: any.
#[no_mangle]
pub extern "C" fn mba_row_size(a: *const mba_array) -> u64 {
    ffi_boundary!("mba_row_size", { opt(a).map_or(0, Array::row_size) })
}

/// Writes the shape now to `shape[0 .. mba_ndim(a)]`: `shape[0]` is the number of rows
/// (mba_len / mba_row_size), the rest the fixed extents. `shape` must have room for
/// mba_ndim(a) values (MBA_MAX_DIMS always suffices).
///
/// Errors: MBA_ERR_NULL_POINTER. Threads: any.
#[no_mangle]
pub extern "C" fn mba_shape(a: *const mba_array, shape: *mut u64) -> mba_status {
    ffi_status!("mba_shape", {
        let a = handle!(a);
        let shape = non_null!(shape);
        for (i, d) in a.shape().into_iter().enumerate() {
            // SAFETY: shape has room for ndim values (documented contract).
            unsafe { shape.add(i).write(d) };
        }
        Ok(())
    })
}

/// The typecode hint stored at create (mba_options.typecode), 0 for none or for NULL.
/// Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_typecode(a: *const mba_array) -> u32 {
    ffi_boundary!("mba_typecode", { opt(a).map_or(0, Array::typecode) })
}

/// The live header of the array, for bindings that read `len` without a call. NULL for NULL.
///
/// It is shared memory that peers may write at any moment: load its live fields atomically
/// (`__atomic_load_n(&h->len, __ATOMIC_ACQUIRE)`), and never read elements past the last value
/// mba_len() returned: a larger `len` in the header must be confirmed by calling mba_len().
/// Ownership: the handle's; dies with mba_free. Threads: any.
#[no_mangle]
#[link_section = ".text.hot.mba"]
pub extern "C" fn mba_header_ptr(a: *const mba_array) -> *const Header {
    ffi_boundary!("mba_header_ptr", { opt(a).map_or(std::ptr::null(), Array::header_ptr) })
}

/// A pointer to element 0, 64-byte aligned (for a raw or `.npy` handle, aligned to the item
/// size, or to 8 for 16-byte types: the file decides). It never moves while the handle lives,
/// however much the array grows. Elements `0 .. mba_len()` may be read through it (and
/// written, unless the handle is read-only: its pages are mapped read-only), using a length
/// returned by mba_len(), never one read from the header: mba_len() guarantees that many are
/// mapped and backed. NULL for NULL.
///
/// Ownership: the memory belongs to the handle; the pointer dies with mba_free.
/// Threads: any. Other processes may write the elements at any time.
#[no_mangle]
#[link_section = ".text.hot.mba"]
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
