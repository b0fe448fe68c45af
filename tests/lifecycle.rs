//! Promises that survive real programs: fork, passed descriptors, threads and read-only peers
//! (docs/GUARANTEES.md §7, §12 and §13).

mod common;
use common::cprog::{build, kill9, run_ok};
use common::{excl, poke, rw, Name};
use mba::{Array, Dtype, ErrorKind, Options};
use std::io::BufRead;
use std::process::{Command, Stdio};

#[test]
fn an_exclusive_handle_inherited_through_fork_refuses_to_append_and_releases_nothing() {
    let prog = build("tests/c/lifecycle.c");
    for round in 0..5 {
        let n = Name::new("fork-excl");
        let out = run_ok(&prog, &["fork-excl", n.uri(), "20000"]);
        assert!(out.contains("ok fork-excl len=40000"), "round {round}: {out}");
    }
}

#[test]
fn a_shared_handle_inherited_through_fork_refuses_and_a_fresh_attach_loses_nothing() {
    let prog = build("tests/c/lifecycle.c");
    let n = Name::new("fork-shared");
    let out = run_ok(&prog, &["fork-shared", n.uri(), "100000"]);
    assert!(out.contains("ok fork-shared len=200000"), "{out}");
}

/// Starts `lifecycle idle-child URI MODE`, returns it and its idle child's pid.
fn start_with_idle_child(prog: &std::path::Path, uri: &str, mode: &str) -> (std::process::Child, i32) {
    let mut child =
        Command::new(prog).args(["idle-child", uri, mode]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::with_capacity(1, child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let pid =
        line.strip_prefix("ready ").and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("{line}"));
    (child, pid)
}

fn kill_idle(pid: i32) {
    // SAFETY: kill(2) of the idle grandchild; it is reaped by init once it exits.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[test]
fn an_idle_forked_child_never_delays_recovery_from_a_killed_lease_holder_50_rounds() {
    let prog = build("tests/c/lifecycle.c");
    let n = Name::new("idle-excl");
    drop(Array::create(n.uri(), Dtype::U64, 0, rw()).unwrap());
    for round in 0..50 {
        let (mut writer, idle) = start_with_idle_child(&prog, n.uri(), "excl");
        std::thread::sleep(std::time::Duration::from_millis(1 + round % 7));
        kill9(&mut writer);
        // The idle child lives on, holding the same descriptor: the lease is free all the same.
        let a = Array::attach(n.uri(), Options { timeout_ms: 2000, ..excl() })
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let len = a.len();
        for i in 0..len {
            assert_eq!(a.get::<u64>(i).unwrap(), i, "round {round}: element {i}");
        }
        drop(a);
        kill_idle(idle);
    }
}

#[test]
fn an_idle_forked_child_never_delays_recovery_from_a_killed_lock_holder_50_rounds() {
    let prog = build("tests/c/lifecycle.c");
    let n = Name::new("idle-shared");
    let a = Array::create(n.uri(), Dtype::U64, 0, Options { timeout_ms: 3000, ..rw() }).unwrap();
    for round in 0..50u64 {
        let (mut writer, idle) = start_with_idle_child(&prog, n.uri(), "shared");
        std::thread::sleep(std::time::Duration::from_millis(1 + round % 5));
        kill9(&mut writer);
        // Whether or not it died holding the append lock, the next append goes through.
        a.push(round).unwrap_or_else(|e| panic!("round {round}: {e}"));
        kill_idle(idle);
    }
    let v = a.to_vec::<u64>().unwrap();
    let mine: Vec<u64> = v.iter().copied().filter(|x| x >> 32 == 0).collect();
    assert_eq!(mine, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_descriptor_passed_over_a_socket_is_a_capability_and_shares_no_lock() {
    let prog = build("tests/c/lifecycle.c");
    let n = Name::new("scm");
    let out = run_ok(&prog, &["scm", n.uri()]);
    assert!(out.contains("ok scm len=2"), "{out}");
}

#[test]
fn a_reader_holding_read_locks_on_the_whole_store_cannot_wedge_writers() {
    let prog = build("tests/c/lifecycle.c");
    let worker = build("tests/c/worker.c");
    let n = Name::new("pin");
    let a = Array::create(n.uri(), Dtype::U64, 0, Options { mode: Some(0o644), timeout_ms: 3000, ..rw() })
        .unwrap();
    let mut pin = common::cprog::start_until_ready(&prog, &["pin", &n.path()]);
    a.push(0u64).unwrap();
    // Exclusive attaches, appends and lease recovery all go on as if the reader were not there.
    for round in 0..10 {
        let mut holder = common::cprog::start_until_ready(&worker, &["lease", n.uri()]);
        assert_eq!(a.push(1u64).unwrap_err().kind(), ErrorKind::Busy, "the lease is respected");
        kill9(&mut holder);
        let e = Array::attach(n.uri(), Options { timeout_ms: 3000, ..excl() })
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        e.push(e.len()).unwrap();
        drop(e);
        let mut spinner = common::cprog::start_until_ready(&worker, &["spin", n.uri(), "1"]);
        kill9(&mut spinner);
        a.push(7u64).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    kill9(&mut pin);
}

/// The slots in the table whose identity names this process.
fn my_slots(path: &str) -> Vec<u64> {
    let table = std::fs::read(path).unwrap();
    (0..480u64)
        .filter(|k| {
            let at = 256 + 8 * *k as usize;
            u64::from_ne_bytes(table[at..at + 8].try_into().unwrap()) & ((1 << 22) - 1)
                == std::process::id() as u64
        })
        .map(|k| k + 1)
        .collect()
}

#[test]
fn a_lock_word_scribbled_to_name_a_live_writer_gives_busy_in_bounded_time_and_heals() {
    let n = Name::new("scribbled-lock");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    a.push(1u32).unwrap(); // a takes its slot
    let sa = my_slots(&n.path());
    assert_eq!(sa.len(), 1);
    let b = Array::attach(n.uri(), Options { timeout_ms: 200, ..rw() }).unwrap();
    b.push(2u32).unwrap();
    assert_eq!(my_slots(&n.path()).len(), 2);
    // A peer names a's slot in the lock word, as if a held the lock.
    poke(&n.path(), mba::layout::OFF_LOCK as u64, &((5u64 << 25) | sa[0]).to_ne_bytes());
    let e = b.push(3u32).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "b waits at most its timeout: {e}");
    assert!(e.to_string().contains(&format!("slot {} (pid {})", sa[0], std::process::id())), "{e}");
    assert!(e.to_string().contains("200 ms"), "{e}");
    // a finds its own slot in a lock it does not hold, and takes it over; then all is well.
    a.push(4u32).unwrap();
    b.push(5u32).unwrap();
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![1, 2, 4, 5]);
    // set_timeout changes the bound of a live handle.
    b.set_timeout(50);
    poke(&n.path(), mba::layout::OFF_LOCK as u64, &((9u64 << 25) | sa[0]).to_ne_bytes());
    assert!(b.push(6u32).unwrap_err().to_string().contains("50 ms"));
}

#[test]
fn eight_threads_pushing_through_one_exclusive_handle_lose_nothing() {
    let n = Name::new("threads-excl");
    let a = Array::create(n.uri(), Dtype::U64, 0, excl()).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let a = &a;
            s.spawn(move || {
                for i in 0..50_000u64 {
                    a.push(t << 32 | i).unwrap();
                }
            });
        }
    });
    let v = a.to_vec::<u64>().unwrap();
    assert_eq!(v.len(), 400_000, "every push landed");
    let mut next = [0u64; 8];
    for x in v {
        let (t, i) = ((x >> 32) as usize, x & 0xffff_ffff);
        assert_eq!(i, next[t], "thread {t}'s values in order, each once");
        next[t] += 1;
    }
}

