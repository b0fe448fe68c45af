//! Raw files and `.npy` files as fixed-length mba arrays (issue 11 items 1 and 2): offsets,
//! lengths and rounding, refusal of length changes, writes seen by other readers, `.npy`
//! files that numpy wrote (every dtype, 1 to 3 dimensions, versions 1.0 to 3.0, big-endian,
//! Fortran order), and a C program reading the raw file another C program wrote.

mod common;
use common::cprog::{build, run_ok};
use common::TempDir;
use mba::{Array, Dtype, ErrorKind, Kind, Options, RawOptions};
use std::path::Path;
use std::process::Command;

fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect()
}

fn raw(dtype: Dtype) -> RawOptions {
    RawOptions::new(dtype)
}

#[test]
fn raw_file_offset_length_and_round_down() {
    let dir = TempDir::new("raw-range");
    let path = dir.0.join("data.bin");
    let bytes = random_bytes(3 * 4096 + 6, 7); // 6 stray bytes at the end
    std::fs::write(&path, &bytes).unwrap();

    let e = Array::open_raw(&path, &raw(Dtype::U32)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("whole number of rows"), "{e}");

    let a = Array::open_raw(&path, &RawOptions { round_down: true, ..raw(Dtype::U32) }).unwrap();
    let all = u32s(&bytes[..3 * 4096 + 4]);
    assert_eq!(a.len(), all.len() as u64);
    assert_eq!((a.capacity(), a.max_capacity()), (a.len(), a.len()));
    assert_eq!(a.kind(), Kind::Raw);
    assert!(!a.byte_swapped() && a.is_read_only());
    assert_eq!(a.to_vec::<u32>().unwrap(), all);
    // SAFETY: the header pointer lives as long as the handle; len read atomically.
    let hlen = unsafe {
        std::sync::atomic::AtomicU64::from_ptr(std::ptr::addr_of!((*a.header_ptr()).len) as *mut u64)
            .load(std::sync::atomic::Ordering::Acquire)
    };
    assert_eq!(hlen, a.len());

    // A range that starts inside the second page, as rows of 3.
    let o = RawOptions { offset: 4096 + 12, length: 4 * 3 * 10, shape: vec![3], ..raw(Dtype::U32) };
    let b = Array::open_raw(&path, &o).unwrap();
    assert_eq!(b.shape(), vec![10, 3]);
    assert_eq!(b.to_vec::<u32>().unwrap(), u32s(&bytes[4096 + 12..4096 + 12 + 120]));
    assert_eq!(b.get::<u32>(30).unwrap_err().kind(), ErrorKind::OutOfBounds);

    for (offset, length) in [(2, 8), (bytes.len() as u64 - 4, 8), (bytes.len() as u64 + 4, 0)] {
        let e = Array::open_raw(&path, &RawOptions { offset, length, ..raw(Dtype::U32) }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{offset}+{length}: {e}");
    }
    // The end of the file exactly, and an empty region.
    let end = bytes.len() as u64;
    let c =
        Array::open_raw(&path, &RawOptions { offset: end - 5, length: 4, ..raw(Dtype::U32) }).unwrap_err();
    assert_eq!(c.kind(), ErrorKind::InvalidArgument); // offset not aligned
    let d = Array::open_raw(&path, &RawOptions { offset: end - 2, length: 2, ..raw(Dtype::U16) }).unwrap();
    assert_eq!(
        d.to_vec::<u16>().unwrap(),
        vec![u16::from_ne_bytes([bytes[end as usize - 2], bytes[end as usize - 1]])]
    );
    let z = Array::open_raw(&path, &RawOptions { offset: end, ..raw(Dtype::U8) }).unwrap();
    assert_eq!(z.len(), 0);
    assert_eq!(
        Array::open_raw(dir.0.join("missing"), &raw(Dtype::U8)).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(Array::open_raw(&dir.0, &raw(Dtype::U8)).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn raw_length_changes_are_refused_and_writes_are_shared() {
    let dir = TempDir::new("raw-fixed");
    let path = dir.0.join("data.bin");
    std::fs::write(&path, random_bytes(800, 3)).unwrap();
    let w = Array::open_raw(&path, &RawOptions { read_only: false, ..raw(Dtype::I64) }).unwrap();
    let r = Array::open_raw(&path, &raw(Dtype::I64)).unwrap();
    assert_eq!(w.len(), 100);
    let refused = [
        w.push(1i64).unwrap_err(),
        w.extend_from_slice(&[1i64, 2]).unwrap_err(),
        w.extend_from_slice::<i64>(&[]).unwrap_err(),
        w.pop::<i64>().unwrap_err(),
        w.truncate(0).unwrap_err(),
        w.reserve(1000).unwrap_err(),
        w.splice::<i64>(0, 1, &[]).unwrap_err(),
        r.push(1i64).unwrap_err(),
    ];
    for e in refused {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("a raw file's length is fixed"), "{e}");
    }
    assert_eq!(w.len(), 100);
    // Waiting for more than the fixed length is refused at once (it could only time out, and
    // spun on a futex word no appender wakes); a wait the length already meets returns it.
    for h in [&w, &r] {
        let e = h.wait_len(101, Some(std::time::Duration::from_secs(2))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("length is fixed at 100"), "{e}");
        assert_eq!(h.wait_len(100, None).unwrap(), 100);
    }
    w.set(7, -42i64).unwrap();
    w.write_from(10, &[5i64, 6, 7]).unwrap();
    assert_eq!(r.get::<i64>(7).unwrap(), -42);
    assert_eq!(r.set(7, 1i64).unwrap_err().kind(), ErrorKind::ReadOnly);
    w.msync(true, false).unwrap();
    r.msync(true, false).unwrap();
    drop(w);
    let b = std::fs::read(&path).unwrap();
    assert_eq!(b.len(), 800, "the file keeps its size");
    assert_eq!(i64::from_ne_bytes(b[56..64].try_into().unwrap()), -42);
    assert_eq!(i64::from_ne_bytes(b[96..104].try_into().unwrap()), 7);
    // raw:// through attach names what is missing; options raw cannot honour are refused.
    let e = Array::attach(format!("raw://{}", path.display()), Options::default()).unwrap_err();
    assert!(e.kind() == ErrorKind::InvalidArgument && e.to_string().contains("dtype"), "{e}");
    let e = Array::open_raw(&path, &RawOptions { shape: vec![0], ..raw(Dtype::I64) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn raw_file_from_a_descriptor() {
    use std::os::fd::AsRawFd;
    let dir = TempDir::new("raw-fd");
    let path = dir.0.join("data.bin");
    std::fs::write(&path, random_bytes(4000, 9)).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let e =
        Array::open_raw_fd(f.as_raw_fd(), &RawOptions { read_only: false, ..raw(Dtype::U8) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    let a = Array::open_raw_fd(f.as_raw_fd(), &raw(Dtype::U8)).unwrap();
    drop(f);
    assert_eq!(a.to_vec::<u8>().unwrap(), std::fs::read(&path).unwrap());
}

fn python(script: &str, args: &[&str]) -> String {
    let o = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3");
    assert!(o.status.success(), "python failed:\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const DTYPES: [(&str, Dtype); 14] = [
    ("i1", Dtype::I8),
    ("u1", Dtype::U8),
    ("i2", Dtype::I16),
    ("u2", Dtype::U16),
    ("i4", Dtype::I32),
    ("u4", Dtype::U32),
    ("i8", Dtype::I64),
    ("u8", Dtype::U64),
    ("f4", Dtype::F32),
    ("f8", Dtype::F64),
    ("?", Dtype::Bool),
    ("f2", Dtype::F16),
    ("c8", Dtype::C64),
    ("c16", Dtype::C128),
];

/// numpy writes X.npy (random values) and X.bin (its bytes, as stored) for every dtype and
/// shape; mba maps each .npy and its bytes, dtype and shape must match; then mba writes through
/// a writable handle and numpy.load must see it.
#[test]
fn npy_round_trips_with_numpy_for_every_dtype_and_shape() {
    let dir = TempDir::new("npy-trip");
    let d = dir.0.to_str().unwrap();
    let script = r#"
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(11)
for code in sys.argv[2].split(','):
    for k, shape in enumerate([(37,), (6, 5), (4, 3, 2)]):
        n = int(np.prod(shape))
        dt = np.dtype(code)
        if dt.kind == 'b':
            a = rng.integers(0, 2, n).astype(dt)
        elif dt.kind in 'iu':
            a = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max, n, dtype=dt, endpoint=True)
        elif dt.kind == 'f':
            a = rng.standard_normal(n).astype(dt)
        else:
            a = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dt)
        a = a.reshape(shape)
        name = '%s/%s-%d' % (d, code.replace('?', 'b'), k)
        with open(name + '.npy', 'wb') as f:
            np.lib.format.write_array(f, a, version=[(1, 0), (2, 0), (3, 0)][k])
        open(name + '.bin', 'wb').write(a.tobytes())
"#;
    let codes: Vec<&str> = DTYPES.iter().map(|(c, _)| *c).collect();
    python(script, &[d, &codes.join(",")]);
    let shapes: [&[u64]; 3] = [&[37], &[6, 5], &[4, 3, 2]];
    for (code, dtype) in DTYPES {
        for (k, shape) in shapes.iter().enumerate() {
            let base = format!("{d}/{}-{k}", code.replace('?', "b"));
            let a = Array::open_npy(format!("{base}.npy"), true).unwrap();
            assert_eq!((a.kind(), a.dtype(), a.byte_swapped()), (Kind::Npy, dtype, false), "{base}");
            assert_eq!(a.shape(), shape.to_vec(), "{base}");
            let want = std::fs::read(format!("{base}.bin")).unwrap();
            let mut got = vec![0u8; want.len()];
            // SAFETY: got holds len() elements of itemsize bytes.
            unsafe { a.read_raw(0, a.len(), got.as_mut_ptr()).unwrap() };
            assert_eq!(got, want, "{base}");
            let u =
                Array::attach(format!("npy://{base}.npy"), Options { read_only: true, ..Options::default() })
                    .unwrap();
            assert_eq!(u.len(), a.len());
        }
    }
    // Writes through a writable handle are what numpy.load reads.
    let w = Array::open_npy(format!("{d}/i4-1.npy"), false).unwrap();
    w.write_from(0, &[1i32, -2, 3]).unwrap();
    w.set(29, 99i32).unwrap();
    w.msync(true, false).unwrap();
    assert_eq!(w.push(1i32).unwrap_err().kind(), ErrorKind::InvalidArgument);
    drop(w);
    let out = python(
        "import sys, numpy as np; a = np.load(sys.argv[1], mmap_mode='r'); print(a.shape, a[0].tolist(), a[5, 4])",
        &[&format!("{d}/i4-1.npy")],
    );
    assert!(out.starts_with("(6, 5) [1, -2, 3, "), "{out}");
    assert!(out.trim().ends_with(" 99"), "{out}");
}

#[test]
fn big_endian_npy_opens_read_only_as_stored_and_fortran_order_is_refused() {
    let dir = TempDir::new("npy-order");
    let d = dir.0.to_str().unwrap();
    python(
        r#"
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/be.npy', np.arange(1000, dtype='>i4'))
np.save(d + '/bec.npy', (np.arange(10) + 2j).astype('>c16'))
np.save(d + '/f.npy', np.asfortranarray(np.arange(12, dtype='<f8').reshape(3, 4)))
np.save(d + '/f1.npy', np.asfortranarray(np.arange(12, dtype='<f8')))
np.save(d + '/obj.npy', np.array([1, 'a'], dtype=object), allow_pickle=True)
np.save(d + '/rec.npy', np.zeros(3, dtype=[('a', '<i4'), ('b', '<f8')]))
np.save(d + '/zero.npy', np.array(7, dtype='<u2'))
"#,
        &[d],
    );
    let be = Array::open_npy(format!("{d}/be.npy"), true).unwrap();
    assert!(be.byte_swapped() && be.is_read_only());
    let vals: Vec<i32> = be.to_vec::<i32>().unwrap().into_iter().map(i32::swap_bytes).collect();
    assert_eq!(vals, (0..1000).collect::<Vec<i32>>());
    let e = Array::open_npy(format!("{d}/be.npy"), false).unwrap_err();
    assert!(e.kind() == ErrorKind::InvalidArgument && e.to_string().contains("byte order"), "{e}");
    let c = Array::open_npy(format!("{d}/bec.npy"), true).unwrap();
    assert_eq!(c.len(), 10);
    let z = Array::open_npy(format!("{d}/zero.npy"), true).unwrap();
    assert_eq!((z.len(), z.get::<u16>(0).unwrap()), (1, 7));
    // Fortran order matters only from two dimensions on.
    let e = Array::open_npy(format!("{d}/f.npy"), true).unwrap_err();
    assert!(e.kind() == ErrorKind::InvalidArgument && e.to_string().contains("Fortran"), "{e}");
    assert_eq!(Array::open_npy(format!("{d}/f1.npy"), true).unwrap().len(), 12);
    for (f, word) in [("obj", "object"), ("rec", "structured")] {
        let e = Array::open_npy(format!("{d}/{f}.npy"), true).unwrap_err();
        assert!(e.to_string().contains(word), "{f}: {e}");
    }
    // Data cut short: corrupt. Not an npy file: corrupt.
    let full = std::fs::read(format!("{d}/be.npy")).unwrap();
    std::fs::write(format!("{d}/short.npy"), &full[..full.len() - 4]).unwrap();
    let e = Array::open_npy(format!("{d}/short.npy"), true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    std::fs::write(format!("{d}/junk.npy"), b"not an npy file at all").unwrap();
    assert_eq!(Array::open_npy(format!("{d}/junk.npy"), true).unwrap_err().kind(), ErrorKind::Corrupt);
    std::fs::write(format!("{d}/empty.npy"), b"").unwrap();
    assert_eq!(Array::open_npy(format!("{d}/empty.npy"), true).unwrap_err().kind(), ErrorKind::Corrupt);
}

/// A C program writes a raw file of random data; another C program maps it with raw:// and
/// with mba_attach_raw_fd and checks every value, sub-ranges, rounding and refusals.
#[test]
fn c_reads_the_raw_file_a_c_program_wrote() {
    let prog = build("tests/c/raw.c");
    let dir = TempDir::new("raw-c");
    let path = dir.0.join("random.u64");
    let p = path.to_str().unwrap();
    assert_eq!(run_ok(&prog, &["write", p, "100000"]), "raw ok wrote 100000\n");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 800_000);
    assert_eq!(run_ok(&prog, &["read", p, "100000"]), "raw ok read 100000\n");
    let npy = dir.0.join("ints.npy");
    python(
        "import sys, numpy as np; np.save(sys.argv[1], np.arange(5000, dtype='<i4'))",
        &[npy.to_str().unwrap()],
    );
    assert_eq!(run_ok(&prog, &["npy", npy.to_str().unwrap()]), "raw ok npy 5000\n");
    assert!(Path::new(p).exists());
}

#[test]
fn cplusplus_open_raw_and_open_npy() {
    let prog =
        common::cprog::build_with("tests/cpp/raw_test.cpp", "cpp_raw_test", &["-xc++", "-std=c++17"], false);
    let dir = TempDir::new("cpp-raw");
    let npy = dir.0.join("ints.npy");
    python(
        "import sys, numpy as np; np.save(sys.argv[1], np.arange(5000, dtype='<i4'))",
        &[npy.to_str().unwrap()],
    );
    assert_eq!(run_ok(&prog, &[dir.0.to_str().unwrap(), npy.to_str().unwrap()]), "cpp raw ok\n");
}

/// The C ABI's edges: options of raw:// refused elsewhere, callers built against the
/// mba_options of before offset/length, MBA_SAME_OWNER, NULL handles.
#[test]
fn c_abi_options_same_owner_and_null_handles() {
    use mba::ffi::*;
    use std::ffi::CString;
    use std::os::unix::fs::chown;
    let dir = TempDir::new("raw-abi");
    let path = dir.0.join("d.bin");
    std::fs::write(&path, random_bytes(64, 1)).unwrap();
    let raw_uri = CString::new(format!("raw://{}", path.display())).unwrap();
    let mut o = mba_options::default();
    mba_options_init(&mut o);
    assert_eq!((o.offset, o.length), (0, 0));
    let mut h: *mut mba_array = std::ptr::null_mut();
    // offset/length on a create or an ordinary attach: refused.
    o.offset = 8;
    let shm = CString::new(format!("shm://mba-raw-abi-{}", std::process::id())).unwrap();
    assert_eq!(mba_attach_ex(shm.as_ptr(), &o, &mut h), MBA_ERR_INVALID_ARGUMENT);
    o.dtype = MBA_U8;
    assert_eq!(mba_create_ex(shm.as_ptr(), &o, &mut h), MBA_ERR_INVALID_ARGUMENT);
    assert!(h.is_null());
    // A struct of the size before offset/length were added: read as offset = length = 0.
    o.struct_size = std::mem::offset_of!(mba_options, offset) as u32;
    o.flags = MBA_READ_ONLY;
    assert_eq!(mba_attach_ex(raw_uri.as_ptr(), &o, &mut h), MBA_OK);
    assert_eq!((mba_len(h), mba_kind(h), mba_byte_order(h)), (64, MBA_KIND_RAW, 0));
    assert_eq!(mba_free(h), MBA_OK);
    h = std::ptr::null_mut();
    o.struct_size = 8;
    assert_eq!(mba_attach_ex(raw_uri.as_ptr(), &o, &mut h), MBA_ERR_INVALID_ARGUMENT);
    mba_options_init(&mut o);
    // Flags raw:// does not know; MBA_EXCLUSIVE (no lease in a raw file).
    o.dtype = MBA_U8;
    o.flags = MBA_EXCLUSIVE;
    assert_eq!(mba_attach_ex(raw_uri.as_ptr(), &o, &mut h), MBA_ERR_INVALID_ARGUMENT);
    // MBA_SAME_OWNER: a file of another user is refused, with raw://, npy:// and a descriptor.
    o.flags = MBA_READ_ONLY | MBA_SAME_OWNER;
    assert_eq!(mba_attach_ex(raw_uri.as_ptr(), &o, &mut h), MBA_OK);
    assert_eq!(mba_free(h), MBA_OK);
    h = std::ptr::null_mut();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        chown(&path, Some(65534), Some(65534)).unwrap();
        assert_eq!(mba_attach_ex(raw_uri.as_ptr(), &o, &mut h), MBA_ERR_PERMISSION);
        let f = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(mba_attach_raw_fd(f.as_raw_fd(), &o, &mut h), MBA_ERR_PERMISSION);
        o.flags = MBA_READ_ONLY;
        assert_eq!(mba_attach_raw_fd(f.as_raw_fd(), &o, &mut h), MBA_OK);
        assert_eq!(mba_free(h), MBA_OK);
        h = std::ptr::null_mut();
        let npy = dir.0.join("a.npy");
        python("import sys, numpy as np; np.save(sys.argv[1], np.arange(3))", &[npy.to_str().unwrap()]);
        chown(&npy, Some(65534), Some(65534)).unwrap();
        let e = Array::attach(
            format!("npy://{}", npy.display()),
            Options { same_owner: true, read_only: true, ..Options::default() },
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    }
    assert!(h.is_null(), "no output written on failure");
    assert_eq!(mba_kind(std::ptr::null()), 0);
    assert_eq!(mba_byte_order(std::ptr::null()), MBA_ERR_NULL_POINTER);
    assert_eq!(mba_attach_raw_fd(-1, &o, &mut h), MBA_ERR_INVALID_ARGUMENT);
    assert_eq!(mba_attach_raw_fd(0, std::ptr::null(), &mut h), MBA_ERR_NULL_POINTER);
}

fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

/// Headers that lie: shapes whose data overflows or passes the file, dtypes mba does not have,
/// an empty axis after the first; an empty raw file.
#[test]
fn hostile_npy_headers_and_empty_files_are_errors() {
    let dir = TempDir::new("npy-hostile");
    let p = dir.0.join("h.npy");
    let cases: [(&str, ErrorKind); 6] = [
        (
            "{'descr': '<i4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }",
            ErrorKind::Corrupt,
        ),
        ("{'descr': '<i4', 'fortran_order': False, 'shape': (1000000, ), }", ErrorKind::Corrupt),
        ("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 0), }", ErrorKind::InvalidArgument),
        ("{'descr': '<f16', 'fortran_order': False, 'shape': (1, ), }", ErrorKind::InvalidArgument),
        ("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1, ), }", ErrorKind::InvalidArgument),
        ("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }", ErrorKind::InvalidArgument),
    ];
    for (dict, kind) in cases {
        std::fs::write(&p, npy_bytes(dict, &[0u8; 64])).unwrap();
        match Array::open_npy(&p, true) {
            Err(e) => assert!(e.kind() == kind || e.kind() == ErrorKind::Corrupt, "{dict}: {e}"),
            Ok(a) => panic!("{dict}: opened with len {}", a.len()),
        }
    }
    // An honest one, hand-made: opens, and the empty first axis too.
    std::fs::write(&p, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 4), }", &[1u8; 64]))
        .unwrap();
    assert_eq!(Array::open_npy(&p, true).unwrap().shape(), vec![4, 4]);
    std::fs::write(&p, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (0, 4), }", &[]))
        .unwrap();
    let z = Array::open_npy(&p, true).unwrap();
    assert_eq!((z.len(), z.shape()), (0, vec![0, 4]));
    assert_eq!(z.get::<i32>(0).unwrap_err().kind(), ErrorKind::OutOfBounds);
    // An empty file whose row overflows 64 bits (2^63 + 1 times 2 bytes): no rows to count, so
    // only the row's size shows it. The writer refuses it, rather than wrapping to 2-byte rows
    // and appending data that no reader could then open.
    std::fs::write(
        &p,
        npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 9223372036854775809, 2), }", &[]),
    )
    .unwrap();
    let e = mba::npy::NpyWriter::open(&p).map(|_| ()).unwrap_err();
    assert!(e.kind() == ErrorKind::Corrupt && e.to_string().contains("overflows"), "{e}");
    let e = dir.0.join("empty.bin");
    std::fs::write(&e, b"").unwrap();
    let a = Array::open_raw(&e, &RawOptions { read_only: false, ..raw(Dtype::F64) }).unwrap();
    assert_eq!((a.len(), a.to_vec::<f64>().unwrap()), (0, vec![]));
    a.msync(true, false).unwrap();
}
