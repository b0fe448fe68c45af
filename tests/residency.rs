//! Memory residency: mlock, munlock and madvise on a handle's data, and the error under a small
//! RLIMIT_MEMLOCK (set in a child process, which also gives up CAP_IPC_LOCK when run as root).

mod common;
use common::{ro, rw, Name};
use mba::ffi::*;
use mba::{Advice, Array, Dtype, ErrorKind};
use std::os::unix::process::CommandExt;
use std::process::Command;

fn locked_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmLck:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const LIMIT: u64 = 64 << 10;

/// Serialises the tests that lock memory in this process, since they read its VmLck.
static VMLCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Re-runs this binary for the ignored test `name` under RLIMIT_MEMLOCK = 64 KiB, without
/// CAP_IPC_LOCK (dropped from the bounding set, so root's exec does not get it back).
fn run_limited(name: &str, uri: &str) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]).env("MBA_CHILD_URI", uri);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let rl = libc::rlimit { rlim_cur: LIMIT, rlim_max: LIMIT };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // CAP_IPC_LOCK = 14. Fails (EPERM) when not root, who does not have it anyway.
            if libc::geteuid() == 0 && libc::prctl(libc::PR_CAPBSET_DROP, 14, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "child failed:\n{out}{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Child: under the small limit, a small array locks and a 1 MiB one fails naming the limit.
#[test]
#[ignore = "run by mlock_beyond_rlimit_memlock_names_the_limit"]
fn child_mlock_under_small_limit() {
    let Ok(uri) = std::env::var("MBA_CHILD_URI") else { return };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let capeff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    let eff = u64::from_str_radix(capeff.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(eff & (1 << 14), 0, "CAP_IPC_LOCK was dropped");

    let small = Array::create("", Dtype::U8, 0, rw()).unwrap();
    small.extend_from_slice(&[1u8; 4096]).unwrap();
    small.mlock().unwrap();
    assert!(locked_kib() >= 4);

    let big = Array::attach(&uri, ro()).unwrap();
    let e = big.mlock().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission);
    println!("MLOCK-ERROR {e}");
    big.munlock().unwrap();
    // The same through the C ABI.
    let c = std::ffi::CString::new(uri).unwrap();
    let mut h = std::ptr::null_mut();
    assert_eq!(mba_attach(c.as_ptr(), MBA_READ_ONLY, &mut h), MBA_OK);
    assert_eq!(mba_mlock(h), MBA_ERR_PERMISSION);
    let msg = unsafe { std::ffi::CStr::from_ptr(mba_last_error()) }.to_string_lossy().into_owned();
    assert!(msg.starts_with("mba_mlock: mlock ") && msg.contains("RLIMIT_MEMLOCK"), "{msg}");
    mba_free(h);
}

#[test]
fn mlock_beyond_rlimit_memlock_names_the_limit() {
    let n = Name::new("mlock-limit");
    let a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    a.extend_from_slice(&vec![7u8; 1 << 20]).unwrap();
    let out = run_limited("child_mlock_under_small_limit", n.uri());
    let line = out.lines().find_map(|l| l.split_once("MLOCK-ERROR ").map(|(_, m)| m)).expect(&out);
    assert!(line.contains(&format!("mlock {}", n.uri())), "{line}");
    assert!(line.contains("exceeds RLIMIT_MEMLOCK"), "{line}");
    assert!(line.contains(&format!("soft limit {LIMIT} bytes")), "{line}");
    assert!(line.contains(&format!("locking {} bytes", 1 << 20)), "{line}");
}

#[test]
fn mlock_locks_the_published_pages_and_munlock_releases_them() {
    let n = Name::new("mlock");
    let a = Array::create(n.uri(), Dtype::U64, 0, rw()).unwrap();
    a.extend_from_slice(&vec![3u64; 256 << 10]).unwrap(); // 2 MiB
    let _g = VMLCK.lock().unwrap_or_else(|p| p.into_inner());
    let before = locked_kib();
    a.mlock().unwrap();
    let during = locked_kib();
    assert!(during >= before + 2048, "VmLck {before} -> {during} KiB");
    a.mlock().unwrap();
    assert_eq!(locked_kib(), during, "locking again adds nothing");
    a.munlock().unwrap();
    assert_eq!(locked_kib(), before);
    a.munlock().unwrap();
    // An empty array locks nothing, and that is not an error.
    let e = Array::create("", Dtype::F64, 0, rw()).unwrap();
    e.mlock().unwrap();
    assert_eq!(locked_kib(), before);
}

#[test]
fn mlock_never_reaches_past_the_store_whatever_the_header_says() {
    let n = Name::new("mlock-hostile");
    let a = Array::create(n.uri(), Dtype::U32, 16, rw()).unwrap();
    a.push(1u32).unwrap();
    common::poke(&n.path(), 64, &(1u64 << 36).to_ne_bytes());
    let _g = VMLCK.lock().unwrap_or_else(|p| p.into_inner());
    let before = locked_kib();
    a.mlock().unwrap();
    let store_kib = std::fs::metadata(n.path()).unwrap().len().div_ceil(1024);
    assert!(
        locked_kib() - before <= store_kib + 4,
        "locked {} KiB of a {store_kib} KiB store",
        locked_kib() - before
    );
    a.munlock().unwrap();
}

#[test]
fn every_advice_is_accepted_and_dontneed_keeps_the_data() {
    let n = Name::new("madvise");
    let a = Array::create(n.uri(), Dtype::I32, 0, rw()).unwrap();
    let v: Vec<i32> = (0..100_000).collect();
    a.extend_from_slice(&v).unwrap();
    let reader = Array::attach(n.uri(), ro()).unwrap();
    for advice in Advice::ALL {
        let r = a.madvise(advice).and_then(|()| reader.madvise(advice));
        let thp = std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists();
        if advice == Advice::HugePage && !thp {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument);
        } else {
            r.unwrap_or_else(|e| panic!("{}: {e}", advice.name()));
        }
        assert_eq!(Advice::from_code(advice.code()), Some(advice));
    }
    a.madvise(Advice::DontNeed).unwrap();
    assert_eq!(a.to_vec::<i32>().unwrap(), v, "DONTNEED on a shared mapping loses nothing");
    a.extend_from_slice(&[7, 8, 9]).unwrap();
    assert_eq!(reader.get::<i32>(100_002).unwrap(), 9, "growth after advice");
    assert_eq!(Advice::from_code(6), None);
}

