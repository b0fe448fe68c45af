//! Claim and commit, batching appenders, and readers that sleep until the length grows
//! (docs/GUARANTEES.md §14 and §15).

mod common;
use common::cprog::{build, kill9, run_ok, start_until_ready};
use common::{excl, ro, rw, Name};
use mba::{Array, Dtype, ErrorKind, Options};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn write_u32s(p: *mut u8, values: &[u32]) {
    for (i, v) in values.iter().enumerate() {
        // SAFETY: p is claimed room for at least values.len() u32 elements (checked by callers).
        unsafe { p.cast::<u32>().add(i).write_volatile(*v) };
    }
}

/// The header's `len_waiters` word (offset 100), read as a peer would.
fn len_waiters(a: &Array) -> u32 {
    // SAFETY: the header lies in the mapping for the handle's life; read atomically.
    unsafe { AtomicU32::from_ptr((a.header_ptr() as *mut u8).add(100).cast()).load(Ordering::SeqCst) }
}

#[test]
fn a_claim_is_invisible_until_committed_and_then_appears_at_once() {
    for opts in [rw(), excl()] {
        let n = Name::new("claim-basic");
        let a = Array::create(n.uri(), Dtype::U32, 4, opts).unwrap();
        let r = Array::attach(n.uri(), ro()).unwrap();
        a.push(7u32).unwrap();
        // Far past the capacity: the claim grows the store first.
        let p = a.claim_raw(10_000).unwrap();
        assert_eq!(p, a.data_ptr().wrapping_add(4), "the room starts at the published length");
        write_u32s(p, &(0..10_000).collect::<Vec<_>>());
        assert_eq!((a.len(), r.len()), (1, 1), "nothing of the claim is published before the commit");
        assert!(r.get::<u32>(1).is_err());
        a.commit(6_000).unwrap();
        assert_eq!(r.len(), 6_001);
        let v = r.to_vec::<u32>().unwrap();
        assert_eq!(v[0], 7);
        assert!(v[1..].iter().enumerate().all(|(i, x)| *x == i as u32));
        // An abort publishes nothing; the next claim starts at the same place.
        let p = a.claim_raw(3).unwrap();
        write_u32s(p, &[1, 2, 3]);
        a.abort().unwrap();
        assert_eq!(r.len(), 6_001);
        let p2 = a.claim_raw(2).unwrap();
        assert_eq!(p, p2);
        a.commit(0).unwrap();
        assert_eq!(r.len(), 6_001);
        // Appends work again after the claim ends, on both paths.
        a.push(9u32).unwrap();
        assert_eq!(r.get::<u32>(6_001).unwrap(), 9);
    }
}

