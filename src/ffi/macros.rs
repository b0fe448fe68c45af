//! The panic boundary and pointer checks shared by every export.

use super::error::{mba_status, MBA_ERR_PANIC};
use std::ffi::{c_char, c_int, c_void};

/// What an export returns when its body panicked (the panic itself is recorded as the
/// thread's last error).
pub(crate) trait PanicValue {
    fn panic_value() -> Self;
}
impl PanicValue for mba_status {
    fn panic_value() -> Self {
        MBA_ERR_PANIC
    }
}
impl PanicValue for u64 {
    fn panic_value() -> Self {
        0
    }
}
impl PanicValue for u32 {
    fn panic_value() -> Self {
        0
    }
}
impl PanicValue for *mut c_void {
    fn panic_value() -> Self {
        std::ptr::null_mut()
    }
}
impl PanicValue for *const crate::layout::Header {
    fn panic_value() -> Self {
        std::ptr::null()
    }
}
impl PanicValue for () {
    fn panic_value() -> Self {}
}
impl PanicValue for *const c_char {
    fn panic_value() -> Self {
        c"".as_ptr()
    }
}
const _: () = {
    // mba_fd returns an int too: -13 (MBA_ERR_PANIC) is negative, as every "no fd" answer is.
    let _check: fn() -> c_int = <mba_status as PanicValue>::panic_value;
};

/// Hands a new handle to C: `*out` (checked non-NULL by the caller) receives the boxed `v`.
/// Called last, on success only, so outputs are written only when the call succeeds.
pub(crate) fn give_box<T>(out: *mut *mut T, v: T) {
    // SAFETY: out is non-NULL (the caller's non_null! check) and writable (documented contract).
    unsafe { *out = Box::into_raw(Box::new(v)) };
}

/// Frees a handle made by [`give_box`]; NULL is a no-op, as every `_free` export promises.
pub(crate) fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: p came from give_box and is freed once (the documented contract of `_free`).
        drop(unsafe { Box::from_raw(p) });
    }
}

/// Runs an export's body, turning a panic into the return type's panic value.
/// `$name` names the export in the recorded message.
macro_rules! ffi_boundary {
    ($name:literal, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(payload) => {
                $crate::ffi::error::record_panic($name, payload);
                $crate::ffi::macros::PanicValue::panic_value()
            }
        }
    };
}

/// Runs a status-returning export whose body yields `Result<()>`: `MBA_OK`, or the
/// error's status with its message recorded for `mba_last_error`.
macro_rules! ffi_status {
    ($name:literal, $body:block) => {
        ffi_boundary!($name, {
            // The closure gives `?` and `return Err(..)` a scope of their own.
            #[allow(clippy::redundant_closure_call)]
            let r: $crate::Result<()> = (|| $body)();
            $crate::ffi::error::status_of($name, r)
        })
    };
}

/// `Err(NullPointer)` naming the argument if `p` is NULL, else `p`.
macro_rules! non_null {
    ($p:ident) => {
        if $p.is_null() {
            return Err($crate::ffi::error::null_arg(stringify!($p)));
        } else {
            $p
        }
    };
}

/// The handle behind a non-NULL `mba_array` pointer, or `Err(NullPointer)`.
macro_rules! handle {
    ($p:ident) => {{
        let p = non_null!($p);
        // SAFETY: the caller passes a pointer returned by mba_create/mba_attach and not yet
        // freed (the documented contract of every export); non-NULL was checked above.
        unsafe { &(*p).inner }
    }};
}
