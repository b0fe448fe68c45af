//! Rust tests of the C ABI: the `extern "C"` functions called directly, as C would.

mod common;
use common::Name;
use mba::ffi::*;
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};

fn last_error() -> String {
    unsafe { CStr::from_ptr(mba_last_error()) }.to_string_lossy().into_owned()
}

fn create(uri: &str, dtype: u32, flags: u32) -> *mut mba_array {
    let c = CString::new(uri).unwrap();
    let mut a = null_mut();
    assert_eq!(mba_create(c.as_ptr(), dtype, 0, flags, &mut a), MBA_OK, "{}", last_error());
    a
}

#[test]
fn null_handles_and_buffers_are_errors_naming_the_argument() {
    let n = Name::new("ffi-null");
    let a = create(n.uri(), MBA_U32, 0);
    let v = 1u32;
    let mut out = 0u32;
    let o = (&mut out as *mut u32).cast::<c_void>();
    let e = (&v as *const u32).cast::<c_void>();
    // Each call is checked as it returns: the last error belongs to the latest failure.
    macro_rules! null_case {
        ($arg:literal, $call:expr) => {{
            assert_eq!($call, MBA_ERR_NULL_POINTER, "{}", stringify!($call));
            let msg = last_error();
            assert!(msg.contains($arg) && msg.contains("is NULL"), "{}: {msg}", stringify!($call));
        }};
    }
    null_case!("`a`", mba_append(null_mut(), e));
    null_case!("`elem`", mba_append(a, null()));
    null_case!("`elems`", mba_extend(a, null(), 1));
    null_case!("`a`", mba_get(null(), 0, o));
    null_case!("`out`", mba_get(a, 0, null_mut()));
    null_case!("`elem`", mba_set(a, 0, null()));
    null_case!("`out`", mba_read(a, 0, 1, null_mut()));
    null_case!("`elems`", mba_write(a, 0, 1, null()));
    null_case!("`out`", mba_pop(a, null_mut()));
    null_case!("`a`", mba_reserve(null_mut(), 1));
    null_case!("`a`", mba_truncate(null_mut(), 0));
    null_case!("`a`", mba_msync(null_mut(), MBA_SYNC));
    null_case!("`out`", mba_create(null(), MBA_U8, 0, 0, null_mut()));
    null_case!("`uri`", mba_attach(null(), 0, &mut null_mut()));
    null_case!("`out`", mba_attach_fd(0, 0, null_mut()));
    null_case!("`uri`", mba_delete(null()));
    assert_eq!(mba_len(null()), 0);
    assert_eq!(mba_capacity(null()), 0);
    assert_eq!(mba_max_capacity(null()), 0);
    assert_eq!(mba_dtype(null()), 0);
    assert_eq!(mba_itemsize(null()), 0);
    assert!(mba_data(null()).is_null());
    assert_eq!(mba_fd(null()), -1);
    assert_eq!(mba_free(null_mut()), MBA_OK);
    // Zero counts accept NULL buffers.
    assert_eq!(mba_extend(a, null(), 0), MBA_OK);
    assert_eq!(mba_read(a, 0, 0, null_mut()), MBA_OK);
    assert_eq!(mba_write(a, 0, 0, null()), MBA_OK);
    assert_eq!(mba_free(a), MBA_OK);
}

