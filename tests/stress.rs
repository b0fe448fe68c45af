//! Stress: W writer processes (2, 4, 8) mix shared appends, shared extends and lease sessions
//! (append, extend, pop) while 4 reader processes check every snapshot they read. At the end every
//! element each writer kept is present exactly once and in order. A variant mixes in claims
//! committed in part or aborted. The array starts at
//! capacity 4 and grows through more than ten doublings' worth.

mod common;
use common::cprog::build;
use common::{rw, Name, TempDir};
use mba::{Array, Dtype};
use std::process::{Command, Stdio};

const READERS: usize = 4;
const OPS: u64 = 20_000;

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        .parse()
        .unwrap()
}

fn stress(writers: u64, claims: bool) {
    let worker = build("tests/c/worker.c");
    let n = Name::new("stress");
    let a = Array::create(n.uri(), Dtype::U64, 4, rw()).unwrap();
    let spawn = |args: Vec<String>| Command::new(&worker).args(args).stdout(Stdio::piped()).spawn().unwrap();
    // The readers check snapshots for as long as the writers write (a minute at most), then
    // once more after the stop file appears: no CPU spent re-reading a finished array.
    let dir = TempDir::new("stress");
    let stop = dir.0.join("writers-done").to_string_lossy().into_owned();
    let readers: Vec<_> = (0..READERS)
        .map(|_| spawn(vec!["check".into(), n.0.clone(), writers.to_string(), "60000".into(), stop.clone()]))
        .collect();
    let ws: Vec<_> = (0..writers)
        .map(|w| {
            let mut args =
                vec!["stress".into(), n.0.clone(), w.to_string(), OPS.to_string(), (w + 7).to_string()];
            if claims {
                args.push("claims".into());
            }
            spawn(args)
        })
        .collect();
    let mut kept = Vec::new();
    let (mut sessions, mut pops, mut busy, mut claimed) = (0, 0, 0, 0);
    let ws: Vec<_> = ws.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    std::fs::write(&stop, b"").unwrap();
    for o in ws {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "writer: {} {out}", o.status);
        kept.push(field(&out, "seq"));
        sessions += field(&out, "sessions");
        pops += field(&out, "pops");
        busy += field(&out, "busy");
        claimed += field(&out, "claims");
    }
    let (mut snapshots, mut checked) = (0, 0);
    for c in readers {
        let o = c.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "reader: {} {out}", o.status);
        snapshots += field(&out, "snapshots");
        checked += field(&out, "elements");
    }
    // Every element each writer kept, exactly once, in its order, and nothing else.
    let v = a.to_vec::<u64>().unwrap();
    let mut next = vec![0u64; writers as usize];
    for (i, x) in v.iter().enumerate() {
        let (w, q) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
        assert!(w < writers as usize && q == next[w], "element {i} = {x:#x}: lost, repeated or torn");
        next[w] += 1;
    }
    assert_eq!(next, kept, "elements lost");
    assert!(a.capacity() >= 4 << 10, "fewer than ten doublings of growth: {}", a.capacity());
    assert!(snapshots >= READERS as u64 && sessions > 0 && pops == sessions);
    assert_eq!(claims, claimed > 0, "claims made: {claimed}");
    eprintln!(
        "stress W={writers} R={READERS}: {} elements, {} ops, {sessions} lease sessions, {pops} pops, \
         {claimed} claims, {busy} BUSY retries, {snapshots} reader snapshots, {checked} elements checked, 0 lost",
        v.len(),
        writers * OPS
    );
}

#[test]
fn stress_2_writers_4_readers() {
    stress(2, false);
}

#[test]
fn stress_4_writers_4_readers() {
    stress(4, false);
}

#[test]
fn stress_8_writers_4_readers() {
    stress(8, false);
}

/// The same with claims: shared claims committed in part or aborted, and a claim in every lease
/// session. The readers never see an element that was claimed but not committed.
#[test]
fn stress_claims_4_writers_4_readers() {
    stress(4, true);
}