#[test]
fn c_abi_residency_checks_its_arguments() {
    let n = Name::new("madvise-ffi");
    let c = std::ffi::CString::new(n.uri()).unwrap();
    let mut h = std::ptr::null_mut();
    assert_eq!(mba_create(c.as_ptr(), MBA_F64, 0, 0, &mut h), MBA_OK);
    let x = 1.5f64;
    assert_eq!(mba_append(h, (&x as *const f64).cast()), MBA_OK);
    {
        let _g = VMLCK.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(mba_mlock(h), MBA_OK);
        assert_eq!(mba_munlock(h), MBA_OK);
    }
    for advice in [
        MBA_ADVICE_NORMAL,
        MBA_ADVICE_SEQUENTIAL,
        MBA_ADVICE_RANDOM,
        MBA_ADVICE_WILLNEED,
        MBA_ADVICE_DONTNEED,
    ] {
        assert_eq!(mba_madvise(h, advice), MBA_OK, "advice {advice}");
    }
    assert_eq!(mba_madvise(h, 6), MBA_ERR_INVALID_ARGUMENT);
    let msg = unsafe { std::ffi::CStr::from_ptr(mba_last_error()) }.to_string_lossy().into_owned();
    assert_eq!(msg, "mba_madvise: unknown advice 6");
    assert_eq!(mba_mlock(std::ptr::null()), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_munlock(std::ptr::null()), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_madvise(std::ptr::null(), 0), MBA_ERR_NULL_POINTER);
    mba_free(h);
}
