//! Hostile peer: while reader, writer and lease-holder processes call every API function in a
//! loop, and C and C++ readers dereference every element of the zero-copy view up to
//! `mba_len()`, this process writes random bytes into the live array's header, writer slot
//! table and data through /dev/shm. They must get values or errors, never a signal.
//! (Shrinking the store is the one attack that still raises SIGBUS; see docs/GUARANTEES.md §10.)

mod common;
use common::cprog::{build, build_with, start_until_ready};
use common::{poke, rw, Name};
use mba::{Array, Dtype};
use std::time::{Duration, Instant};

#[test]
fn random_scribbles_on_a_live_array_crash_no_one() {
    let worker = build("tests/c/worker.c");
    let n = Name::new("hostile");
    let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
    a.extend_from_slice(&(0..10_000u64).collect::<Vec<_>>()).unwrap();
    let ms = 2000u64;
    // Flags: 0 = shared read-write, 1 = read-only, 2 = exclusive (the lease holder). Each
    // attaches to the sound array (an attach refuses a scribbled header) and says "ready".
    let mut children: Vec<_> = ["0", "1", "2", "0", "1"]
        .iter()
        .map(|flags| start_until_ready(&worker, &["chaos", n.uri(), &ms.to_string(), flags]))
        .collect();
    // Zero-copy readers: every element below mba_len() is dereferenced, in C and in C++.
    let resources = build("tests/c/resources.c");
    let cpp = build_with("tests/cpp/view_loop.cpp", "cpp_view_loop", &["-xc++", "-std=c++17"], false);
    children.push(start_until_ready(&resources, &["view-loop", n.uri(), &ms.to_string()]));
    children.push(start_until_ready(&cpp, &[n.uri(), &ms.to_string()]));
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut header_faults, mut data_faults) = (0u64, 0u64);
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        let size = std::fs::metadata(n.path()).unwrap().len();
        let r = next();
        match r % 4 {
            // Any 8 bytes anywhere in the header, the fixed fields included.
            0 => {
                poke(&n.path(), r >> 32 & 0xF8, &next().to_ne_bytes());
                header_faults += 1;
            }
            // The live words: len, capacity, lock, lease, lock_seq; sometimes plausible values.
            1 => {
                let off = [64u64, 72, 80, 88, 96][(r >> 8) as usize % 5];
                let v = if r & 0x100 != 0 { next() } else { next() % 100_000 };
                poke(&n.path(), off, &v.to_ne_bytes());
                header_faults += 1;
            }
            // The length, claimed far past the store: views must not follow it.
            2 if r & 0x200 != 0 => {
                let v = [size, size * 4, 1 << 40, u64::MAX / 8][(r >> 12) as usize % 4];
                poke(&n.path(), 64, &v.to_ne_bytes());
                header_faults += 1;
            }
            // Any 8 bytes in the writer slot table.
            2 => {
                poke(&n.path(), 256 + (r >> 16) % 480 * 8, &next().to_ne_bytes());
                header_faults += 1;
            }
            // Random bytes in the data.
            _ => {
                let off = 4096 + next() % size.saturating_sub(4104).max(1);
                poke(&n.path(), off, &next().to_ne_bytes()[..(r as usize % 8) + 1]);
                data_faults += 1;
            }
        }
        if r % 64 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let mut calls = 0u64;
    for c in children {
        let o = c.wait_with_output().unwrap();
        let rest = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "a process calling the API under scribbles died: {} {rest}", o.status);
        if rest.starts_with("ok") {
            continue; // a view loop: it read every element it was shown, and lived
        }
        let count = rest.split("calls=").nth(1).and_then(|s| s.split_whitespace().next());
        calls += count.and_then(|c| c.parse::<u64>().ok()).unwrap_or_else(|| panic!("no count in {rest:?}"));
    }
    eprintln!(
        "hostile: {header_faults} header and {data_faults} data scribbles, {calls} API calls, 0 crashes"
    );
}