#[test]
fn unknown_dtypes_and_flags_are_invalid_arguments() {
    let n = Name::new("ffi-flags");
    let c = CString::new(n.uri()).unwrap();
    let mut a = null_mut();
    for dtype in [0, 15, 0xFFFF_FFFF] {
        assert_eq!(mba_create(c.as_ptr(), dtype, 0, 0, &mut a), MBA_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains(&format!("unknown dtype code {dtype}")), "{}", last_error());
    }
    for flags in [MBA_SAME_OWNER, 32, 0x8000_0000, MBA_READ_ONLY] {
        assert_eq!(
            mba_create(c.as_ptr(), MBA_U8, 0, flags, &mut a),
            MBA_ERR_INVALID_ARGUMENT,
            "create flags {flags:#x}"
        );
    }
    for mode in [0o1777, 0o400, 0xFFFF_FFFF] {
        assert_eq!(mba_create_mode(c.as_ptr(), MBA_U8, 0, 0, mode, &mut a), MBA_ERR_INVALID_ARGUMENT);
        assert!(last_error().starts_with("mba_create_mode: create "), "{}", last_error());
    }
    assert!(a.is_null(), "output written on failure");
    assert_eq!(mba_create_mode(c.as_ptr(), MBA_U8, 0, 0, 0o640, &mut a), MBA_OK);
    assert_eq!(mba_free(a), MBA_OK);
    assert_eq!(mba_delete(c.as_ptr()), MBA_OK);
    let a = create(n.uri(), MBA_U8, 0);
    let mut b = null_mut();
    for flags in [MBA_OVERWRITE, MBA_FORCE, 32, MBA_READ_ONLY | MBA_EXCLUSIVE] {
        assert_eq!(
            mba_attach(c.as_ptr(), flags, &mut b),
            MBA_ERR_INVALID_ARGUMENT,
            "attach flags {flags:#x}"
        );
        assert_eq!(mba_attach_fd(mba_fd(a), flags, &mut b), MBA_ERR_INVALID_ARGUMENT);
    }
    assert!(b.is_null());
    for flags in [0, MBA_SYNC | MBA_ASYNC, MBA_INVALIDATE, MBA_SYNC | 8] {
        assert_eq!(mba_msync(a, flags), MBA_ERR_INVALID_ARGUMENT, "msync flags {flags:#x}");
    }
    assert_eq!(mba_msync(a, MBA_SYNC | MBA_INVALIDATE), MBA_OK);
    assert_eq!(mba_msync(a, MBA_ASYNC), MBA_OK);
    mba_free(a);
}

#[test]
fn bad_uris_are_invalid_arguments() {
    let mut a = null_mut();
    let long = format!("shm://{}", "x".repeat(201));
    for uri in ["shm://", "shm://a/b", "nope://x", "/tmp/x", long.as_str()] {
        let c = CString::new(uri).unwrap();
        assert_eq!(mba_create(c.as_ptr(), MBA_U8, 0, 0, &mut a), MBA_ERR_INVALID_ARGUMENT, "{uri}");
        assert!(last_error().starts_with("mba_create: create "), "{}", last_error());
        assert_eq!(mba_attach(c.as_ptr(), 0, &mut a), MBA_ERR_INVALID_ARGUMENT, "{uri}");
    }
    let bytes = CString::new(b"shm://mba-test-\xff\xfe".to_vec()).unwrap();
    assert_eq!(mba_attach(bytes.as_ptr(), 0, &mut a), MBA_ERR_NOT_FOUND, "non-UTF-8 names are names");
    assert!(a.is_null());
}

#[test]
fn outputs_are_written_only_on_success() {
    let n = Name::new("ffi-out");
    let a = create(n.uri(), MBA_U16, 0);
    let v = 7u16;
    assert_eq!(mba_append(a, (&v as *const u16).cast()), MBA_OK);
    let mut out = 0xAAAAu16;
    assert_eq!(mba_get(a, 1, (&mut out as *mut u16).cast()), MBA_ERR_OUT_OF_BOUNDS);
    assert_eq!(out, 0xAAAA);
    assert_eq!(mba_get(a, u64::MAX, (&mut out as *mut u16).cast()), MBA_ERR_OUT_OF_BOUNDS);
    let mut buf = [0xAAAAu16; 2];
    assert_eq!(mba_read(a, 0, 2, buf.as_mut_ptr().cast()), MBA_ERR_OUT_OF_BOUNDS);
    assert_eq!(mba_read(a, u64::MAX, 2, buf.as_mut_ptr().cast()), MBA_ERR_OUT_OF_BOUNDS);
    assert_eq!(buf, [0xAAAA; 2]);
    assert_eq!(mba_extend(a, buf.as_ptr().cast(), u64::MAX), MBA_ERR_INVALID_ARGUMENT);
    assert_eq!(mba_pop(a, (&mut out as *mut u16).cast()), MBA_OK);
    assert_eq!(out, 7);
    out = 0xAAAA;
    assert_eq!(mba_pop(a, (&mut out as *mut u16).cast()), MBA_ERR_EMPTY);
    assert_eq!(out, 0xAAAA);
    let c = CString::new(n.uri()).unwrap();
    let mut b = null_mut();
    assert_eq!(mba_create(c.as_ptr(), MBA_U16, 0, 0, &mut b), MBA_ERR_EXISTS);
    assert!(b.is_null());
    assert!(last_error().contains(n.uri()) && last_error().contains("File exists"), "{}", last_error());
    mba_free(a);
}

