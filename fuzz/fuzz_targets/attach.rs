//! Any bytes as a store: attaching must give an error or a handle, and a handle must give
//! values or errors for every read, never a crash or an access outside its mapping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mba::{Array, Options};

fuzz_target!(|data: &[u8]| {
    // The header parser on its own.
    if data.len() >= mba::layout::HEADER_SIZE {
        let bytes: &[u8; mba::layout::HEADER_SIZE] = data[..mba::layout::HEADER_SIZE].try_into().unwrap();
        let _ = mba::layout::Header::from_bytes(bytes).validate(data.len() as u64);
    }
    // The whole attach path, on a memfd holding the bytes.
    let fd = unsafe { libc::memfd_create(c"fuzz".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0);
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    assert_eq!(written, data.len() as isize);
    for opts in [Options { read_only: true, ..Options::default() }, Options::default()] {
        if let Ok(a) = Array::attach_fd(fd, opts) {
            let len = a.len();
            let mut out = [0u8; 8];
            for i in [0, 1, len.saturating_sub(1), len, len / 2, u64::MAX] {
                let _ = unsafe { a.get_raw(i, out.as_mut_ptr()) };
            }
            let mut buf = vec![0u8; 4096];
            let n = (4096 / a.itemsize()) as u64;
            let _ = unsafe { a.read_raw(len.saturating_sub(n), n.min(len), buf.as_mut_ptr()) };
            if !a.is_read_only() {
                let _ = unsafe { a.append_raw(out.as_ptr()) };
                let _ = unsafe { a.pop_raw(out.as_mut_ptr()) };
            }
        }
    }
    unsafe { libc::close(fd) };
});
