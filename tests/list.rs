//! Listing arrays (`mba::list`, `mba_list_*`): what is listed, what is skipped, what is
//! reported corrupt, and whether creators are alive, in a temporary directory of real files.

mod common;
use common::{poke, rw, Name, TempDir};
use mba::ffi::*;
use mba::list::{self, Liveness};
use mba::{Array, Dtype};
use std::ffi::{CStr, CString};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Re-runs this test binary to run only the (ignored) test `name`, with `env` set.
/// `as_nobody`: the child drops to uid/gid 65534 first when this process is root, so that files
/// of mode 0600 are really unreadable to it.
fn run_child(name: &str, env: &[(&str, &str)], as_nobody: bool) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--ignored", "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if as_nobody {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "child {name} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Child: creates a file array at $MBA_CHILD_ARRAY and exits (leaving a dead creator).
#[test]
#[ignore = "run by dead_creator_is_reported_dead"]
fn child_creates_array() {
    let Ok(path) = std::env::var("MBA_CHILD_ARRAY") else { return };
    let a = Array::create(format!("file://{path}"), Dtype::I16, 0, rw()).unwrap();
    a.extend_from_slice(&[1i16, 2, 3]).unwrap();
}

/// Child: lists $MBA_CHILD_DIR and prints one line per entry: `uri status`.
#[test]
#[ignore = "run by unreadable_files_are_skipped"]
fn child_lists_dir() {
    let Ok(dir) = std::env::var("MBA_CHILD_DIR") else { return };
    for e in list::list(Some(Path::new(&dir))).unwrap() {
        println!("ENTRY {} {}", e.uri.to_string_lossy(), if e.is_valid() { "ok" } else { "corrupt" });
    }
}

fn names(entries: &[list::Entry]) -> Vec<String> {
    entries.iter().map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn lists_arrays_and_skips_what_is_not_one() {
    let d = TempDir::new("list");
    let a = Array::create(d.uri("good"), Dtype::F32, 100, rw()).unwrap();
    a.extend_from_slice(&[1.0f32, 2.0, 3.0]).unwrap();
    std::fs::write(d.0.join("notes.txt"), "hello, not an array").unwrap();
    std::fs::write(d.0.join("empty"), "").unwrap();
    std::fs::write(d.0.join("looks-like-magic"), b"MBARRAZ\0 and more bytes than a magic").unwrap();
    std::fs::create_dir(d.0.join("subdir")).unwrap();
    std::os::unix::fs::symlink(d.0.join("good"), d.0.join("link-to-good")).unwrap();
    let fifo = CString::new(d.0.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let l = list::list(Some(&d.0)).unwrap();
    assert_eq!(names(&l), ["good"], "only the array; the FIFO did not hang the call");
    let e = &l[0];
    assert!(e.is_valid(), "{:?}", e.problem);
    assert_eq!(e.uri.to_string_lossy(), d.uri("good"));
    assert_eq!((e.dtype, e.len, e.capacity), (Some(Dtype::F32), 3, 100));
    assert_eq!(e.shape, [3]);
    assert_eq!(
        (e.uid, e.owner.as_str(), e.mode),
        (unsafe { libc::getuid() }, &*list::user_name(e.uid), 0o600)
    );
    assert_eq!(e.size, 4096 + 400);
    assert!(e.bytes >= e.size, "allocated: {} bytes for a {}-byte store", e.bytes, e.size);
    let (pid, start) = (std::process::id() as u64, e.creator_start);
    assert_eq!((e.creator_pid, e.creator), (pid, Liveness::Alive));
    assert!(start > 0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(e.created_ns <= now && e.created_ns > now - 600_000_000_000, "created {}", e.created_ns);
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(d.0.join("good")).unwrap();
    assert_eq!((e.dev, e.ino), (md.dev(), md.ino()));
}

#[test]
fn corrupt_and_truncated_arrays_are_listed_as_such() {
    let d = TempDir::new("list-corrupt");
    drop(Array::create(d.uri("bad-version"), Dtype::U8, 0, rw()).unwrap());
    poke(d.0.join("bad-version").to_str().unwrap(), 8, &99u32.to_ne_bytes());
    drop(Array::create(d.uri("bad-dtype"), Dtype::U8, 0, rw()).unwrap());
    poke(d.0.join("bad-dtype").to_str().unwrap(), 20, &77u32.to_ne_bytes());
    drop(Array::create(d.uri("too-long"), Dtype::U8, 10, rw()).unwrap());
    poke(d.0.join("too-long").to_str().unwrap(), 64, &(1u64 << 40).to_ne_bytes());
    std::fs::write(d.0.join("truncated"), b"MBARRAY\0\x02\0\0\0").unwrap();
    drop(Array::create(d.uri("v1"), Dtype::U8, 0, rw()).unwrap());
    poke(d.0.join("v1").to_str().unwrap(), 8, &1u32.to_ne_bytes());

    let l = list::list(Some(&d.0)).unwrap();
    assert_eq!(names(&l), ["bad-dtype", "bad-version", "too-long", "truncated", "v1"]);
    let why: Vec<&str> = l.iter().map(|e| e.problem.as_deref().expect("corrupt")).collect();
    assert!(why[0].contains("dtype code 77"), "{}", why[0]);
    assert!(why[1].contains("version 99"), "{}", why[1]);
    assert!(why[2].contains("exceeds the store"), "{}", why[2]);
    assert!(why[3].contains("smaller than the 256-byte header"), "{}", why[3]);
    assert!(why[4].contains("unsupported format version 1"), "{}", why[4]);
    assert!(l.iter().all(|e| e.shape.is_empty()));
    // inspect() says the same of one array, and refuses a file that is not one.
    let one = list::inspect(d.uri("bad-dtype")).unwrap();
    assert_eq!(one.problem.as_deref(), Some(why[0]));
    std::fs::write(d.0.join("text"), "text").unwrap();
    let e = list::inspect(d.uri("text")).unwrap_err();
    assert_eq!(e.kind(), mba::ErrorKind::Corrupt);
    assert!(e.message().contains("not an mba array"), "{e}");
    assert_eq!(list::inspect(d.uri("missing")).unwrap_err().kind(), mba::ErrorKind::NotFound);
}

#[test]
fn unreadable_files_are_skipped() {
    let d = TempDir::new("list-unreadable");
    std::fs::set_permissions(&d.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let open =
        Array::create(d.uri("readable"), Dtype::U8, 0, mba::Options { mode: Some(0o644), ..rw() }).unwrap();
    drop(Array::create(d.uri("private"), Dtype::U8, 0, rw()).unwrap());
    drop(open);
    let out = run_child("child_lists_dir", &[("MBA_CHILD_DIR", d.0.to_str().unwrap())], true);
    // The harness prints "test NAME ... " before the child's own lines: take what follows ENTRY.
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once("ENTRY ").map(|(_, e)| e.to_owned()))
        .collect();
    assert_eq!(lines, [format!("{} ok", d.uri("readable"))], "the 0600 array of another user is skipped");
}

#[test]
fn dead_creator_is_reported_dead_and_staging_leftovers_are_found() {
    let d = TempDir::new("list-dead");
    let path = d.0.join("orphan");
    run_child("child_creates_array", &[("MBA_CHILD_ARRAY", path.to_str().unwrap())], false);
    let mine = Array::create(d.uri("mine"), Dtype::U8, 0, rw()).unwrap();
    // A staging leftover of a dead creator: the name a killed overwrite-create leaves.
    let orphan = list::inspect(d.uri("orphan")).unwrap();
    let leftover = d.0.join(format!(".orphan.mba-new.{}.5.0", orphan.creator_pid));
    std::fs::copy(&path, &leftover).unwrap();

    let l = list::list(Some(&d.0)).unwrap();
    assert_eq!(names(&l), ["mine", "orphan"], "staging files are not arrays of their own");
    assert_eq!(l[0].creator, Liveness::Alive);
    assert_eq!(l[1].creator, Liveness::Dead, "the child exited");
    assert_ne!(l[1].creator_pid, std::process::id() as u64);
    assert_eq!((l[1].dtype, l[1].len), (Some(Dtype::I16), 3));
    let s = list::staging(Some(&d.0)).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].path.as_path(), s[0].pid, s[0].alive), (leftover.as_path(), orphan.creator_pid, false));
    drop(mine);
}

#[test]
fn default_directory_is_dev_shm_with_shm_uris() {
    let n = Name::new("list-shm");
    let a = Array::create(n.uri(), Dtype::U64, 0, rw()).unwrap();
    a.push(5u64).unwrap();
    let l = list::list(None).unwrap();
    let e = l.iter().find(|e| e.uri.to_string_lossy() == n.uri()).expect("listed");
    assert_eq!((e.len, e.path.to_string_lossy().into_owned()), (1, n.path()));
    // A shaped array: rows of 2 x 3, and this handle, which appended, in the slot table.
    let m = Name::new("list-shaped");
    let b = Array::create(m.uri(), Dtype::C64, 0, rw().shaped(&[0, 2, 3])).unwrap();
    let zeros = [0u8; 12 * 8];
    // SAFETY: zeros holds 12 elements of 8 bytes.
    unsafe { b.extend_raw(zeros.as_ptr(), 12) }.unwrap();
    let e = list::inspect(m.uri()).unwrap();
    assert_eq!((e.shape.as_slice(), e.len, e.dtype), (&[2u64, 2, 3][..], 12, Some(Dtype::C64)));
    let me = std::process::id();
    assert_eq!(e.writers.iter().map(|w| (w.pid, w.alive)).collect::<Vec<_>>(), [(me, Liveness::Alive)]);
    assert_eq!(e.lock_slot(), 0, "the lock is free between calls");
    assert!(e.max_capacity >= e.capacity);
    let missing = list::list(Some(Path::new("/nonexistent-mba-dir"))).unwrap_err();
    assert_eq!(missing.kind(), mba::ErrorKind::NotFound);
    assert!(missing.message().contains("/nonexistent-mba-dir"), "{missing}");
}

#[test]
fn c_abi_lists_with_owned_strings_and_checks_its_arguments() {
    let d = TempDir::new("list-ffi");
    let a = Array::create(d.uri("one"), Dtype::U16, 0, rw()).unwrap();
    a.extend_from_slice(&[7u16; 5]).unwrap();
    drop(Array::create(d.uri("two"), Dtype::U8, 0, rw()).unwrap());
    poke(d.0.join("two").to_str().unwrap(), 20, &0u32.to_ne_bytes());
    let dir = CString::new(d.0.to_str().unwrap()).unwrap();
    let mut l = std::ptr::null_mut();
    assert_eq!(mba_list_open(dir.as_ptr(), 0, &mut l), MBA_OK);
    assert_eq!(mba_list_count(l), 2);
    let mut e = std::mem::MaybeUninit::<mba_list_entry>::zeroed();
    let sz = std::mem::size_of::<mba_list_entry>();
    assert_eq!(mba_list_get(l, 0, e.as_mut_ptr(), sz), MBA_OK);
    let e0 = unsafe { e.assume_init() };
    let s = |p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    assert_eq!(s(e0.uri), d.uri("one"));
    assert_eq!((e0.status, e0.dtype, e0.itemsize, e0.ndim, e0.len), (MBA_OK, MBA_U16, 2, 1, 5));
    assert_eq!(e0.shape, [5, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((e0.creator_alive, s(e0.problem)), (MBA_CREATOR_ALIVE, String::new()));
    assert_eq!(s(e0.owner), list::user_name(e0.uid));
    let mut e1 = std::mem::MaybeUninit::<mba_list_entry>::zeroed();
    assert_eq!(mba_list_get(l, 1, e1.as_mut_ptr(), sz), MBA_OK);
    let e1 = unsafe { e1.assume_init() };
    assert_eq!(e1.status, MBA_ERR_CORRUPT);
    assert!(s(e1.problem).contains("unknown dtype code 0"), "{}", s(e1.problem));
    // Outputs only on success; every bad argument is a status.
    let mut untouched = std::mem::MaybeUninit::<mba_list_entry>::new(e0);
    assert_eq!(mba_list_get(l, 2, untouched.as_mut_ptr(), sz), MBA_ERR_OUT_OF_BOUNDS);
    assert_eq!(mba_list_get(l, 0, untouched.as_mut_ptr(), sz - 1), MBA_ERR_INVALID_ARGUMENT);
    assert_eq!(unsafe { untouched.assume_init() }.len, 5);
    assert_eq!(mba_list_get(std::ptr::null(), 0, untouched.as_mut_ptr(), sz), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_list_get(l, 0, std::ptr::null_mut(), sz), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_list_count(std::ptr::null()), 0);
    let mut l2 = std::ptr::null_mut();
    assert_eq!(mba_list_open(dir.as_ptr(), 1, &mut l2), MBA_ERR_INVALID_ARGUMENT);
    let nodir = CString::new("/nonexistent-mba-dir").unwrap();
    assert_eq!(mba_list_open(nodir.as_ptr(), 0, &mut l2), MBA_ERR_NOT_FOUND);
    assert!(l2.is_null());
    assert_eq!(mba_list_open(dir.as_ptr(), 0, std::ptr::null_mut()), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_list_free(l), MBA_OK);
    assert_eq!(mba_list_free(std::ptr::null_mut()), MBA_OK);
}
