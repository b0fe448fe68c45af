//! Full storage: shm arrays on a 256 KiB tmpfs mounted over /dev/shm in a private mount
//! namespace (`unshare -m`, as root). mba_create and every growth path (append, extend,
//! reserve) return MBA_ERR_NO_SPACE, never a signal; the data stays intact; the array stays
//! usable; and once space is freed, growth works again.

mod common;
use common::cprog::build;
use std::process::Command;

#[test]
fn full_dev_shm_gives_no_space_on_every_path_and_recovers() {
    let worker = build("tests/c/worker.c");
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test mounts a tmpfs over /dev/shm and must run as root");
    let script = format!(
        "mount -t tmpfs -o size=256k mba-test /dev/shm && exec {} fill-paths shm://full",
        worker.display()
    );
    let o = Command::new("unshare").args(["-m", "sh", "-c", &script]).output().expect("unshare (util-linux)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "worker died or failed ({}): {out}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
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