#[test]
fn bad_commits_are_refused_and_leave_the_claim_open() {
    let n = Name::new("claim-bad");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    assert_eq!(a.commit(1).unwrap_err().kind(), ErrorKind::InvalidArgument, "no claim open");
    assert_eq!(a.abort().unwrap_err().kind(), ErrorKind::InvalidArgument, "no claim open");
    let p = a.claim_raw(4).unwrap();
    write_u32s(p, &[1, 2, 3, 4]);
    let e = a.commit(5).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("exceed the 4 claimed"), "{e}");
    a.commit(4).unwrap();
    assert_eq!(a.to_vec::<u32>().unwrap(), [1, 2, 3, 4]);
    assert_eq!(a.claim_raw(u64::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument, "overflow");
    let ro_handle = Array::attach(n.uri(), ro()).unwrap();
    assert_eq!(ro_handle.claim_raw(1).unwrap_err().kind(), ErrorKind::ReadOnly);
    // Rows: counts are whole rows.
    let m = Name::new("claim-rows");
    let s = Array::create(m.uri(), Dtype::U32, 0, Options::default().shaped(&[0, 3])).unwrap();
    assert_eq!(s.claim_raw(4).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let p = s.claim_raw(6).unwrap();
    write_u32s(p, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(s.commit(4).unwrap_err().kind(), ErrorKind::InvalidArgument);
    s.commit(3).unwrap();
    assert_eq!(s.shape(), [1, 3]);
}

#[test]
fn the_claiming_thread_is_told_at_once_and_other_threads_wait_for_the_commit() {
    for opts in [rw(), excl()] {
        let n = Name::new("claim-threads");
        let a = Array::create(n.uri(), Dtype::U32, 0, opts).unwrap();
        let p = a.claim_raw(10).unwrap();
        // The claiming thread's own length-changing calls: Busy at once, naming the claim.
        for (what, r) in [
            ("push", a.push(1u32)),
            ("extend", a.extend_from_slice(&[1u32])),
            ("reserve", a.reserve(100)),
            ("truncate", a.truncate(0)),
            ("claim", a.claim_raw(1).map(|_| ())),
        ] {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Busy, "{what}");
            assert!(e.message().contains("claim open"), "{what}: {e}");
        }
        // Reads, in-place writes of published elements and msync go on meanwhile.
        assert_eq!(a.len(), 0);
        a.msync(false, false).unwrap();
        write_u32s(p, &(0..10).collect::<Vec<_>>());
        // Another thread's push waits for the commit, then lands after the committed elements.
        std::thread::scope(|s| {
            let t = s.spawn(|| a.push(99u32));
            std::thread::sleep(Duration::from_millis(50));
            a.commit(10).unwrap();
            t.join().unwrap().unwrap();
        });
        let mut want: Vec<u32> = (0..10).collect();
        want.push(99);
        assert_eq!(a.to_vec::<u32>().unwrap(), want);
        // ... and gives up with Busy after the handle's timeout if the commit never comes.
        a.set_timeout(100);
        let _p = a.claim_raw(1).unwrap();
        std::thread::scope(|s| {
            let e = s.spawn(|| a.push(1u32)).join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Busy);
            assert!(e.message().contains("100 ms"), "{e}");
        });
        a.abort().unwrap();
        assert_eq!(a.len(), 11);
    }
}

#[test]
fn a_claim_holds_the_append_lock_against_other_handles_until_commit() {
    let n = Name::new("claim-lock");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    let b = Array::attach(n.uri(), Options { timeout_ms: 50, ..rw() }).unwrap();
    let p = a.claim_raw(2).unwrap();
    let e = b.push(5u32).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("append lock"), "{e}");
    let e = Array::attach(n.uri(), Options { exclusive: true, timeout_ms: 50, ..rw() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "an exclusive attach waits for appends in flight: {e}");
    write_u32s(p, &[1, 2]);
    a.commit(2).unwrap();
    b.push(5u32).unwrap();
    assert_eq!(a.to_vec::<u32>().unwrap(), [1, 2, 5]);
}

#[test]
fn freeing_a_handle_with_an_open_claim_aborts_it_and_frees_the_lock() {
    for opts in [rw(), excl()] {
        let n = Name::new("claim-free");
        let a = Array::create(n.uri(), Dtype::U32, 0, opts).unwrap();
        a.push(1u32).unwrap();
        let p = a.claim_raw(100).unwrap();
        write_u32s(p, &[7; 100]);
        drop(a);
        // This process is alive: a lock left held would give Busy after 100 ms, not be taken over.
        let b = Array::attach(n.uri(), Options { timeout_ms: 100, ..rw() }).unwrap();
        b.push(2u32).unwrap();
        assert_eq!(b.to_vec::<u32>().unwrap(), [1, 2]);
        drop(b);
        Array::attach(n.uri(), Options { exclusive: true, timeout_ms: 100, ..rw() }).unwrap();
    }
}

#[test]
fn a_forked_child_cannot_commit_the_parents_claim_and_the_parent_still_can() {
    let prog = build("tests/c/claim.c");
    for mode in ["fork-excl", "fork-shared"] {
        let n = Name::new("claim-fork");
        let out = run_ok(&prog, &[mode, n.uri()]);
        assert!(out.contains(&format!("ok {mode} len=1000")), "{out}");
    }
}

#[test]
fn the_c_api_of_claims_and_waits_behaves_as_documented() {
    let prog = build("tests/c/claim.c");
    let n = Name::new("claim-c");
    let out = run_ok(&prog, &["api", n.uri()]);
    assert!(out.contains("ok api"), "{out}");
}

