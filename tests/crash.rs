//! Crash suite: writers killed by SIGKILL at random moments (inside append, inside extend,
//! during growth, holding the lease or the append lock), a reader killed mid-read, and creators
//! killed mid-create. After each kill: a new writer gets the lease at once, every published
//! element is intact, and the array keeps working.

mod common;
use common::cprog::{build, kill9, start_until_ready};
use common::{excl, rw, Name};
use mba::{Array, Dtype, ErrorKind};
use std::time::Duration;

/// A deterministic spread of kill delays, 0 to 8 ms in 100 µs steps.
fn delay(round: u64) -> Duration {
    Duration::from_micros(round.wrapping_mul(2654435761) % 81 * 100)
}

#[test]
fn writers_killed_at_random_moments_200_rounds() {
    let worker = build("tests/c/worker.c");
    let (mut elements_checked, mut killed) = (0u64, 0u64);
    for round in 0..200u64 {
        let n = Name::new("crash");
        let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
        let mode = ["lease", "lease-extend", "spin"][round as usize % 3];
        let mut victim = if mode == "spin" {
            start_until_ready(&worker, &[mode, n.uri(), "0"])
        } else {
            start_until_ready(&worker, &[mode, n.uri()])
        };
        std::thread::sleep(delay(round));
        kill9(&mut victim);
        killed += 1;
        // At once: the lease is free, whatever the victim held.
        let next = Array::attach(n.uri(), excl()).unwrap_or_else(|e| panic!("round {round} ({mode}): {e}"));
        let v = next.to_vec::<u64>().unwrap();
        for (i, x) in v.iter().enumerate() {
            // lease modes append their index; the shared one its sequence number (writer 0).
            assert_eq!(*x, i as u64, "round {round} ({mode}): element {i} damaged");
        }
        assert!(v.len() >= 20, "round {round} ({mode}): the victim had appended");
        next.push(v.len() as u64).unwrap();
        drop(next);
        a.push(v.len() as u64 + 1).unwrap(); // shared appends work too: the lock is free
        assert_eq!(a.len(), v.len() as u64 + 2);
        elements_checked += v.len() as u64;
    }
    eprintln!(
        "crash: {killed} writers killed, {elements_checked} published elements checked, 0 damaged or lost"
    );
}

#[test]
fn reader_killed_mid_read_disturbs_no_one() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("crash-reader");
    let a = Array::create(n.uri(), Dtype::U64, 0, excl()).unwrap();
    a.extend_from_slice(&(0..1_000_000u64).collect::<Vec<_>>()).unwrap();
    for round in 0..10 {
        let mut reader = start_until_ready(&worker, &["read-loop", n.uri()]);
        std::thread::sleep(delay(round));
        kill9(&mut reader);
        a.push(1_000_000 + round).unwrap();
    }
    assert_eq!(a.len(), 1_000_010);
}

#[test]
fn creator_killed_mid_create_leaves_no_half_made_array() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("crash-create");
    let stem = &n.0["shm://".len()..];
    let (mut found, mut absent) = (0, 0);
    for round in 0..40 {
        let mut creator = start_until_ready(&worker, &["create-loop", n.uri()]);
        std::thread::sleep(delay(round * 7));
        kill9(&mut creator);
        // The name is either absent or a complete, valid array; never corrupt.
        match Array::attach(n.uri(), rw()) {
            Ok(a) => {
                assert_eq!((a.dtype(), a.len(), a.capacity()), (Dtype::U64, 0, 1 << 20), "round {round}");
                found += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NotFound, "round {round}: {e}");
                absent += 1;
            }
        }
    }
    // The documented recovery never needs more than MBA_OVERWRITE; without it the name is usable
    // or taken by a valid array.
    match Array::create(n.uri(), Dtype::U64, 0, rw()) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::Exists, "{e}"),
    }
    // A kill between staging and rename (overwrite only) can leave a complete array under a
    // hidden staging name; the next overwrite-create of the name sweeps those of dead creators.
    let staged = || {
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&format!(".{stem}.mba-new.")))
            .count()
    };
    let before = staged();
    Array::create(n.uri(), Dtype::U64, 0, mba::Options { overwrite: true, ..rw() }).unwrap();
    assert_eq!(staged(), 0, "staging leftovers of dead creators must be swept");
    eprintln!(
        "crash-create: 40 creators killed, name valid {found} times, absent {absent} times, \
         {before} staging leftovers swept"
    );
}

/// Writers killed between claim and commit (the claim worker spends most of its time there):
/// 200 rounds, shared and exclusive. Every published element is intact, no element of a claim
/// that was not committed (the worker writes POISON there) is ever published, and the array
/// works on at once: a new exclusive attach, and a shared append that takes the dead writer's
/// lock over.
#[test]
fn writers_killed_between_claim_and_commit_200_rounds() {
    const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;
    let worker = build("tests/c/worker.c");
    let (mut elements_checked, mut killed, mut holding) = (0u64, 0u64, 0u64);
    for round in 0..200u64 {
        let n = Name::new("crash-claim");
        let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
        let mode = ["claim", "claim-lease"][round as usize % 2];
        let mut victim = start_until_ready(&worker, &[mode, n.uri()]);
        std::thread::sleep(delay(round));
        kill9(&mut victim);
        killed += 1;
        if mode == "claim" {
            // The append lock word (header offset 80) names the dead writer's slot when it was
            // killed inside a claim; a shared append takes it over.
            let mut word = [0u8; 8];
            std::os::unix::fs::FileExt::read_exact_at(&std::fs::File::open(n.path()).unwrap(), &mut word, 80)
                .unwrap();
            holding += (u64::from_ne_bytes(word) & 0xFF_FFFF != 0) as u64;
            let before = a.len();
            a.push(before).unwrap_or_else(|e| panic!("round {round} ({mode}): {e}"));
        }
        let next = Array::attach(n.uri(), excl()).unwrap_or_else(|e| panic!("round {round} ({mode}): {e}"));
        let v = next.to_vec::<u64>().unwrap();
        for (i, x) in v.iter().enumerate() {
            assert_ne!(*x, POISON, "round {round} ({mode}): element {i} was never committed");
            assert_eq!(*x, i as u64, "round {round} ({mode}): element {i} damaged");
        }
        assert!(v.len() >= 20, "round {round} ({mode}): the victim had committed");
        next.push(v.len() as u64).unwrap();
        drop(next);
        a.push(v.len() as u64 + 1).unwrap();
        assert_eq!(a.len(), v.len() as u64 + 2);
        elements_checked += v.len() as u64;
    }
    // The worker spends nearly all its time between claim and commit: most kills land there.
    assert!(holding > 50, "only {holding} of 100 shared writers were killed inside a claim");
    eprintln!(
        "crash-claim: {killed} writers killed ({holding} of the 100 shared ones inside a claim, holding \
         the append lock), {elements_checked} published elements checked, none damaged, none uncommitted seen"
    );
}
