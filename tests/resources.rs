//! Many arrays, bounded resources, untrusted stores (docs/GUARANTEES.md §4 and §10).

mod common;
use common::cprog::{build, run_ok, run_on_small_tmpfs};
use common::{ro, rw, Name, TempDir};
use mba::{Array, Dtype, ErrorKind, Options};

#[test]
fn every_handle_agrees_on_the_maximum_capacity_and_growth_stops_there() {
    let n = Name::new("max");
    let a = Array::create(n.uri(), Dtype::U32, 4, Options { max_capacity: 5000, ..rw() }).unwrap();
    let b = Array::attach(n.uri(), ro()).unwrap();
    assert_eq!((a.max_capacity(), b.max_capacity()), (5000, 5000));
    a.extend_from_slice(&(0..5000u32).collect::<Vec<_>>()).unwrap();
    let e = a.push(1u32).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert!(e.to_string().contains("maximum capacity of 5000"), "{e}");
    assert_eq!(a.reserve(5001).unwrap_err().kind(), ErrorKind::NoSpace);
    assert_eq!(b.len(), 5000);
    assert_eq!(b.get::<u32>(4999).unwrap(), 4999);
    let e = Array::create(n.uri(), Dtype::U32, 10, Options { max_capacity: 5, overwrite: true, ..rw() })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "capacity above the maximum: {e}");
}

