//! The C test harness: C programs built against `include/mba.h` and the real library, and
//! the multi-process tests, which use them as the other processes.

mod common;
use common::cprog::{build, build_with, kill9, run_ok, start_until_ready};
use common::{excl, rw, Name};
use mba::{Array, Dtype};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn quickstart_example_runs() {
    let prog = build("examples/c/quickstart.c");
    let n = Name::new("quickstart");
    let out = run_ok(&prog, &[n.uri()]);
    assert_eq!(out.trim(), format!("len=1000000 last=999999 sum={}", 999_999u64 * 1_000_000 / 2));
    assert!(!std::path::Path::new(&n.path()).exists(), "the example deletes its array");
}

#[test]
fn header_compiles_as_cplusplus_and_links_statically() {
    // extern "C" guards: the same example as C++, linked against libmba.a.
    let prog = build_with("examples/c/quickstart.c", "quickstart_cxx_static", &["-xc++", "-std=c++17"], true);
    let n = Name::new("quickstart-cxx");
    assert!(run_ok(&prog, &[n.uri()]).starts_with("len=1000000 "));
}

#[test]
fn c_programs_load_the_library_of_this_build() {
    let prog = build("tests/c/api_tour.c");
    let ldd = String::from_utf8(Command::new("ldd").arg(&prog).output().unwrap().stdout).unwrap();
    let want = common::cprog::lib_dir().join("libmba.so.0");
    assert!(ldd.contains(&want.display().to_string()), "expected {} in:\n{ldd}", want.display());
}

#[test]
fn cplusplus_interface_works() {
    let prog = build_with("tests/cpp/array_test.cpp", "cpp_array_test", &["-xc++", "-std=c++17"], false);
    let n = Name::new("cpp");
    assert_eq!(run_ok(&prog, &[n.uri()]), "cpp ok\n");
}

#[test]
fn header_include_guard_and_layout_from_c() {
    let prog = build("tests/c/header_check.c");
    let out = run_ok(&prog, &[]);
    assert_eq!(out.trim(), "header ok");
}

#[test]
fn plain_mmap_reads_an_array_without_the_library() {
    let prog = build("tests/c/plain_mmap.c");
    let n = Name::new("plain");
    let a = Array::create(n.uri(), Dtype::U32, 4, rw()).unwrap();
    for i in 0..100_000u32 {
        a.push(i * 3).unwrap();
    }
    let out = run_ok(&prog, &[&n.path()]);
    assert_eq!(out.trim(), format!("len=100000 dtype=6 sum={}", (0..100_000u64).map(|i| i * 3).sum::<u64>()));
}

#[test]
fn reader_in_another_process_sees_growth_from_capacity_4() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("mp-growth");
    let a = Array::create(n.uri(), Dtype::U64, 4, excl()).unwrap();
    let mut child =
        Command::new(&worker).args(["wait", n.uri(), "1999999"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "attached capacity=4", "the reader attached before any growth");
    for i in 0..2_000_000u64 {
        a.push(i).unwrap();
    }
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(line.trim(), "value=1999999 direct=1999999 moved=0");
}

/// Three processes append 200,000 tagged values each at once, with mba_append or mba_extend.
#[test]
fn three_writer_processes_lose_no_append() {
    let worker = build("tests/c/worker.c");
    for mode in ["append", "extend"] {
        let n = Name::new("mp-writers");
        let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
        let children: Vec<_> = (0..3)
            .map(|w| {
                Command::new(&worker)
                    .args([mode, n.uri(), &w.to_string(), "200000"])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{mode}: {}", String::from_utf8_lossy(&o.stdout));
        }
        let v = a.to_vec::<u64>().unwrap();
        assert_eq!(v.len(), 600_000, "{mode}");
        let mut next = [0u64; 3];
        for x in v {
            let (w, i) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
            assert!(w < 3, "{mode}: foreign value {x:#x}");
            assert_eq!(i, next[w], "{mode}: writer {w}'s values out of order, lost or doubled");
            next[w] += 1;
        }
        assert_eq!(next, [200_000; 3]);
    }
}

/// Every published element equals its index: nothing torn, nothing lost below len.
fn assert_prefix_intact(a: &Array) -> u64 {
    let v = a.to_vec::<u64>().unwrap();
    for (i, x) in v.iter().enumerate() {
        assert_eq!(*x, i as u64, "element {i} damaged");
    }
    v.len() as u64
}

#[test]
fn lease_holder_killed_mid_append_frees_the_lease_at_once() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("mp-kill-lease");
    let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
    for round in 0..5 {
        let mut child = start_until_ready(&worker, &["lease", n.uri()]);
        // While the other process lives, its lease is refused here, and so are shared appends.
        let e = Array::attach(n.uri(), excl()).unwrap_err();
        assert_eq!(e.kind(), mba::ErrorKind::Busy, "{e}");
        assert_eq!(a.push(0u64).unwrap_err().kind(), mba::ErrorKind::Busy);
        std::thread::sleep(std::time::Duration::from_millis(20 + 7 * round));
        kill9(&mut child);
        // At once: no waiting, no retry.
        let next = Array::attach(n.uri(), excl()).unwrap();
        let len = assert_prefix_intact(&next);
        assert!(len > 1000, "round {round}: the killed writer had appended");
        next.push(len).unwrap();
        assert_eq!(assert_prefix_intact(&next), len + 1);
    }
}

