//! Status codes, their names, and the per-thread last error message.

use crate::error::{Error, ErrorKind};
use std::cell::RefCell;
use std::ffi::{c_char, CString};

/// The result of every fallible call: `MBA_OK` (0) or a negative `MBA_ERR_*` code.
/// The values are stable: a code is never renumbered or reused.
#[allow(non_camel_case_types)]
pub type mba_status = i32;

/// Success.
pub const MBA_OK: mba_status = 0;
/// An argument is malformed: unknown dtype or flag bits, a bad URI, an overflowing count.
pub const MBA_ERR_INVALID_ARGUMENT: mba_status = -1;
/// A pointer argument that must not be NULL was NULL.
pub const MBA_ERR_NULL_POINTER: mba_status = -2;
/// An index or range lies outside `0 .. mba_len()`.
pub const MBA_ERR_OUT_OF_BOUNDS: mba_status = -3;
/// A mutation was asked of a handle attached with `MBA_READ_ONLY`.
pub const MBA_ERR_READ_ONLY: mba_status = -4;
/// No array has that name.
pub const MBA_ERR_NOT_FOUND: mba_status = -5;
/// The name is taken (mba_create without `MBA_OVERWRITE`).
pub const MBA_ERR_EXISTS: mba_status = -6;
/// The store is not a valid mba array, or its header contradicts the store.
pub const MBA_ERR_CORRUPT: mba_status = -7;
/// The disk, `/dev/shm`, or the handle's address reservation is full. The array is intact.
pub const MBA_ERR_NO_SPACE: mba_status = -8;
/// Another handle holds the writer lease, or the append lock was not released within the
/// handle's timeout (the message names the holder).
pub const MBA_ERR_BUSY: mba_status = -9;
/// mba_pop on an empty array.
pub const MBA_ERR_EMPTY: mba_status = -10;
/// The operating system denied access.
pub const MBA_ERR_PERMISSION: mba_status = -11;
/// Any other operating-system error; the message carries its errno text.
pub const MBA_ERR_IO: mba_status = -12;
/// mba itself failed unexpectedly (a bug); the handle may be used or freed.
pub const MBA_ERR_PANIC: mba_status = -13;
/// The handle was inherited through fork(): it belongs to the parent, so it refuses to change
/// the array. Attach the array anew in this process. Reads through it keep working.
pub const MBA_ERR_WRONG_PROCESS: mba_status = -14;
/// mba_splice with `expected`: the elements at the index are not the expected ones (another
/// process changed them); nothing was changed.
pub const MBA_ERR_CHANGED: mba_status = -15;

pub(crate) fn code_of(kind: ErrorKind) -> mba_status {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::TypeMismatch => MBA_ERR_INVALID_ARGUMENT,
        ErrorKind::NullPointer => MBA_ERR_NULL_POINTER,
        ErrorKind::OutOfBounds => MBA_ERR_OUT_OF_BOUNDS,
        ErrorKind::ReadOnly => MBA_ERR_READ_ONLY,
        ErrorKind::NotFound => MBA_ERR_NOT_FOUND,
        ErrorKind::Exists => MBA_ERR_EXISTS,
        ErrorKind::Corrupt => MBA_ERR_CORRUPT,
        ErrorKind::NoSpace => MBA_ERR_NO_SPACE,
        ErrorKind::Busy => MBA_ERR_BUSY,
        ErrorKind::Empty => MBA_ERR_EMPTY,
        ErrorKind::Permission => MBA_ERR_PERMISSION,
        ErrorKind::Io => MBA_ERR_IO,
        ErrorKind::WrongProcess => MBA_ERR_WRONG_PROCESS,
        ErrorKind::Changed => MBA_ERR_CHANGED,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn record(message: String) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

/// Records `e` as this thread's last error and returns its status.
#[cold]
pub(crate) fn fail(name: &str, e: Error) -> mba_status {
    let code = code_of(e.kind());
    record(format!("{name}: {e}"));
    code
}

#[inline]
pub(crate) fn status_of(name: &str, r: crate::Result<()>) -> mba_status {
    match r {
        Ok(()) => MBA_OK,
        Err(e) => fail(name, e),
    }
}

#[cold]
pub(crate) fn null_arg(what: &str) -> Error {
    Error::new(ErrorKind::NullPointer, format!("argument `{what}` is NULL"))
}

#[cold]
pub(crate) fn record_panic(name: &str, payload: Box<dyn std::any::Any + Send>) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    record(format!("{name}: internal error (panic): {what}"));
}

/// The message of the last call on this thread that failed: the export, the operation,
/// the array's URI and the cause (with the OS error text where there is one). `""` if
/// no call has failed on this thread.
///
/// Ownership: the string belongs to mba and stays valid until the next failing mba call on
/// the same thread; copy it to keep it. Never NULL.
/// Threads: each thread has its own last error. A caller whose code can move between OS
/// threads between two calls (a Go goroutine) must read it in the same OS thread, right
/// after the failing call.
#[no_mangle]
pub extern "C" fn mba_last_error() -> *const c_char {
    ffi_boundary!("mba_last_error", { LAST_ERROR.with(|l| l.borrow().as_ptr()) })
}

/// A static description of `status`, such as `"MBA_ERR_NO_SPACE: no space left for the array"`.
/// Unknown codes give `"unknown mba status"`.
///
/// Ownership: a static string; never free it. Never NULL. Threads: any thread.
#[no_mangle]
pub extern "C" fn mba_status_str(status: mba_status) -> *const c_char {
    let s: &'static std::ffi::CStr = match status {
        MBA_OK => c"MBA_OK: success",
        MBA_ERR_INVALID_ARGUMENT => c"MBA_ERR_INVALID_ARGUMENT: invalid argument",
        MBA_ERR_NULL_POINTER => c"MBA_ERR_NULL_POINTER: NULL pointer argument",
        MBA_ERR_OUT_OF_BOUNDS => c"MBA_ERR_OUT_OF_BOUNDS: index out of bounds",
        MBA_ERR_READ_ONLY => c"MBA_ERR_READ_ONLY: handle is read-only",
        MBA_ERR_NOT_FOUND => c"MBA_ERR_NOT_FOUND: no such array",
        MBA_ERR_EXISTS => c"MBA_ERR_EXISTS: array already exists",
        MBA_ERR_CORRUPT => c"MBA_ERR_CORRUPT: not a valid mba array",
        MBA_ERR_NO_SPACE => c"MBA_ERR_NO_SPACE: no space left for the array",
        MBA_ERR_BUSY => c"MBA_ERR_BUSY: the writer lease or the append lock is held by another handle",
        MBA_ERR_EMPTY => c"MBA_ERR_EMPTY: array is empty",
        MBA_ERR_PERMISSION => c"MBA_ERR_PERMISSION: permission denied",
        MBA_ERR_IO => c"MBA_ERR_IO: operating-system error",
        MBA_ERR_PANIC => c"MBA_ERR_PANIC: internal error",
        MBA_ERR_WRONG_PROCESS => c"MBA_ERR_WRONG_PROCESS: handle inherited through fork(); attach anew",
        MBA_ERR_CHANGED => c"MBA_ERR_CHANGED: the elements are no longer the expected ones",
        _ => c"unknown mba status",
    };
    s.as_ptr()
}