#[test]
fn appenders_publish_per_block_on_flush_and_on_drop() {
    let n = Name::new("appender");
    let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
    let r = Array::attach(n.uri(), ro()).unwrap();
    {
        let mut app = a.appender_with_batch::<u64>(100).unwrap();
        assert_eq!(app.batch(), 100);
        for i in 0..250u64 {
            app.push(i).unwrap();
        }
        assert_eq!(r.len(), 200, "two full blocks committed as they filled, the third open");
        assert_eq!(app.pending(), 50);
        app.flush().unwrap();
        assert_eq!(r.len(), 250);
        app.extend_from_slice(&(250..1000).collect::<Vec<_>>()).unwrap();
        app.push(1000).unwrap();
    }
    assert_eq!(r.to_vec::<u64>().unwrap(), (0..=1000).collect::<Vec<_>>());
    assert_eq!(a.appender::<u64>().unwrap().batch(), mba::DEFAULT_BATCH);
    assert_eq!(a.appender::<u32>().unwrap_err().kind(), ErrorKind::TypeMismatch);
    assert_eq!(a.appender_with_batch::<u64>(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let m = Name::new("appender-rows");
    let s = Array::create(m.uri(), Dtype::U64, 0, Options::default().shaped(&[0, 2])).unwrap();
    assert_eq!(s.appender::<u64>().unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn an_appender_near_the_maximum_capacity_fills_it_exactly() {
    let n = Name::new("appender-max");
    let a = Array::create(n.uri(), Dtype::U8, 1, Options { max_capacity: 10_000, ..excl() }).unwrap();
    let mut app = a.appender_with_batch::<u8>(4096).unwrap();
    let mut pushed = 0u64;
    let err = loop {
        match app.push(pushed as u8) {
            Ok(()) => pushed += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::NoSpace, "{err}");
    drop(app);
    assert_eq!((pushed, a.len()), (10_000, 10_000));
    assert!(a.to_vec::<u8>().unwrap().iter().enumerate().all(|(i, x)| *x == i as u8));
}

#[test]
fn threads_pushing_through_appenders_on_one_handle_lose_nothing() {
    for opts in [rw(), excl()] {
        let n = Name::new("appender-threads");
        let a = Array::create(n.uri(), Dtype::U64, 4, opts).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let a = &a;
                s.spawn(move || {
                    for chunk in 0..20u64 {
                        let mut app = a.appender_with_batch::<u64>(64).unwrap();
                        for i in 0..500 {
                            app.push(t << 32 | (chunk * 500 + i)).unwrap();
                        }
                        app.flush().unwrap();
                    }
                });
            }
        });
        let v = a.to_vec::<u64>().unwrap();
        assert_eq!(v.len(), 40_000);
        let mut next = [0u64; 4];
        for x in v {
            let (t, i) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
            assert_eq!(i, next[t], "thread {t}'s values out of order or lost");
            next[t] += 1;
        }
    }
}

#[test]
fn a_waiter_sleeps_until_an_append_and_returns_the_length() {
    for reader in [rw(), ro()] {
        let n = Name::new("wait");
        let a = Array::create(n.uri(), Dtype::U32, 0, excl()).unwrap();
        let r = Array::attach(n.uri(), reader).unwrap();
        assert_eq!(r.wait_len(0, Some(Duration::ZERO)).unwrap(), 0);
        assert_eq!(r.wait_len(1, Some(Duration::ZERO)).unwrap(), 0, "timeout 0 does not wait");
        assert_eq!(r.wait_len(1, Some(Duration::from_millis(30))).unwrap(), 0, "timed out");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| r.wait_len(1000, None).unwrap());
            let mut app = a.appender_with_batch::<u32>(100).unwrap();
            for i in 0..1000 {
                app.push(i).unwrap();
            }
            drop(app);
            assert!(waiter.join().unwrap() >= 1000);
        });
        assert_eq!(len_waiters(&a) & 0xFFFF, 0, "every sleeper gave its registration back");
    }
}

