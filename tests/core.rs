//! Integration tests of the Rust core: each behaviour of docs/GUARANTEES.md, in one process
//! with several handles (each with its own descriptor and mapping, as in another process).

mod common;
use common::{excl, poke, ro, rw, Name, TempDir};
use mba::{Array, Dtype, ErrorKind, Options};

#[test]
fn every_dtype_round_trips() {
    fn check<T: mba::Element + PartialEq + std::fmt::Debug>(vals: &[T]) {
        let n = Name::new("dtype");
        let a = Array::create(n.uri(), T::DTYPE, 2, rw()).unwrap();
        assert_eq!(a.dtype(), T::DTYPE);
        assert_eq!(a.itemsize(), std::mem::size_of::<T>());
        for v in vals {
            a.push(*v).unwrap();
        }
        let b = Array::attach(n.uri(), ro()).unwrap();
        assert_eq!(b.dtype(), T::DTYPE);
        assert_eq!(b.to_vec::<T>().unwrap(), vals);
    }
    check(&[i8::MIN, -1, 0, i8::MAX]);
    check(&[0u8, 1, 255]);
    check(&[i16::MIN, 0, i16::MAX]);
    check(&[0u16, 65535]);
    check(&[i32::MIN, -7, i32::MAX]);
    check(&[0u32, 7, u32::MAX]);
    check(&[i64::MIN, i64::MAX]);
    check(&[0u64, u64::MAX]);
    check(&[1.5f32, -0.0, f32::INFINITY]);
    check(&[std::f64::consts::PI, f64::MIN_POSITIVE]);
}

#[test]
fn reader_attached_at_capacity_4_sees_growth_without_reattach() {
    let n = Name::new("growth");
    let w = Array::create(n.uri(), Dtype::U32, 4, rw()).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    assert_eq!(r.capacity(), w.capacity());
    let (wp, rp) = (w.data_ptr(), r.data_ptr());
    for i in 0..2_000_000u32 {
        w.push(i).unwrap();
    }
    assert_eq!(r.len(), 2_000_000);
    assert_eq!(r.get::<u32>(1_999_999).unwrap(), 1_999_999);
    assert!(r.capacity() >= 2_000_000);
    assert_eq!(w.data_ptr(), wp, "writer's data pointer moved");
    assert_eq!(r.data_ptr(), rp, "reader's data pointer moved");
    // Reading straight through the pointer taken at capacity 4.
    let through_ptr = unsafe { std::ptr::read_volatile(rp.cast::<u32>().add(1_999_999)) };
    assert_eq!(through_ptr, 1_999_999);
    assert_eq!(rp as usize % 64, 0, "data must be 64-byte aligned");
}

#[test]
fn growth_also_works_with_the_lease_and_with_extend() {
    let n = Name::new("grow-excl");
    let w = Array::create(n.uri(), Dtype::U64, 1, excl()).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    let chunk: Vec<u64> = (0..10_000).collect();
    for _ in 0..50 {
        w.extend_from_slice(&chunk).unwrap();
    }
    for i in 0..1000u64 {
        w.push(i).unwrap();
    }
    assert_eq!(r.len(), 501_000);
    assert_eq!(r.get::<u64>(499_999).unwrap(), 9_999);
    assert_eq!(r.get::<u64>(500_999).unwrap(), 999);
}