#[test]
fn a_splice_racing_appenders_in_other_processes_loses_nothing() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("splice-race");
    let a = Array::create(n.uri(), Dtype::U64, 0, rw()).unwrap();
    let per = 40_000u64;
    let kids: Vec<_> = (1..=3u64)
        .map(|id| {
            Command::new(&worker)
                .args(["append", n.uri(), &id.to_string(), &per.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    const MARK: u64 = 0xFFFF_0000_0000_0000;
    let mut kept = 0u64;
    let mut seed = 12345u64;
    for r in 0..1000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = a.len();
        let at = seed % (len + 1);
        a.splice(at, 0, &[MARK | r, MARK | r, MARK | r]).unwrap();
        // Only this process splices, and appends only add at the end: the marks stay at `at`.
        if r % 3 == 0 {
            kept += 3;
        } else {
            assert_eq!(
                a.splice::<u64>(at, 3, &[]).unwrap(),
                vec![MARK | r; 3],
                "our marks, where we put them"
            );
        }
    }
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let v = a.to_vec::<u64>().unwrap();
    assert_eq!(v.len() as u64, 3 * per + kept);
    let mut next = [0u64; 4];
    let mut marks = 0;
    for x in v {
        if x & MARK == MARK {
            marks += 1;
            continue;
        }
        let (id, i) = ((x >> 32) as usize, x & 0xffff_ffff);
        assert_eq!(i, next[id], "writer {id}'s values once each, in order");
        next[id] += 1;
    }
    assert_eq!(marks, kept);
    assert_eq!(&next[1..], &[per, per, per]);
}

#[test]
fn splice_replaces_in_one_step_and_a_failure_leaves_the_array_as_it_was() {
    let n = Name::new("splice");
    let a = Array::create(n.uri(), Dtype::U32, 4, Options { max_capacity: 10, ..rw() }).unwrap();
    a.extend_from_slice(&[1u32, 2, 3, 4, 5]).unwrap();
    assert_eq!(a.splice(1, 2, &[9u32]).unwrap(), vec![2, 3], "the removed elements come back");
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![1, 9, 4, 5]);
    a.splice(4, 0, &[6u32, 7]).unwrap();
    a.splice(0, 0, &[0u32]).unwrap();
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![0, 1, 9, 4, 5, 6, 7]);
    let e = a.splice(2, 1, &[8u32; 5]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSpace, "{e}");
    assert_eq!(a.to_vec::<u32>().unwrap(), vec![0, 1, 9, 4, 5, 6, 7], "nothing moved");
    assert_eq!(a.splice(6, 2, &[1u32]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    a.splice::<u32>(0, 7, &[]).unwrap();
    assert!(a.is_empty());
}

#[test]
fn handles_in_other_processes_see_the_new_protocol_words_only_in_the_header_page() {
    // The slot table lives in the header page: data is untouched by writers taking slots.
    let n = Name::new("slot-table");
    let a = Array::create(n.uri(), Dtype::U8, 0, rw()).unwrap();
    a.push(1u8).unwrap();
    let bytes = std::fs::read(n.path()).unwrap();
    assert_eq!(bytes[4096], 1);
    let idents: Vec<u64> = (0..480)
        .map(|k| u64::from_ne_bytes(bytes[256 + 8 * k..264 + 8 * k].try_into().unwrap()))
        .filter(|&w| w != 0)
        .collect();
    assert_eq!(idents.len(), 1);
    assert_eq!(idents[0] & ((1 << 22) - 1), std::process::id() as u64);
    drop(a);
    let bytes = std::fs::read(n.path()).unwrap();
    assert!(bytes[256..4096].iter().all(|&b| b == 0), "a freed handle gives its slot back");
}

#[test]
fn msync_flushes_the_data_up_to_the_published_length_then_the_header() {
    let prog = build("tests/c/lifecycle.c");
    let spy = common::cprog::build_with(
        "tests/c/msync_spy.c",
        "libmsync_spy.so",
        &["-shared", "-fPIC", "-std=c11", "-ldl"],
        false,
    );
    let dir = common::TempDir::new("msync");
    let log = dir.0.join("msync.log");
    let uri = dir.uri("durable.mba");
    let o = Command::new(&prog)
        .args(["msync", &uri])
        .env("LD_PRELOAD", &spy)
        .env("MSYNC_LOG", &log)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let field = |k: &str| -> u64 {
        out.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap()
    };
    let (base, data, len) = (field("base="), field("data="), field("len="));
    assert_eq!(len, 1 << 20);
    let ranges: Vec<(u64, u64)> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace().map(|x| x.parse::<u64>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect();
    // The handle attached at capacity 4 flushes everything the other handle appended, first...
    let data_page = data / 4096 * 4096;
    let covers = ranges.iter().position(|&(a, l)| a <= data_page && a + l >= data + len);
    let covers = covers.unwrap_or_else(|| panic!("no msync range covers the data up to len: {ranges:?}"));
    // ...and the header page holding the length after it.
    let header = ranges.iter().rposition(|&(a, _)| a == base);
    assert!(header.is_some_and(|h| h > covers), "the header is flushed after the data: {ranges:?}");
}
