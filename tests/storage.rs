//! Full storage: file arrays on a 256 KiB tmpfs, and shm arrays on a 256 KiB tmpfs mounted
//! over /dev/shm, each in a private mount namespace (`unshare -m`, as root). mba_create and
//! every growth path (append, extend, reserve) return MBA_ERR_NO_SPACE, never a signal; the
//! data stays intact; the array stays usable; and once space is freed, growth works again.

mod common;
use common::cprog::{build, run_on_small_tmpfs};
use common::TempDir;
use std::path::Path;

#[test]
fn full_dev_shm_gives_no_space_on_every_path_and_recovers() {
    let worker = build("tests/c/worker.c");
    let out = run_on_small_tmpfs(Path::new("/dev/shm"), &worker, &["fill-paths", "shm://full"]);
    let line =
        |key: &str| out.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}: {out}"));
    assert_eq!(line("create-too-big="), "create-too-big=MBA_ERR_NO_SPACE: no space left for the array");
    assert!(line("attach-too-big=").contains("MBA_ERR_NOT_FOUND"), "a failed create leaves no name: {out}");
    let len = |l: &str| l.rsplit('=').next().unwrap().parse::<u64>().unwrap();
    let appended = line("append=");
    assert!(appended.contains("MBA_ERR_NO_SPACE"), "{out}");
    let n = len(appended);
    assert!(n > 10_000, "a 256 KiB /dev/shm less 64 KiB ballast holds about 23,000 u64: {n}");
    for key in ["extend=", "reserve="] {
        let l = line(key);
        assert!(l.contains("MBA_ERR_NO_SPACE"), "{out}");
        assert_eq!(len(l), n, "{key} changed the length on failure");
    }
    assert_eq!(line("after-free"), format!("after-free appended=4096 len={}", n + 4096));
    assert!(out.contains("intact"), "{out}");
}

/// A file array on a 256 KiB tmpfs, filled until the store is full: MBA_ERR_NO_SPACE, no signal.
#[test]
fn full_tmpfs_gives_no_space_not_sigbus() {
    let worker = build("tests/c/worker.c");
    let d = TempDir::new("tmpfs");
    let out = run_on_small_tmpfs(&d.0, &worker, &["fill", &d.uri("full.mba")]);
    let stopped = out.lines().next().unwrap();
    assert!(stopped.starts_with("stopped status=MBA_ERR_NO_SPACE"), "{out}");
    let len: u64 = stopped.rsplit('=').next().unwrap().parse().unwrap();
    assert!(len > 30_000 && len < 65_536, "a 256 KiB tmpfs holds about 60,000 u32: {len}");
    assert!(out.contains("No space left on device"), "message carries the OS error: {out}");
    assert!(out.contains(&format!("intact {len}")), "{out}");
}