#[test]
fn exclusive_lease_excludes_other_appenders_until_dropped() {
    let n = Name::new("lease");
    let owner = Array::create(n.uri(), Dtype::I32, 0, excl()).unwrap();
    assert!(owner.is_exclusive());
    let e = Array::attach(n.uri(), excl()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    let holder = "the writer lease is held by slot";
    assert!(e.to_string().starts_with(&format!("attach {}: ", n.uri())), "{e}");
    assert!(
        e.to_string().contains(holder) && e.to_string().contains(&format!("(pid {})", std::process::id())),
        "{e}"
    );
    let other = Array::attach(n.uri(), rw()).unwrap();
    for e in [
        other.push(1i32).unwrap_err(),
        other.extend_from_slice(&[1i32, 2]).unwrap_err(),
        other.pop::<i32>().unwrap_err(),
        other.reserve(1 << 20).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(e.to_string().contains(&format!(" {}: the writer lease is held by slot", n.uri())), "{e}");
    }
    owner.push(5i32).unwrap();
    other.set(0, 6i32).unwrap(); // in-place writes need no lease
    assert_eq!(owner.get::<i32>(0).unwrap(), 6);
    drop(owner);
    other.push(7i32).unwrap();
    let again = Array::attach(n.uri(), excl()).unwrap();
    again.push(8i32).unwrap();
    assert_eq!(again.to_vec::<i32>().unwrap(), vec![6, 7, 8]);
}

#[test]
fn read_only_handles_refuse_every_mutation() {
    let n = Name::new("ro");
    let w = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    w.extend_from_slice(&[1u8, 2, 3]).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    assert!(r.is_read_only());
    let errs = [
        r.push(1u8).unwrap_err(),
        r.extend_from_slice(&[1u8]).unwrap_err(),
        r.extend_from_slice::<u8>(&[]).unwrap_err(),
        r.set(0, 1u8).unwrap_err(),
        r.write_from(0, &[1u8]).unwrap_err(),
        r.pop::<u8>().unwrap_err(),
        r.reserve(100).unwrap_err(),
    ];
    for e in errs {
        assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    }
    assert_eq!(r.to_vec::<u8>().unwrap(), vec![1, 2, 3]);
    assert_eq!(
        Array::attach(n.uri(), Options { read_only: true, exclusive: true, ..rw() }).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        Array::create(Name::new("ro2").uri(), Dtype::U8, 0, ro()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn create_refuses_an_existing_name_unless_overwrite() {
    let n = Name::new("exists");
    let old = Array::create(n.uri(), Dtype::U16, 0, rw()).unwrap();
    old.push(1u16).unwrap();
    let e = Array::create(n.uri(), Dtype::U16, 0, rw()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Exists);
    assert!(e.to_string().contains(n.uri()) && e.to_string().contains("File exists"), "{e}");
    let new = Array::create(n.uri(), Dtype::F64, 0, Options { overwrite: true, ..rw() }).unwrap();
    assert_eq!(new.len(), 0);
    assert_eq!(Array::attach(n.uri(), rw()).unwrap().dtype(), Dtype::F64);
    assert_eq!(old.get::<u16>(0).unwrap(), 1, "old handle keeps the replaced array");
}

#[test]
fn delete_removes_the_name_but_live_handles_keep_working() {
    let n = Name::new("delete");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    let b = Array::attach(n.uri(), rw()).unwrap();
    mba::delete(n.uri()).unwrap();
    assert!(!std::path::Path::new(&n.path()).exists());
    let e = Array::attach(n.uri(), rw()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("No such file"), "{e}");
    for i in 0..100_000u32 {
        a.push(i).unwrap();
    }
    assert_eq!(b.get::<u32>(99_999).unwrap(), 99_999);
    assert_eq!(mba::delete(n.uri()).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn attaching_what_is_not_an_array_is_corrupt() {
    let d = TempDir::new("corrupt");
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", vec![]),
        ("short", vec![0u8; 100]),
        ("zeros", vec![0u8; 8192]),
        ("text", b"#!/bin/sh\necho hello\n".repeat(400)),
    ];
    for (name, bytes) in cases {
        let p = d.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = Array::attach(d.uri(name), rw()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{name}: {e}");
        assert!(e.to_string().contains(&p.display().to_string()), "{name}: message names the path: {e}");
    }
    // A valid array truncated below its data offset.
    let a = Array::create(d.uri("trunc"), Dtype::U32, 0, rw()).unwrap();
    drop(a);
    std::fs::OpenOptions::new().write(true).open(d.0.join("trunc")).unwrap().set_len(1000).unwrap();
    assert_eq!(Array::attach(d.uri("trunc"), rw()).unwrap_err().kind(), ErrorKind::Corrupt);
    // Directories and missing paths.
    assert_eq!(
        Array::attach(format!("file://{}", d.0.display()), ro()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(Array::attach(d.uri("missing"), rw()).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn bounds_and_overflow_are_errors() {
    let n = Name::new("bounds");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    a.extend_from_slice(&[10u32, 11, 12]).unwrap();
    for i in [3, 4, u64::MAX] {
        assert_eq!(a.get::<u32>(i).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(a.set(i, 0u32).unwrap_err().kind(), ErrorKind::OutOfBounds);
    }
    let mut buf = [0u32; 2];
    assert_eq!(a.read_into(2, &mut buf).unwrap_err().kind(), ErrorKind::OutOfBounds);
    let e = unsafe { a.read_raw(u64::MAX, 2, buf.as_mut_ptr().cast()) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds, "start + count overflow: {e}");
    let e = unsafe { a.extend_raw([0u8; 4].as_ptr(), u64::MAX / 2) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "count * itemsize overflow: {e}");
    let e = unsafe { a.read_raw(0, u64::MAX / 2, buf.as_mut_ptr().cast()) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{e}");
    assert_eq!(a.get::<u64>(0).unwrap_err().kind(), ErrorKind::TypeMismatch);
    a.read_into(1, &mut buf).unwrap();
    assert_eq!(buf, [11, 12]);
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![10, 11, 12], "failed calls changed nothing");
}

#[test]
fn pop_returns_the_last_element_then_empty() {
    for opts in [rw(), excl()] {
        let n = Name::new("pop");
        let a = Array::create(n.uri(), Dtype::I64, 0, opts).unwrap();
        a.extend_from_slice(&[1i64, 2, 3]).unwrap();
        assert_eq!(a.pop::<i64>().unwrap(), 3);
        assert_eq!(a.pop::<i64>().unwrap(), 2);
        a.push(9i64).unwrap();
        assert_eq!(a.to_vec::<i64>().unwrap(), vec![1, 9]);
        a.pop::<i64>().unwrap();
        a.pop::<i64>().unwrap();
        assert_eq!(a.pop::<i64>().unwrap_err().kind(), ErrorKind::Empty);
        assert_eq!(a.len(), 0);
    }
}

#[test]
fn truncate_shortens_but_never_grows() {
    for opts in [rw(), excl()] {
        let n = Name::new("truncate");
        let a = Array::create(n.uri(), Dtype::U16, 0, opts).unwrap();
        a.extend_from_slice(&[1u16, 2, 3, 4]).unwrap();
        assert_eq!(a.truncate(5).unwrap_err().kind(), ErrorKind::OutOfBounds);
        a.truncate(2).unwrap();
        assert_eq!(a.to_vec::<u16>().unwrap(), vec![1, 2]);
        a.push(9u16).unwrap();
        assert_eq!(a.to_vec::<u16>().unwrap(), vec![1, 2, 9]);
        a.truncate(0).unwrap();
        assert!(a.is_empty());
    }
    let n = Name::new("truncate-ro");
    let _w = Array::create(n.uri(), Dtype::U16, 0, rw()).unwrap();
    assert_eq!(Array::attach(n.uri(), ro()).unwrap().truncate(0).unwrap_err().kind(), ErrorKind::ReadOnly);
}

#[test]
fn anonymous_arrays_are_shared_through_their_fd() {
    let a = Array::create("", Dtype::F32, 0, rw()).unwrap();
    a.push(1.25f32).unwrap();
    let b = Array::attach_fd(a.fd(), rw()).unwrap();
    assert_ne!(a.fd(), b.fd(), "the new handle has its own descriptor");
    b.push(2.5f32).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.25, 2.5]);
    for i in 0..100_000 {
        a.push(i as f32).unwrap();
    }
    assert_eq!(b.get::<f32>(100_001).unwrap(), 99_999.0);
    assert_eq!(Array::attach_fd(-1, rw()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Array::attach("", rw()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(mba::delete("").unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn threads_appending_through_one_shared_handle_lose_nothing() {
    let n = Name::new("threads");
    let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    const T: u64 = 4;
    const PER: u64 = 50_000;
    std::thread::scope(|s| {
        for t in 0..T {
            let a = &a;
            s.spawn(move || {
                for i in 0..PER {
                    a.push(t << 32 | i).unwrap();
                }
            });
        }
        // A reader thread on another handle: every prefix it sees is fully written.
        s.spawn(|| {
            let mut last = 0;
            while last < T * PER {
                let len = r.len();
                assert!(len >= last, "length went backwards");
                if len > 0 {
                    let v = r.get::<u64>(len - 1).unwrap();
                    assert!(v >> 32 < T && (v & 0xFFFF_FFFF) < PER, "torn or unwritten element {v:#x}");
                }
                last = len;
            }
        });
    });
    let v = a.to_vec::<u64>().unwrap();
    assert_eq!(v.len() as u64, T * PER);
    let mut next = [0u64; T as usize];
    for x in v {
        let (t, i) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
        assert_eq!(i, next[t], "writer {t} out of order or duplicated");
        next[t] += 1;
    }
}

#[test]
fn a_lock_or_lease_left_by_a_dead_slot_is_taken_over() {
    let n = Name::new("dead-owner");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    a.push(1u32).unwrap();
    // Slot 12345 is held by no one: as if its owner died holding the lock, then the lease.
    let dead_word = (7u64 << 25) | 12345;
    poke(&n.path(), mba::layout::OFF_LOCK as u64, &(dead_word | 1 << 24).to_ne_bytes());
    a.push(2u32).unwrap();
    poke(&n.path(), mba::layout::OFF_LEASE as u64, &dead_word.to_ne_bytes());
    a.push(3u32).unwrap();
    let e = Array::attach(n.uri(), excl()).unwrap();
    e.push(4u32).unwrap();
    assert_eq!(e.to_vec::<u32>().unwrap(), vec![1, 2, 3, 4]);
    drop(e);
    // A slot in the table whose process is gone: its lock and lease are taken over.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let ident = dead_pid as u64 | (12u64 << 22);
    poke(&n.path(), 256 + 8 * 6, &ident.to_ne_bytes()); // slot 7
    let dead7 = (9u64 << 25) | 7;
    poke(&n.path(), mba::layout::OFF_LOCK as u64, &(dead7 | 1 << 24).to_ne_bytes());
    a.push(5u32).unwrap();
    poke(&n.path(), mba::layout::OFF_LEASE as u64, &dead7.to_ne_bytes());
    a.push(6u32).unwrap();
    let e = Array::attach(n.uri(), excl()).unwrap();
    e.push(7u32).unwrap();
    assert_eq!(e.to_vec::<u32>().unwrap(), vec![1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn a_scribbled_header_gives_errors_not_crashes() {
    let n = Name::new("scribble");
    let w = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    w.extend_from_slice(&[1u32, 2, 3]).unwrap();
    let off_len = mba::layout::OFF_LEN as u64;
    let backed = (std::fs::metadata(n.path()).unwrap().len() - 4096) / 4;
    for bogus in [1u64 << 40, u64::MAX, u64::MAX / 4 + 1] {
        poke(&n.path(), off_len, &bogus.to_ne_bytes());
        // len() never claims more than the handle can read: what the store backs.
        assert_eq!(r.len(), backed);
        assert_eq!(w.len(), backed);
        let e = r.get::<u32>(bogus - 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert!(e.to_string().contains("length") && e.to_string().contains(n.uri()), "{e}");
        assert_eq!(r.to_vec::<u32>().unwrap_err().kind(), ErrorKind::Corrupt);
        let e = w.push(9u32).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Corrupt,
            "an append at an absurd length must fail, not write outside: {e}"
        );
    }
    poke(&n.path(), off_len, &3u64.to_ne_bytes());
    poke(&n.path(), mba::layout::OFF_CAPACITY as u64, &0u64.to_ne_bytes());
    w.push(4u32).unwrap();
    assert_eq!(r.to_vec::<u32>().unwrap(), vec![1, 2, 3, 4]);
    // Scribbling the fixed fields after attach changes nothing for live handles.
    poke(&n.path(), 20, &99u32.to_ne_bytes());
    assert_eq!(r.get::<u32>(3).unwrap(), 4);
    assert_eq!(Array::attach(n.uri(), ro()).unwrap_err().kind(), ErrorKind::Corrupt);
}

#[test]
fn file_arrays_persist_and_msync() {
    let d = TempDir::new("file");
    let uri = d.uri("persist.mba");
    {
        let a = Array::create(&uri, Dtype::F64, 0, excl()).unwrap();
        for i in 0..10_000 {
            a.push(i as f64 * 0.5).unwrap();
        }
        a.msync(true, false).unwrap();
        a.msync(false, true).unwrap();
    }
    let meta = std::fs::metadata(d.0.join("persist.mba")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let b = Array::attach(&uri, ro()).unwrap();
    assert_eq!(b.len(), 10_000);
    assert_eq!(b.get::<f64>(9_999).unwrap(), 4999.5);
    b.msync(true, false).unwrap();
}

#[test]
fn stores_are_close_on_exec() {
    let n = Name::new("cloexec");
    let d = TempDir::new("cloexec");
    for a in [
        Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap(),
        Array::attach(n.uri(), ro()).unwrap(),
        Array::create(d.uri("f"), Dtype::U8, 0, rw()).unwrap(),
        Array::create("", Dtype::U8, 0, rw()).unwrap(),
    ] {
        let flags = unsafe { libc::fcntl(a.fd(), libc::F_GETFD) };
        assert!(flags >= 0 && flags & libc::FD_CLOEXEC != 0, "{}: fd flags {flags:#x}", a.uri());
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(n.path()).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn mode_sets_exact_permissions_and_is_validated() {
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o660, 0o644, 0o666, 0o600] {
        let n = Name::new("mode");
        let _a = Array::create(n.uri(), Dtype::U8, 0, Options { mode: Some(mode), ..rw() }).unwrap();
        // 0o660 would be 0o640 under the usual umask 022: the mode is applied exactly.
        assert_eq!(std::fs::metadata(n.path()).unwrap().permissions().mode() & 0o777, mode);
    }
    for bad in [0o400, 0o1777, 0o7600, 0] {
        let e = Array::create(Name::new("mode-bad").uri(), Dtype::U8, 0, Options { mode: Some(bad), ..rw() })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:o}: {e}");
        assert!(e.to_string().contains(&format!("mode {bad:o}")), "{e}");
    }
    let n = Name::new("mode-attach");
    let _a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    let e = Array::attach(n.uri(), Options { mode: Some(0o600), ..rw() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn anonymous_stores_cannot_be_shrunk_by_a_peer() {
    let a = Array::create("", Dtype::U64, 0, rw()).unwrap();
    a.extend_from_slice(&[1u64, 2, 3]).unwrap();
    // A peer holding the descriptor tries to cut the store: the seal refuses it.
    assert_ne!(unsafe { libc::ftruncate(a.fd(), 100) }, 0);
    assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EPERM));
    for i in 0..100_000u64 {
        a.push(i).unwrap(); // growing is still allowed
    }
    assert_eq!(a.get::<u64>(2).unwrap(), 3);
}

#[test]
fn the_header_records_the_creator_pid_and_start_time() {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 =
        stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap();
    for _ in 0..2 {
        // twice: the second create uses the cached start time
        let n = Name::new("creator");
        let _a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
        let bytes = std::fs::read(n.path()).unwrap();
        let field = |off: usize| u64::from_ne_bytes(bytes[off..off + 8].try_into().unwrap());
        assert_eq!(field(48), std::process::id() as u64);
        assert_eq!(field(56), start);
        assert!(field(128) > 1_600_000_000_000_000_000, "created_ns is a Unix time in ns");
    }
}

#[test]
fn reserve_grows_without_changing_len() {
    let n = Name::new("reserve");
    let a = Array::create(n.uri(), Dtype::U8, 1, rw()).unwrap();
    a.reserve(10_000_000).unwrap();
    assert!(a.capacity() >= 10_000_000);
    assert_eq!(a.len(), 0);
    let size = std::fs::metadata(n.path()).unwrap().len();
    assert!(size >= 4096 + 10_000_000);
    let e = a.reserve(u64::MAX).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::NoSpace), "{e}");
    assert!(a.max_capacity() >= 1 << 30);
}

#[test]
fn errors_name_the_operation_the_uri_and_the_os_cause() {
    let e = Array::attach("shm://mba-test-no-such-array", rw()).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("attach shm://mba-test-no-such-array: open /dev/shm/mba-test-no-such-array: No such file or directory"), "{s}");
    let e = Array::create("ftp://x", Dtype::U8, 0, rw()).unwrap_err();
    assert!(e.to_string().contains("no known scheme"), "{e}");
}
