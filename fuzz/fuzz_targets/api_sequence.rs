//! Bytes decoded as a sequence of API calls on a u16 array, checked against a Vec<u16>.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mba::{Array, Dtype, ErrorKind, Options};

fuzz_target!(|data: &[u8]| {
    let a = Array::create("", Dtype::U16, 1, Options::default()).unwrap();
    let mut model: Vec<u16> = Vec::new();
    let mut bytes = data.chunks_exact(4);
    for c in &mut bytes {
        let (op, x, v) =
            (c[0] % 8, u16::from_le_bytes([c[1], c[2]]) as u64, u16::from_le_bytes([c[2], c[3]]));
        let i = if c[3] & 0x80 != 0 { u64::MAX - x } else { x };
        match op {
            0 => {
                a.push(v).unwrap();
                model.push(v);
            }
            1 => {
                let vs = vec![v; (x % 300) as usize];
                a.extend_from_slice(&vs).unwrap();
                model.extend_from_slice(&vs);
            }
            2 => match model.pop() {
                Some(m) => assert_eq!(a.pop::<u16>().unwrap(), m),
                None => assert_eq!(a.pop::<u16>().unwrap_err().kind(), ErrorKind::Empty),
            },
            3 => match (i < model.len() as u64).then(|| model[i as usize]) {
                Some(m) => assert_eq!(a.get::<u16>(i).unwrap(), m),
                None => assert_eq!(a.get::<u16>(i).unwrap_err().kind(), ErrorKind::OutOfBounds),
            },
            4 => {
                if i < model.len() as u64 {
                    a.set(i, v).unwrap();
                    model[i as usize] = v;
                } else {
                    assert_eq!(a.set(i, v).unwrap_err().kind(), ErrorKind::OutOfBounds);
                }
            }
            5 => {
                let n = (v % 64) as u64;
                let mut buf = vec![0u16; n as usize];
                match i.checked_add(n).filter(|&e| e <= model.len() as u64) {
                    Some(e) => {
                        a.read_into(i, &mut buf).unwrap();
                        assert_eq!(&buf[..], &model[i as usize..e as usize]);
                    }
                    None => assert_eq!(a.read_into(i, &mut buf).unwrap_err().kind(), ErrorKind::OutOfBounds),
                }
            }
            6 => a.reserve(x).unwrap(),
            _ => {
                let b = Array::attach_fd(a.fd(), Options { read_only: true, ..Options::default() }).unwrap();
                assert_eq!(b.to_vec::<u16>().unwrap(), model);
            }
        }
        assert_eq!(a.len(), model.len() as u64);
    }
    assert_eq!(a.to_vec::<u16>().unwrap(), model);
});