#[test]
fn many_waiters_on_many_threads_are_all_woken() {
    let n = Name::new("wait-many");
    let a = Array::create(n.uri(), Dtype::U32, 0, rw()).unwrap();
    let r = Array::attach(n.uri(), rw()).unwrap();
    std::thread::scope(|s| {
        let waiters: Vec<_> = (1..=8u64)
            .map(|k| {
                (
                    k,
                    s.spawn({
                        let r = &r;
                        move || r.wait_len(k * 100, None).unwrap()
                    }),
                )
            })
            .collect();
        for i in 0..800u32 {
            a.push(i).unwrap();
        }
        for (k, w) in waiters {
            assert!(w.join().unwrap() >= k * 100);
        }
    });
    assert_eq!(len_waiters(&a) & 0xFFFF, 0);
}

#[test]
fn a_count_left_by_a_killed_sleeper_is_healed_by_appenders() {
    let n = Name::new("wait-heal");
    let a = Array::create(n.uri(), Dtype::U32, 0, excl()).unwrap();
    // What a sleeper killed in its sleep leaves: a count of 1 that no one will give back.
    common::poke(&n.path(), 100, &1u32.to_ne_bytes());
    assert_eq!(len_waiters(&a), 1);
    // Appends pay a wake-up that finds no one; after a second of those a new epoch begins.
    let mut i = 0u32;
    while len_waiters(&a) & 0xFFFF != 0 {
        a.push(i).unwrap();
        i += 1;
        if i % 64 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(i < 10_000_000, "the count was never healed");
    }
    assert_eq!(len_waiters(&a), 1 << 16, "epoch 1, count 0");
    // A live waiter registers in the new epoch and is woken as before.
    let r = Array::attach(n.uri(), rw()).unwrap();
    std::thread::scope(|s| {
        let w = s.spawn(|| r.wait_len(i as u64 + 1, None).unwrap());
        while len_waiters(&a) & 0xFFFF == 0 {
            std::thread::yield_now();
        }
        a.push(1u32).unwrap();
        assert_eq!(w.join().unwrap(), i as u64 + 1);
    });
    assert_eq!(len_waiters(&a), 1 << 16);
}

#[test]
fn a_waiter_is_never_kept_asleep_by_a_writer_killed_while_it_sleeps() {
    let worker = build("tests/c/worker.c");
    for round in 0..10u64 {
        let n = Name::new("wait-killed");
        let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
        let r = Array::attach(n.uri(), rw()).unwrap();
        // A writer that dies between claim and commit, holding the append lock (or the lease).
        let mode = ["claim", "claim-lease"][round as usize % 2];
        let mut victim = start_until_ready(&worker, &[mode, n.uri()]);
        std::thread::scope(|s| {
            // One waiter wants more than anyone will append: its timeout ends its sleep.
            let bounded = s.spawn(|| r.wait_len(u64::MAX, Some(Duration::from_millis(300))).unwrap());
            std::thread::sleep(Duration::from_millis(10));
            kill9(&mut victim);
            let dead_len = a.len();
            assert!(bounded.join().unwrap() >= dead_len, "round {round}");
            // Another sleeps past the death and is woken by the next writer, who recovers the lock.
            let r = &r;
            let woken = s.spawn(move || r.wait_len(dead_len + 1, Some(Duration::from_secs(60))).unwrap());
            std::thread::sleep(Duration::from_millis(10));
            let next = Array::attach(n.uri(), excl()).unwrap();
            next.push(dead_len).unwrap();
            assert_eq!(woken.join().unwrap(), dead_len + 1, "round {round} ({mode})");
        });
        let v = a.to_vec::<u64>().unwrap();
        assert!(v.iter().enumerate().all(|(i, x)| *x == i as u64), "round {round} ({mode})");
        assert_eq!(len_waiters(&a) & 0xFFFF, 0);
    }
}

#[test]
fn the_cpp_appender_and_wait_len_behave_as_documented() {
    let prog = common::cprog::build_with(
        "tests/cpp/appender_test.cpp",
        "cpp_appender_test",
        &["-xc++", "-std=c++17"],
        false,
    );
    let n = Name::new("cpp-appender");
    assert_eq!(run_ok(&prog, &[n.uri()]), "cpp appender ok\n");
}
