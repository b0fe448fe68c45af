//! Model check: random sequences of API calls on an array, through one or two handles, give
//! exactly what the same calls give on a `Vec<u32>`: values, lengths and error kinds. Claims
//! (committed in part, in full, or aborted) and batching appenders included.

mod common;
use common::{excl, ro, rw, Name};
use mba::{Array, Dtype, ErrorKind};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Push(u32),
    Extend(Vec<u32>),
    Pop,
    Get(u64),
    Set(u64, u32),
    Read(u64, u64),
    Write(u64, Vec<u32>),
    Reserve(u64),
    /// Drop the writer handle and attach a new one (exclusive or not).
    Reattach(bool),
    /// Read everything through a fresh read-only handle.
    Snapshot,
    /// Claim room for the values, write them, then commit the first `k` (`None`: abort).
    Claim(Vec<u32>, Option<usize>),
    /// Push the values through an appender claiming `batch` at a time, flushing after `flush_at`.
    Appender(Vec<u32>, usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    // Indices reach a little past the end, and sometimes to the top of u64.
    let index = prop_oneof![4 => 0u64..300, 1 => Just(u64::MAX), 1 => Just(u64::MAX - 1)];
    prop_oneof![
        6 => any::<u32>().prop_map(Op::Push),
        3 => prop::collection::vec(any::<u32>(), 0..200).prop_map(Op::Extend),
        2 => Just(Op::Pop),
        3 => index.clone().prop_map(Op::Get),
        2 => (index.clone(), any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
        2 => (index.clone(), 0u64..50).prop_map(|(s, n)| Op::Read(s, n)),
        2 => (index, prop::collection::vec(any::<u32>(), 0..20)).prop_map(|(s, v)| Op::Write(s, v)),
        1 => (0u64..5000).prop_map(Op::Reserve),
        1 => any::<bool>().prop_map(Op::Reattach),
        1 => Just(Op::Snapshot),
        3 => (prop::collection::vec(any::<u32>(), 0..300), any::<prop::sample::Index>(), any::<bool>())
            .prop_map(|(v, k, abort)| {
                let k = k.index(v.len() + 1);
                Op::Claim(v, (!abort).then_some(k))
            }),
        2 => (prop::collection::vec(any::<u32>(), 0..600), 1usize..200, any::<prop::sample::Index>())
            .prop_map(|(v, batch, f)| {
                let f = f.index(v.len() + 1);
                Op::Appender(v, batch, f)
            }),
    ]
}

fn in_range(len: usize, start: u64, count: u64) -> bool {
    start.checked_add(count).is_some_and(|end| end <= len as u64)
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let n = Name::new("model");
    let mut a = Array::create(n.uri(), Dtype::U32, 1, rw()).unwrap();
    let mut model: Vec<u32> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let kind = |r: mba::Result<()>| r.err().map(|e| e.kind());
        match op {
            Op::Push(v) => {
                a.push(v).unwrap();
                model.push(v);
            }
            Op::Extend(vs) => {
                a.extend_from_slice(&vs).unwrap();
                model.extend_from_slice(&vs);
            }
            Op::Pop => match model.pop() {
                Some(v) => prop_assert_eq!(a.pop::<u32>().unwrap(), v, "step {}", step),
                None => prop_assert_eq!(a.pop::<u32>().unwrap_err().kind(), ErrorKind::Empty),
            },
            Op::Get(i) => match model.get(i as usize).filter(|_| i < model.len() as u64) {
                Some(v) => prop_assert_eq!(a.get::<u32>(i).unwrap(), *v, "step {}", step),
                None => prop_assert_eq!(a.get::<u32>(i).unwrap_err().kind(), ErrorKind::OutOfBounds),
            },
            Op::Set(i, v) => {
                if i < model.len() as u64 {
                    a.set(i, v).unwrap();
                    model[i as usize] = v;
                } else {
                    prop_assert_eq!(kind(a.set(i, v)), Some(ErrorKind::OutOfBounds));
                }
            }
            Op::Read(s, c) => {
                let mut buf = vec![0u32; c as usize];
                let r = a.read_into(s, &mut buf);
                if in_range(model.len(), s, c) {
                    r.unwrap();
                    prop_assert_eq!(&buf[..], &model[s as usize..(s + c) as usize], "step {}", step);
                } else {
                    prop_assert_eq!(kind(r), Some(ErrorKind::OutOfBounds));
                }
            }
            Op::Write(s, vs) => {
                let r = a.write_from(s, &vs);
                if in_range(model.len(), s, vs.len() as u64) {
                    r.unwrap();
                    model[s as usize..s as usize + vs.len()].copy_from_slice(&vs);
                } else {
                    prop_assert_eq!(kind(r), Some(ErrorKind::OutOfBounds));
                }
            }
            Op::Reserve(c) => {
                a.reserve(c).unwrap();
                prop_assert!(a.capacity() >= c);
            }
            Op::Reattach(exclusive) => {
                drop(a);
                a = Array::attach(n.uri(), if exclusive { excl() } else { rw() }).unwrap();
            }
            Op::Snapshot => {
                let r = Array::attach(n.uri(), ro()).unwrap();
                prop_assert_eq!(r.to_vec::<u32>().unwrap(), model.clone(), "step {}", step);
            }
            Op::Claim(vs, commit) => {
                let p = a.claim_raw(vs.len() as u64).unwrap();
                for (i, v) in vs.iter().enumerate() {
                    // SAFETY: p is room for vs.len() u32 elements.
                    unsafe { p.cast::<u32>().add(i).write_volatile(*v) };
                }
                let r = Array::attach(n.uri(), ro()).unwrap();
                prop_assert_eq!(r.len(), model.len() as u64, "step {}: a claim is not published", step);
                match commit {
                    Some(k) => {
                        a.commit(k as u64).unwrap();
                        model.extend_from_slice(&vs[..k]);
                    }
                    None => a.abort().unwrap(),
                }
                prop_assert_eq!(r.to_vec::<u32>().unwrap(), model.clone(), "step {}", step);
            }
            Op::Appender(vs, batch, flush_at) => {
                let r = Array::attach(n.uri(), ro()).unwrap();
                let mut app = a.appender_with_batch::<u32>(batch).unwrap();
                for (i, v) in vs.iter().enumerate() {
                    if i == flush_at {
                        app.flush().unwrap();
                        prop_assert_eq!(r.len(), (model.len() + i) as u64, "step {}: flush publishes", step);
                    }
                    app.push(*v).unwrap();
                    // Whole blocks are published as they fill, nothing more.
                    let done = if i < flush_at {
                        (i + 1) / batch * batch
                    } else {
                        flush_at + (i + 1 - flush_at) / batch * batch
                    };
                    prop_assert_eq!(r.len(), (model.len() + done) as u64, "step {}: after push {}", step, i);
                }
                drop(app);
                model.extend_from_slice(&vs);
            }
        }
        prop_assert_eq!(a.len(), model.len() as u64, "step {}", step);
    }
    prop_assert_eq!(a.to_vec::<u32>().unwrap(), model);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_call_sequences_match_a_vec(ops in prop::collection::vec(op(), 1..120)) {
        run(ops)?;
    }
}