#[test]
fn status_strings_cover_every_code() {
    let codes = [
        MBA_OK,
        MBA_ERR_INVALID_ARGUMENT,
        MBA_ERR_NULL_POINTER,
        MBA_ERR_OUT_OF_BOUNDS,
        MBA_ERR_READ_ONLY,
        MBA_ERR_NOT_FOUND,
        MBA_ERR_EXISTS,
        MBA_ERR_CORRUPT,
        MBA_ERR_NO_SPACE,
        MBA_ERR_BUSY,
        MBA_ERR_EMPTY,
        MBA_ERR_PERMISSION,
        MBA_ERR_IO,
        MBA_ERR_PANIC,
        MBA_ERR_WRONG_PROCESS,
        MBA_ERR_CHANGED,
    ];
    // Values are part of the ABI: 0, then -1, -2, ... in this order.
    assert_eq!(
        codes.iter().enumerate().map(|(i, &c)| c + i as i32).collect::<Vec<_>>(),
        vec![0; codes.len()]
    );
    for c in codes {
        let s = unsafe { CStr::from_ptr(mba_status_str(c)) }.to_str().unwrap();
        assert!(s.starts_with("MBA_"), "{c}: {s}");
    }
    assert_eq!(unsafe { CStr::from_ptr(mba_status_str(-1000)) }.to_str().unwrap(), "unknown mba status");
}

#[test]
fn dtype_codes_and_version_match_the_core() {
    let codes = [MBA_I8, MBA_U8, MBA_I16, MBA_U16, MBA_I32, MBA_U32, MBA_I64, MBA_U64, MBA_F32, MBA_F64];
    for (d, c) in mba::Dtype::ALL.iter().zip(codes) {
        assert_eq!(d.code(), c);
        let a = create("", c, 0);
        assert_eq!(mba_dtype(a), c);
        assert_eq!(mba_itemsize(a) as usize, d.itemsize());
        mba_free(a);
    }
    let v = unsafe { CStr::from_ptr(mba_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn last_error_is_per_thread() {
    assert_eq!(mba_append(null_mut(), null()), MBA_ERR_NULL_POINTER);
    let here = last_error();
    let there = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(there, "", "a fresh thread has no last error");
    assert!(here.starts_with("mba_append: "), "{here}");
}

/// Bad names and paths through the ABI: each gives its documented status and a message that
/// names the cause.
#[test]
fn bad_names_and_paths_give_documented_statuses_and_causes() {
    let dir = common::TempDir::new("ffi-paths");
    std::fs::write(dir.0.join("text"), b"not an array at all\n".repeat(500)).unwrap();
    let long = format!("shm://{}", "n".repeat(300));
    let cases: Vec<(Vec<u8>, u32, mba_status, &str)> = vec![
        (b"shm://".to_vec(), 0, MBA_ERR_INVALID_ARGUMENT, "must be 1 to 200 bytes, not 0"),
        (long.clone().into_bytes(), 0, MBA_ERR_INVALID_ARGUMENT, "not 300"),
        (b"shm://a/b".to_vec(), 0, MBA_ERR_INVALID_ARGUMENT, "'/'"),
        (b"shm://mba-test-\xff\xfe-missing".to_vec(), 0, MBA_ERR_NOT_FOUND, "No such file or directory"),
        (b"ftp://host/x".to_vec(), 0, MBA_ERR_INVALID_ARGUMENT, "no known scheme"),
        (format!("file://{}", dir.0.display()).into_bytes(), 0, MBA_ERR_INVALID_ARGUMENT, "Is a directory"),
        (
            format!("file://{}", dir.0.display()).into_bytes(),
            MBA_READ_ONLY,
            MBA_ERR_INVALID_ARGUMENT,
            "not a regular file",
        ),
        (format!("file://{}/missing", dir.0.display()).into_bytes(), 0, MBA_ERR_NOT_FOUND, "No such file"),
        (format!("file://{}/text", dir.0.display()).into_bytes(), 0, MBA_ERR_CORRUPT, "bad magic"),
        (b"file:///bin/sh".to_vec(), MBA_READ_ONLY, MBA_ERR_CORRUPT, "not an mba array"),
        (b"file:///dev/null".to_vec(), MBA_READ_ONLY, MBA_ERR_INVALID_ARGUMENT, "not a regular file"),
    ];
    for (uri, flags, want, cause) in cases {
        let shown = String::from_utf8_lossy(&uri).into_owned();
        let c = CString::new(uri).unwrap();
        let mut a = null_mut();
        assert_eq!(mba_attach(c.as_ptr(), flags, &mut a), want, "{shown}: {}", last_error());
        assert!(a.is_null());
        let msg = last_error();
        assert!(msg.starts_with("mba_attach: attach ") && msg.contains(cause), "{shown}: {msg}");
    }
}