#[test]
fn the_default_maximum_is_4_gib_or_the_file_system_and_more_must_fit_it() {
    let n = Name::new("default-max");
    let a = Array::create(n.uri(), Dtype::U64, 0, rw()).unwrap();
    let shm = std::fs::metadata("/dev/shm").map(|_| ()).ok();
    assert!(shm.is_some());
    assert!(a.max_capacity() * 8 <= mba::DEFAULT_MAX_BYTES);
    assert!(a.max_capacity() > 0);
    let anon = Array::create("", Dtype::U8, 0, rw()).unwrap();
    assert_eq!(anon.max_capacity(), mba::DEFAULT_MAX_BYTES.min(anon.max_capacity()));
    // A maximum larger than the machine's memory cannot be asked of an anonymous array.
    let e = Array::create("", Dtype::U8, 0, Options { max_capacity: u64::MAX / 2, ..rw() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert!(e.to_string().contains("memory"), "{e}");
}

fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024
}

#[test]
fn an_anonymous_array_never_asks_for_more_memory_than_the_machine_has() {
    // Its maximum is the whole of memory; reserving it must fail before allocating anything
    // (MemAvailable is always below MemTotal), so this test cannot take the machine down.
    let total = mem_total();
    let a = Array::create("", Dtype::U8, 0, Options { max_capacity: total, ..rw() }).unwrap();
    let e = a.reserve(total).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert!(e.to_string().contains("memory"), "{e}");
    a.push(1u8).unwrap();
    assert_eq!(a.to_vec::<u8>().unwrap(), vec![1]);
    // The default-maximum path says so too.
    let b = Array::create("", Dtype::U64, 0, rw()).unwrap();
    let e = b.reserve(u64::MAX / 16).unwrap_err();
    assert!(e.to_string().contains("maximum capacity"), "{e}");
}

#[test]
fn ten_thousand_arrays_in_one_process_and_memory_left_over() {
    // SAFETY: plain getrlimit/setrlimit on this process.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        assert!(rl.rlim_cur >= 10_300, "this test needs 10,300 descriptors (ulimit -n)");
    }
    let dir = TempDir::new("many");
    let names: Vec<Name> = (0..3400).map(|_| Name::new("many")).collect();
    let mut arrays = Vec::with_capacity(10_100);
    for (i, n) in names.iter().enumerate() {
        arrays.push(Array::create(n.uri(), Dtype::U32, 1, rw()).unwrap_or_else(|e| panic!("shm {i}: {e}")));
    }
    for i in 0..3300 {
        let uri = dir.uri(&format!("a{i}.mba"));
        arrays.push(Array::create(&uri, Dtype::U32, 1, rw()).unwrap_or_else(|e| panic!("file {i}: {e}")));
    }
    for i in 0..3300 {
        arrays.push(Array::create("", Dtype::U32, 1, rw()).unwrap_or_else(|e| panic!("memfd {i}: {e}")));
    }
    // And attached again: 100 more handles on arrays already open.
    for n in names.iter().take(100) {
        arrays.push(Array::attach(n.uri(), rw()).unwrap());
    }
    assert_eq!(arrays.len(), 10_100);
    // Grow a hundred of them, spread over the three kinds, by 10,000 elements each.
    let picks: Vec<usize> = (0..100).map(|k| k * 100 + 7).collect();
    let before: Vec<*mut u8> = picks.iter().map(|&i| arrays[i].data_ptr()).collect();
    let values: Vec<u32> = (0..10_000).collect();
    for &i in &picks {
        arrays[i].extend_from_slice(&values).unwrap();
    }
    for (k, &i) in picks.iter().enumerate() {
        assert_eq!(arrays[i].data_ptr(), before[k], "array {i}'s data moved");
        assert_eq!(arrays[i].len(), 10_000);
        assert_eq!(arrays[i].get::<u32>(9_999).unwrap(), 9_999);
    }
    // The process can still allocate and map a gibibyte.
    // SAFETY: plain malloc/mmap/munmap/free of fresh memory.
    unsafe {
        let p = libc::malloc(1 << 30);
        assert!(!p.is_null(), "malloc(1 GiB) failed with 10,100 handles open");
        libc::free(p);
        let m = libc::mmap(
            std::ptr::null_mut(),
            1 << 30,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(m, libc::MAP_FAILED, "mmap(1 GiB) failed with 10,100 handles open");
        libc::munmap(m, 1 << 30);
    }
}

#[test]
fn growth_under_a_file_size_limit_is_no_space_not_sigxfsz() {
    let prog = build("tests/c/resources.c");
    let dir = TempDir::new("fsize");
    let out = run_ok(&prog, &["fsize", dir.0.to_str().unwrap()]);
    assert!(out.contains("ok fsize len="), "{out}");
}

#[test]
fn a_hole_a_peer_made_on_a_full_tmpfs_is_an_error_not_sigbus() {
    let prog = build("tests/c/resources.c");
    let dir = TempDir::new("hole");
    let out = run_on_small_tmpfs(&dir.0, &prog, &["hole", dir.0.to_str().unwrap()]);
    assert!(out.contains("ok hole"), "{out}");
}

#[test]
fn a_hole_hidden_from_the_block_count_is_an_error_not_sigbus() {
    // st_blocks counts pages anywhere in the file: a peer that allocates as many pages past the
    // reservation or past the end of the file made the hole look backed (SIGBUS before).
    let prog = build("tests/c/resources.c");
    let dir = TempDir::new("hole-tricks");
    let out = run_on_small_tmpfs(&dir.0, &prog, &["hole-tricks", dir.0.to_str().unwrap()]);
    assert_eq!(out.matches("ok hole-tricks").count(), 4, "{out}");
}

#[test]
fn a_peer_that_enlarges_the_file_makes_an_attach_allocate_nothing() {
    // A writable handle used to allocate the whole file, up to its reservation, at attach: a
    // peer's free ftruncate became 256 MiB of memory per attaching process, unchecked.
    use std::os::unix::fs::MetadataExt;
    let n = Name::new("enlarged");
    let a = Array::create(n.uri(), Dtype::U8, 16, Options { max_capacity: 256 << 20, ..rw() }).unwrap();
    a.extend_from_slice(&[7u8; 16]).unwrap();
    std::fs::OpenOptions::new().write(true).open(n.path()).unwrap().set_len(1 << 30).unwrap();
    let allocated = || std::fs::metadata(n.path()).unwrap().blocks() * 512;
    let before = allocated();
    for opts in [rw(), ro()] {
        let b = Array::attach(n.uri(), opts).unwrap();
        assert_eq!(b.to_vec::<u8>().unwrap(), vec![7u8; 16]);
        assert!(allocated() <= before + 4096, "an attach allocated {} bytes", allocated() - before);
    }
    // Appends still grow into the enlarged file, allocating as they go.
    let w = Array::attach(n.uri(), rw()).unwrap();
    w.extend_from_slice(&[1u8; 100_000]).unwrap();
    assert_eq!(a.len(), 100_016);
    assert!(allocated() < 1 << 30);
}

#[test]
fn shm_names_never_follow_a_symbolic_link() {
    let victim = TempDir::new("victim");
    let target = victim.0.join("real.mba");
    let real = Array::create(format!("file://{}", target.display()), Dtype::U32, 0, rw()).unwrap();
    real.push(1u32).unwrap();
    // Planted by this user, and by another (nobody), in /dev/shm.
    let mine = Name::new("link-mine");
    std::os::unix::fs::symlink(&target, mine.path()).unwrap();
    let theirs = Name::new("link-theirs");
    let prog = build("tests/c/resources.c");
    let out = run_ok(&prog, &["nobody-symlink", &theirs.path(), target.to_str().unwrap()]);
    assert!(out.contains("ok planted"), "{out}");
    for n in [&mine, &theirs] {
        for opts in [rw(), ro()] {
            let e = Array::attach(n.uri(), opts).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        // Nor is the link deleted or overwritten as if it were an array.
        assert_eq!(mba::delete(n.uri()).unwrap_err().kind(), ErrorKind::Corrupt);
    }
    assert_eq!(real.to_vec::<u32>().unwrap(), vec![1], "the file behind the links is untouched");
}

#[test]
fn overwrite_and_delete_refuse_a_file_that_is_not_an_array_unless_forced() {
    let n = Name::new("not-array");
    std::fs::write(n.path(), b"precious data, not an mba array").unwrap();
    let e = mba::delete(n.uri()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("not an mba array"), "{e}");
    let e = Array::create(n.uri(), Dtype::U8, 0, Options { overwrite: true, ..rw() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert_eq!(std::fs::read(n.path()).unwrap(), b"precious data, not an mba array");
    drop(Array::create(n.uri(), Dtype::U8, 0, Options { overwrite: true, force: true, ..rw() }).unwrap());
    assert_eq!(Array::attach(n.uri(), ro()).unwrap().dtype(), Dtype::U8);
    mba::delete(n.uri()).unwrap();
    std::fs::write(n.path(), b"x").unwrap();
    mba::delete_with(n.uri(), true).unwrap();
    assert!(std::fs::metadata(n.path()).is_err());
}

#[test]
fn same_owner_refuses_a_store_of_another_user() {
    let n = Name::new("owner");
    let prog = build("tests/c/resources.c");
    let out = run_ok(&prog, &["nobody-create", n.uri()]);
    assert!(out.contains("ok created"), "{out}");
    let e = Array::attach(n.uri(), Options { same_owner: true, ..ro() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    assert!(e.to_string().contains("owned by uid 65534"), "{e}");
    assert!(Array::attach(n.uri(), ro()).is_ok(), "without the option the mode decides");
    let mine = Name::new("owner-mine");
    drop(Array::create(mine.uri(), Dtype::U8, 0, rw()).unwrap());
    assert!(Array::attach(mine.uri(), Options { same_owner: true, ..ro() }).is_ok());
}

#[test]
fn nul_bytes_in_uris_are_invalid_arguments() {
    use std::os::unix::ffi::OsStrExt;
    let uri = std::ffi::OsStr::from_bytes(b"shm://abc\0def");
    assert_eq!(Array::attach(uri, rw()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Array::create(uri, Dtype::U8, 0, rw()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(mba::delete(uri).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn processes_that_lock_all_their_memory_can_attach_or_are_told_the_limit() {
    let prog = build("tests/c/resources.c");
    let n = Name::new("mlockall");
    let a = Array::create(n.uri(), Dtype::U32, 0, Options { mode: Some(0o644), ..rw() }).unwrap();
    a.extend_from_slice(&[1u32, 2, 3]).unwrap();
    let out = run_ok(&prog, &["mlockall", n.uri()]);
    assert!(out.contains("ok attached len=3 sum=6"), "as root (no memory-lock limit): {out}");
    let out = run_ok(&prog, &["nobody-mlockall", n.uri()]);
    assert!(
        out.contains("ok attached len=3")
            || (out.contains("MBA_ERR_NO_SPACE") && out.contains("RLIMIT_MEMLOCK")),
        "as nobody: attached, or told the memory-lock limit: {out}"
    );
    // A small maximum fits under the default limit: such an array can be attached even then.
    let small = Name::new("mlockall-small");
    let b =
        Array::create(small.uri(), Dtype::U32, 16, Options { mode: Some(0o644), max_capacity: 1024, ..rw() })
            .unwrap();
    b.push(5u32).unwrap();
    let out = run_ok(&prog, &["nobody-mlockall", small.uri()]);
    assert!(out.contains("ok attached len=1 sum=5"), "{out}");
}