/// Each writer's tagged values (`id << 32 | seq`) appear in order, without gap or repeat.
/// Returns how many each writer published.
fn assert_tagged_intact(a: &Array) -> std::collections::HashMap<u64, u64> {
    let mut next = std::collections::HashMap::new();
    for (i, x) in a.to_vec::<u64>().unwrap().into_iter().enumerate() {
        let seq = next.entry(x >> 32).or_insert(0);
        assert_eq!(x & 0xFFFF_FFFF, *seq, "element {i}: writer {} lost, repeated or tore an append", x >> 32);
        *seq += 1;
    }
    next
}

#[test]
fn shared_appender_killed_holding_the_lock_does_not_wedge_others() {
    let worker = build("tests/c/worker.c");
    for round in 0..10u64 {
        let n = Name::new("mp-kill-shared");
        let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
        // Two appenders race for the lock; one is killed at a moment that varies, often inside it.
        let mut victim = start_until_ready(&worker, &["spin", n.uri(), "1"]);
        let mut other = start_until_ready(&worker, &["spin", n.uri(), "2"]);
        std::thread::sleep(std::time::Duration::from_millis(5 + 3 * round));
        kill9(&mut victim);
        let before = a.len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while a.len() < before + 10_000 {
            assert!(std::time::Instant::now() < deadline, "round {round}: the survivor made no progress");
            std::thread::yield_now();
        }
        for i in 0..1000 {
            a.push(3u64 << 32 | i).unwrap();
        }
        kill9(&mut other);
        let counts = assert_tagged_intact(&a);
        assert!(
            counts[&1] >= 1000 && counts[&2] >= 11_000 && counts[&3] == 1000,
            "round {round}: {counts:?}"
        );
    }
}

#[test]
fn read_only_handles_map_the_store_read_only() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("mp-ro-map");
    let a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    a.push(7u8).unwrap();
    let o = Command::new(&worker).args(["poke-ro", n.uri()]).output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(libc::SIGSEGV), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "writing\n");
    assert_eq!(a.get::<u8>(0).unwrap(), 7);
}

/// Another user (the worker drops to `nobody`) is refused by the default mode 0600, and let in
/// as far as `mode` says.
#[test]
fn other_users_get_permission_errors_unless_the_mode_lets_them_in() {
    let worker = build("tests/c/worker.c");
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test switches to user nobody and must run as root");
    let cases = [
        (None, "MBA_ERR_PERMISSION", "MBA_ERR_PERMISSION"),
        (Some(0o644), "MBA_ERR_PERMISSION", "MBA_OK"),
        (Some(0o666), "MBA_OK", "MBA_OK"),
    ];
    for (mode, rw_status, ro_status) in cases {
        let n = Name::new("mp-perm");
        let _a = Array::create(n.uri(), Dtype::U8, 0, mba::Options { mode, ..rw() }).unwrap();
        let out = run_ok(&worker, &["nobody", n.uri()]);
        assert!(out.contains(&format!("rw={rw_status}:")), "{mode:?}: {out}");
        assert!(out.contains(&format!("ro={ro_status}:")), "{mode:?}: {out}");
        if rw_status != "MBA_OK" {
            assert!(out.contains("Permission denied") && out.contains(n.uri()), "{out}");
        }
    }
}

/// The windowed reader from C (tests/c/window.c): 250,000 random typed reads and borrows over
/// five files of random data four times the budget, each checked, the budgets after every call;
/// with pread and with mapped reads; growth, deletion and truncation under live cursors.
#[test]
fn windowed_reader_from_c_stays_in_budget_and_reads_right() {
    let prog = build("tests/c/window.c");
    for mapped in ["0", "1"] {
        let dir = common::TempDir::new("c-window");
        let out = run_ok(&prog, &[dir.0.to_str().unwrap(), mapped, "250000"]);
        assert!(out.starts_with("window ok reads="), "{out}");
    }
}

#[test]
fn cplusplus_windowed_reader_works() {
    let prog = build_with("tests/cpp/window_test.cpp", "cpp_window_test", &["-xc++", "-std=c++17"], false);
    let dir = common::TempDir::new("cpp-window");
    assert_eq!(run_ok(&prog, &[dir.0.to_str().unwrap()]), "cpp window ok\n");
}

