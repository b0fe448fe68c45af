//! Listing and residency from C (tests/c/list_residency.c): a directory holding an array, a
//! file that is not one, an unreadable array, a corrupt array and one whose creator is dead;
//! mlock under a small RLIMIT_MEMLOCK.

mod common;
use common::cprog::{build, run_ok};
use common::{poke, rw, Name, TempDir};
use mba::{Array, Dtype, Options};
use std::os::unix::process::CommandExt;
use std::process::Command;

#[test]
fn c_lists_a_directory_of_good_bad_and_foreign_files() {
    let prog = build("tests/c/list_residency.c");
    let d = TempDir::new("c-list");
    std::fs::set_permissions(&d.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let good =
        Array::create(d.uri("good"), Dtype::U16, 0, Options { mode: Some(0o644), ..rw() }.shaped(&[0, 2]))
            .unwrap();
    good.extend_from_slice(&[1u16, 2, 3, 4, 5, 6]).unwrap();
    drop(Array::create(d.uri("corrupt"), Dtype::U8, 0, Options { mode: Some(0o644), ..rw() }).unwrap());
    poke(d.0.join("corrupt").to_str().unwrap(), 20, &50u32.to_ne_bytes());
    drop(Array::create(d.uri("private"), Dtype::U8, 0, rw()).unwrap()); // 0600: unreadable to others
    std::fs::write(d.0.join("foreign.txt"), "not an array").unwrap();
    // A dead creator: the C program itself creates an array and exits.
    run_ok(&prog, &["make", &d.uri("dead")]);

    // As another user when run as root, so that the 0600 array is really unreadable.
    let mut cmd = Command::new(&prog);
    cmd.args(["list", d.0.to_str().unwrap()]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let uri = |n: &str| d.uri(n);
    let want = [
        format!("{} corrupt 0 1 0 0 alive", uri("corrupt")), // dtype 0: the code is unknown
        format!("{} ok 6 1 3 3 dead", uri("dead")),
        format!("{} ok 4 2 3 6 alive", uri("good")),
    ];
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().collect::<Vec<_>>(), want);
}

#[test]
fn c_mlock_under_a_small_rlimit_memlock_names_the_limit() {
    let prog = build("tests/c/list_residency.c");
    let n = Name::new("c-mlock");
    let a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    a.extend_from_slice(&vec![1u8; 1 << 20]).unwrap();
    let out = run_ok(&prog, &["mlock", n.uri(), "65536"]);
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("-11 mba_mlock: mlock "), "{first}");
    assert!(first.contains("exceeds RLIMIT_MEMLOCK (soft limit 65536 bytes"), "{first}");
    assert_eq!(lines.next(), Some("small ok"));
}

#[test]
fn c_list_and_residency_arguments_are_checked() {
    let prog = build("tests/c/list_residency.c");
    assert_eq!(run_ok(&prog, &["args"]).trim(), "args ok");
}

#[test]
fn cplusplus_list_shapes_new_dtypes_and_residency() {
    let prog = common::cprog::build_with(
        "tests/cpp/list_residency_test.cpp",
        "cpp_list_residency_test",
        &["-xc++", "-std=c++17"],
        false,
    );
    let d = TempDir::new("cpp-list");
    assert_eq!(run_ok(&prog, &[d.0.to_str().unwrap()]), "cpp list ok\n");
}