#[test]
fn the_code_a_first_attach_runs_sits_together_at_one_place_in_the_library() {
    // build.rs passes src/ffi/hot.ld to the linker: one output section holds mba's attach path
    // (marked `.text.hot.mba`), the std and memmap2 functions it calls, glibc's pthread_atfork
    // stub and the load-time constructors, so that a first attach faults in little new code.
    let so = common::cprog::lib_dir().join("libmba.so");
    let run = |cmd: &str, args: &[&str]| {
        let out = Command::new(cmd).args(args).arg(&so).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(out.status.success(), "{cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let sections = run("readelf", &["-SW"]);
    let hot = sections.lines().find(|l| l.contains(" .text.mba_hot ")).unwrap_or_else(|| {
        panic!("no .text.mba_hot section: is src/ffi/hot.ld passed to the linker?\n{sections}")
    });
    let f: Vec<&str> = hot.split(']').nth(1).unwrap().split_whitespace().collect();
    let (start, size) = (u64::from_str_radix(f[2], 16).unwrap(), u64::from_str_radix(f[4], 16).unwrap());
    let symbols = run("nm", &["--defined-only"]);
    let addr = |suffix: &str| {
        let line = symbols
            .lines()
            .find(|l| {
                l.split_whitespace().nth(2).is_some_and(|s| s == suffix || s.ends_with(&format!("_{suffix}")))
            })
            .unwrap_or_else(|| panic!("no symbol {suffix} in libmba.so"));
        u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
    };
    for sym in [
        "mba_attach",
        "mba_free",
        "mba_append",
        "mba_get",
        "mba_len",
        "pthread_atfork",
        "frame_dummy",
        "__rust_alloc",
    ] {
        let a = addr(sym);
        assert!(
            (start..start + size).contains(&a),
            "{sym} at {a:#x}, outside .text.mba_hot {start:#x}+{size:#x}"
        );
    }
}

#[path = "../src/ffi/hot_ld.rs"]
mod hot_ld;

#[test]
fn the_layout_script_goes_only_to_linkers_that_read_it() {
    // gold and mold reject hot.ld's INSERT: passing it to them failed the whole build.
    let none = |_: &str| None;
    let flags = |f: &[&str]| f.join("\x1f");
    for (rustflags, want) in [
        (flags(&[]), true),
        (flags(&["-C", "link-arg=-fuse-ld=lld"]), true),
        (flags(&["-Clink-arg=-fuse-ld=bfd"]), true),
        (flags(&["-Clink-arg=-fuse-ld=/usr/lib/llvm/bin/ld.lld"]), true),
        (flags(&["-C", "target-cpu=native"]), true),
        (flags(&["-C", "link-arg=-fuse-ld=mold"]), false),
        (flags(&["-Clink-arg=-fuse-ld=gold"]), false),
        (flags(&["-C", "link-args=-Wl,--as-needed -fuse-ld=mold"]), false),
        (flags(&["-Clink-arg=--ld-path=/opt/mold/bin/mold"]), false),
        (flags(&["-Clink-arg=-fuse-ld=wild"]), false),
        (flags(&["-C", "linker=/usr/local/bin/mold-cc"]), false),
        (flags(&["-Clinker=clang", "-Clink-arg=-fuse-ld=lld"]), true),
    ] {
        assert_eq!(hot_ld::wanted(&rustflags, &none), want, "{rustflags:?}");
    }
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    assert!(!hot_ld::wanted("", &env(&[("MOLD_PATH", "/usr/bin/mold")])), "mold -run");
    assert!(!hot_ld::wanted("", &env(&[("RUSTC_LINKER", "/usr/bin/ld.gold")])));
    assert!(!hot_ld::wanted("", &env(&[("MBA_CODE_LAYOUT", "0")])));
    assert!(hot_ld::wanted(&flags(&["-Clink-arg=-fuse-ld=mold"]), &env(&[("MBA_CODE_LAYOUT", "1")])));
}

#[test]
fn every_name_mba_h_defines_carries_the_mba_prefix() {
    // A macro without the prefix clashes with the including program's own (a review found
    // DEFAULT_BATCH, PID_BITS, START_BITS and FOREIGN, the last an int shifted past its width).
    let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/mba.h")).unwrap();
    let bad: Vec<&str> = h
        .lines()
        .filter_map(|l| l.strip_prefix("#define ").and_then(|r| r.split_whitespace().next()))
        .filter(|name| !name.starts_with("MBA_"))
        .collect();
    assert!(bad.is_empty(), "macros of include/mba.h without the MBA_ prefix: {bad:?}");
}
